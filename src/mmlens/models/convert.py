"""Load an open_clip CLIP into :class:`mmlens.models.CLIP` (same weights, same embeddings).

Our parameter names follow open_clip's, with three differences the key map spells out:

* the text tower lives under ``text.`` (open_clip's ``CLIP`` keeps it at the top level);
* ``transformer.resblocks.{i}`` is ``transformer.blocks.{i}``;
* ``attn.in_proj_weight`` / ``attn.in_proj_bias`` (``nn.MultiheadAttention``) is the ``attn.in_proj``
  Linear, with the same ``[W_q; W_k; W_v]`` row layout, so the tensors copy unchanged.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmlens.models.clip import CLIP, CLIPConfig
from mmlens.models.text import TextConfig
from mmlens.models.vit import VisionConfig


def _block_keys(ours: str, theirs: str, layers: int, layer_scale: bool) -> dict[str, str]:
    keys = {}
    for i in range(layers):
        o, t = f"{ours}.blocks.{i}", f"{theirs}.resblocks.{i}"
        keys[f"{o}.attn.in_proj.weight"] = f"{t}.attn.in_proj_weight"
        keys[f"{o}.attn.in_proj.bias"] = f"{t}.attn.in_proj_bias"
        for name in ("attn.out_proj", "ln_1", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            keys[f"{o}.{name}.weight"] = f"{t}.{name}.weight"
            keys[f"{o}.{name}.bias"] = f"{t}.{name}.bias"
        if layer_scale:
            keys[f"{o}.ls_1.gamma"] = f"{t}.ls_1.gamma"
            keys[f"{o}.ls_2.gamma"] = f"{t}.ls_2.gamma"
    return keys


def open_clip_key_map(config: CLIPConfig, custom_text: bool = False) -> dict[str, str]:
    """Map each of our parameter names to its open_clip name.

    Args:
        config: our model's architecture.
        custom_text: the open_clip model is a ``CustomTextCLIP`` (text tower under ``text.``).

    Returns:
        ``{our_name: open_clip_name}`` covering every parameter of ``CLIP(config)``.
    """
    v, t = config.vision, config.text
    keys = {
        "logit_scale": "logit_scale",
        "visual.conv1.weight": "visual.conv1.weight",
        "visual.class_embedding": "visual.class_embedding",
        "visual.positional_embedding": "visual.positional_embedding",
        "visual.ln_post.weight": "visual.ln_post.weight",
        "visual.ln_post.bias": "visual.ln_post.bias",
        "visual.proj": "visual.proj",
    }
    if config.init_logit_bias is not None:
        keys["logit_bias"] = "logit_bias"
    if not v.no_ln_pre:
        keys["visual.ln_pre.weight"] = "visual.ln_pre.weight"
        keys["visual.ln_pre.bias"] = "visual.ln_pre.bias"
    keys.update(_block_keys("visual.transformer", "visual.transformer", v.layers, v.ls_init_value is not None))

    prefix = "text." if custom_text else ""
    text_keys = {
        "token_embedding.weight": "token_embedding.weight",
        "positional_embedding": "positional_embedding",
        "ln_final.weight": "ln_final.weight",
        "ln_final.bias": "ln_final.bias",
    }
    if t.proj_bias:
        text_keys["text_projection.weight"] = "text_projection.weight"
        text_keys["text_projection.bias"] = "text_projection.bias"
    else:
        text_keys["text_projection"] = "text_projection"
    text_keys.update(_block_keys("transformer", "transformer", t.layers, t.ls_init_value is not None))
    keys.update({f"text.{o}": prefix + th for o, th in text_keys.items()})
    return keys


def _unsupported(what: str) -> ValueError:
    return ValueError(f"open_clip model not supported by mmlens.models: {what}; use open_clip itself for it")


def _transformer_cfg(transformer: nn.Module, tower: str) -> dict[str, Any]:
    """Read width, layers, heads, mlp_ratio, LayerScale and activation off an open_clip Transformer."""
    from open_clip.transformer import LayerScale, QuickGELU, ResidualAttentionBlock

    blocks = transformer.resblocks
    block = blocks[0]
    if type(block) is not ResidualAttentionBlock or hasattr(block, "ln_1_kv"):
        raise _unsupported(f"{tower} uses {type(block).__name__} blocks (custom attention / qk-norm / cross-attn)")
    width = block.ln_1.normalized_shape[0]
    act = block.mlp.gelu
    if isinstance(act, QuickGELU):
        quick_gelu, approximate = True, "none"
    elif isinstance(act, nn.GELU):
        quick_gelu, approximate = False, act.approximate
    else:
        raise _unsupported(f"{tower} MLP activation {type(act).__name__}")
    ls = None
    if isinstance(block.ls_1, LayerScale):
        ls = float(block.ls_1.gamma.detach().flatten()[0])  # any value: the loaded gammas overwrite it
    return dict(
        width=width,
        layers=len(blocks),
        heads=block.attn.num_heads,
        mlp_ratio=block.mlp.c_fc.out_features / width,
        ls_init_value=ls,
        norm_eps=block.ln_1.eps,
        quick_gelu=quick_gelu,
        gelu_approximate=approximate,
    )


def config_from_open_clip_model(oc_model: nn.Module) -> CLIPConfig:
    """Read the architecture of an open_clip ``CLIP`` or ``CustomTextCLIP`` instance.

    Args:
        oc_model: e.g. ``open_clip.create_model("ViT-B-32", pretrained=None)``.

    Returns:
        The matching :class:`CLIPConfig`.

    Raises:
        ValueError: for towers we do not implement (timm / ResNet image towers, Hugging Face text
            towers, attentional pooling, CoCa, custom attention blocks, patch dropout in training, ...).
    """
    import open_clip
    from open_clip.transformer import TextTransformer as OCText
    from open_clip.transformer import VisionTransformer as OCViT

    if isinstance(oc_model, open_clip.CoCa) or not isinstance(oc_model, (open_clip.CLIP, open_clip.CustomTextCLIP)):
        raise _unsupported(f"{type(oc_model).__name__} (expected open_clip.CLIP or CustomTextCLIP)")
    custom_text = isinstance(oc_model, open_clip.CustomTextCLIP)

    visual = oc_model.visual
    if not isinstance(visual, OCViT):
        raise _unsupported(f"image tower {type(visual).__name__} (only open_clip's VisionTransformer)")
    if visual.attn_pool is not None:
        raise _unsupported("attentional pooling in the image tower")
    if visual.pool_type not in ("tok", "avg") or visual.proj is None or getattr(visual, "output_tokens", False):
        raise _unsupported(f"image pool_type={visual.pool_type!r} / missing proj / output_tokens")
    if visual.training and not isinstance(visual.patch_dropout, nn.Identity):
        raise _unsupported("patch dropout while training (call .eval() first: it is the identity in eval)")
    vt = _transformer_cfg(visual.transformer, "image tower")
    if visual.image_size[0] != visual.image_size[1] or visual.patch_size[0] != visual.patch_size[1]:
        raise _unsupported(f"non-square image_size={visual.image_size} / patch_size={visual.patch_size}")
    vision = VisionConfig(
        image_size=visual.image_size[0],
        patch_size=visual.patch_size[0],
        width=vt["width"],
        layers=vt["layers"],
        head_width=vt["width"] // vt["heads"],
        mlp_ratio=vt["mlp_ratio"],
        ls_init_value=vt["ls_init_value"],
        no_ln_pre=isinstance(visual.ln_pre, nn.Identity),
        pool_type=visual.pool_type,
        final_ln_after_pool=visual.final_ln_after_pool,
        norm_eps=visual.ln_post.eps,
        gelu_approximate=vt["gelu_approximate"],
    )

    if custom_text:
        text_tower = oc_model.text
        if not isinstance(text_tower, OCText):
            raise _unsupported(f"text tower {type(text_tower).__name__} (Hugging Face or other non-native towers)")
        if text_tower.cls_emb is not None or text_tower.use_pad_mask or text_tower.output_tokens:
            raise _unsupported("text tower with a class embedding / padding mask / output_tokens")
        pool_type, eos_id, attn_mask = text_tower.pool_type, text_tower.eos_id, text_tower.attn_mask
    else:
        text_tower = oc_model
        pool_type, eos_id = oc_model.text_pool_type, getattr(oc_model, "text_eos_id", 2)
        attn_mask = oc_model.attn_mask
    if pool_type not in ("argmax", "eos", "first", "last"):
        raise _unsupported(f"text pool_type={pool_type!r}")
    proj = text_tower.text_projection
    if proj is None:
        raise _unsupported("text tower without a projection")
    tt = _transformer_cfg(text_tower.transformer, "text tower")
    if (tt["quick_gelu"], vt["quick_gelu"]) not in ((True, True), (False, False)):
        raise _unsupported("QuickGELU in one tower only")
    text = TextConfig(
        context_length=text_tower.positional_embedding.shape[0],
        vocab_size=text_tower.token_embedding.num_embeddings,
        width=tt["width"],
        heads=tt["heads"],
        layers=tt["layers"],
        mlp_ratio=tt["mlp_ratio"],
        ls_init_value=tt["ls_init_value"],
        causal=attn_mask is not None,
        pool_type=pool_type,
        eos_id=eos_id if eos_id is not None else 2,
        proj_bias=isinstance(proj, nn.Linear),
        norm_eps=text_tower.ln_final.eps,
        gelu_approximate=tt["gelu_approximate"],
    )
    if attn_mask is not None:
        expected = torch.full_like(attn_mask, float("-inf")).triu(1)
        if not torch.equal(attn_mask, expected):
            raise _unsupported("a text attention mask that is not the standard causal mask")
    if oc_model.logit_scale.ndim != 0:
        raise _unsupported("nonscalar_logit_scale=True")

    return CLIPConfig(
        embed_dim=visual.output_dim,
        vision=vision,
        text=text,
        quick_gelu=vt["quick_gelu"],
        init_logit_scale=float(oc_model.logit_scale.detach()),
        init_logit_bias=None if oc_model.logit_bias is None else float(oc_model.logit_bias.detach()),
    )


def from_open_clip(oc_model: nn.Module) -> CLIP:
    """Build our :class:`CLIP` from an open_clip model and copy its weights.

    Args:
        oc_model: an open_clip ``CLIP`` (or ``CustomTextCLIP`` with a native text tower), e.g.
            ``open_clip.create_model("ViT-B-32", pretrained=None)``.

    Returns:
        Our model in eval mode, float32, on the CPU, giving the same embeddings as ``oc_model``.

    Raises:
        ValueError: if ``oc_model`` uses parts we do not implement.
    """
    config = config_from_open_clip_model(oc_model)
    custom_text = not hasattr(oc_model, "token_embedding")
    theirs = oc_model.state_dict()
    key_map = open_clip_key_map(config, custom_text=custom_text)
    used = set(key_map.values())
    leftover = sorted(k for k in theirs if k not in used)
    if leftover:
        raise _unsupported(f"parameters we cannot place: {leftover[:5]}{' ...' if len(leftover) > 5 else ''}")
    with torch.device("meta"):  # build without allocating or initialising: every tensor is replaced below
        model = CLIP(config)
    ours = {name: theirs[oc_name].detach().to("cpu", torch.float32, copy=True) for name, oc_name in key_map.items()}
    model.load_state_dict(ours, strict=True, assign=True)
    return model.eval()
