"""From-scratch, readable CLIP: attention, transformer block, ViT, text tower, two-tower model.

Each file holds one concept (``attention.py``, ``transformer.py``, ``vit.py``, ``text.py``,
``clip.py``); ``convert.py`` loads open_clip weights so the tests can prove our model computes the
same embeddings as open_clip.

Example::

    import open_clip
    from mmlens.models import from_open_clip

    oc_model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    model = from_open_clip(oc_model)  # same weights, same embeddings (to 1e-5)
    image_emb = model.encode_image(images, normalize=True)  # (B, 512)
"""
from mmlens.models.attention import MultiHeadAttention, causal_mask, merge_masks, scaled_dot_product_attention
from mmlens.models.clip import CLIP, CLIPConfig
from mmlens.models.convert import config_from_open_clip_model, from_open_clip, open_clip_key_map
from mmlens.models.text import TextConfig, TextTransformer, pool_text
from mmlens.models.transformer import MLP, LayerScale, QuickGELU, Transformer, TransformerBlock
from mmlens.models.vit import VisionConfig, VisionTransformer

__all__ = [
    "CLIP",
    "CLIPConfig",
    "LayerScale",
    "MLP",
    "MultiHeadAttention",
    "QuickGELU",
    "TextConfig",
    "TextTransformer",
    "Transformer",
    "TransformerBlock",
    "VisionConfig",
    "VisionTransformer",
    "causal_mask",
    "config_from_open_clip_model",
    "from_open_clip",
    "merge_masks",
    "open_clip_key_map",
    "pool_text",
    "scaled_dot_product_attention",
]
