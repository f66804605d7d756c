"""mmlens.models: attention behaves as written, and our CLIP equals open_clip's on the same weights."""
from __future__ import annotations

import functools
import json
import math

import open_clip
import pytest
import torch
from torch import nn

from mmlens.models import (
    CLIP,
    CLIPConfig,
    MultiHeadAttention,
    TextConfig,
    VisionConfig,
    config_from_open_clip_model,
    from_open_clip,
    open_clip_key_map,
    scaled_dot_product_attention,
)

torch.set_num_threads(2)
ATOL = 1e-5


def _perturb(model: nn.Module, seed: int = 0, std: float = 0.02) -> nn.Module:
    """Add noise to every parameter so LayerNorm weights, biases and gammas are not all 1 or 0.

    With default initialisation a swapped ln_1/ln_2 or a dropped bias would go unnoticed.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(std * torch.randn(p.shape, generator=g))
    return model


def _images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@functools.lru_cache(maxsize=1)
def _tokens() -> torch.Tensor:
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    return tokenizer(["a photo of a cat", "a small red triangle to the left of a large blue circle"])


def _assert_same_embeddings(
    oc_model: nn.Module, model: CLIP, image_size: int, tokens: torch.Tensor, full: bool = True
) -> None:
    """Raw embeddings equal; with ``full`` also normalised ones and ``forward``'s outputs."""
    images = _images(2, image_size)
    with torch.no_grad():
        for normalize in (False, True) if full else (False,):
            oc_img = oc_model.encode_image(images, normalize=normalize)
            our_img = model.encode_image(images, normalize=normalize)
            oc_txt = oc_model.encode_text(tokens, normalize=normalize)
            our_txt = model.encode_text(tokens, normalize=normalize)
            assert our_img.shape == oc_img.shape and our_txt.shape == oc_txt.shape
            assert (our_img - oc_img).abs().max().item() <= ATOL
            assert (our_txt - oc_txt).abs().max().item() <= ATOL
        if not full:
            return
        oc_out, our_out = oc_model(images, tokens), model(images, tokens)
        assert len(oc_out) == len(our_out)
        for a, b in zip(oc_out, our_out):
            assert (a - b).abs().max().item() <= ATOL


# ---------------------------------------------------------------- attention

def _qkv(B=2, H=3, Tq=5, Tk=5, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, Tq, d, generator=g), torch.randn(B, H, Tk, d, generator=g),
            torch.randn(B, H, Tk, d, generator=g))


def test_attention_weights_are_softmax_of_scaled_scores():
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    assert weights.shape == (2, 3, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(out, expected @ v)


def test_module_weights_match_manual_recomputation_from_its_projections():
    torch.manual_seed(0)
    attn = MultiHeadAttention(d_model=12, n_heads=3)
    x = torch.randn(2, 6, 12)
    _, weights = attn(x, need_weights=True)
    q, k, _ = attn.in_proj(x).split(12, dim=-1)
    q = q.view(2, 6, 3, 4).transpose(1, 2)
    k = k.view(2, 6, 3, 4).transpose(1, 2)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 6))


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "causal+bool", "padding", "causal+padding"])
def test_fused_path_equals_manual_path(mask_kind):
    torch.manual_seed(1)
    attn = MultiHeadAttention(d_model=16, n_heads=4)
    x = torch.randn(3, 7, 16)
    kwargs = {}
    if "bool" in mask_kind:
        allowed = torch.rand(7, 7) > 0.3
        allowed.fill_diagonal_(True)  # every query keeps at least one key
        kwargs["attn_mask"] = allowed
    if mask_kind == "float":
        kwargs["attn_mask"] = torch.randn(7, 7)
    if "causal" in mask_kind:
        kwargs["is_causal"] = True
    if "padding" in mask_kind:
        pad = torch.zeros(3, 7, dtype=torch.bool)
        pad[1, 5:] = True
        pad[2, 3:] = True
        kwargs["key_padding_mask"] = pad
    fused, none = attn(x, **kwargs)
    manual, weights = attn(x, need_weights=True, **kwargs)
    assert none is None and weights.shape == (3, 4, 7, 7)
    torch.testing.assert_close(fused, manual, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cross", [False, True])
def test_attention_equals_torch_multihead_attention(cross):
    torch.manual_seed(2)
    ours = MultiHeadAttention(d_model=16, n_heads=4)
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.in_proj.weight)
        ref.in_proj_bias.copy_(ours.in_proj.bias)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 5, 16)
    context = torch.randn(2, 8, 16) if cross else x
    pad = torch.zeros(2, context.shape[1], dtype=torch.bool)
    pad[0, -2:] = True
    ref_out, ref_w = ref(x, context, context, key_padding_mask=pad, need_weights=True, average_attn_weights=False)
    out, w = ours(x, context if cross else None, key_padding_mask=pad, need_weights=True)
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)


def test_causal_mask_prevents_attending_to_the_future():
    torch.manual_seed(3)
    attn = MultiHeadAttention(d_model=8, n_heads=2)
    x = torch.randn(1, 6, 8)
    out, weights = attn(x, is_causal=True, need_weights=True)
    future = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert weights[..., future].abs().max().item() == 0.0
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 2, 6))
    x_changed = x.clone()
    x_changed[:, 4:] += 10.0  # change only the last two tokens
    for need_weights in (False, True):
        out_changed, _ = attn(x_changed, is_causal=True, need_weights=need_weights)
        torch.testing.assert_close(out_changed[:, :4], out[:, :4])
        assert not torch.allclose(out_changed[:, 4:], out[:, 4:])


def test_cross_attention_shapes_and_context_dependence():
    torch.manual_seed(4)
    attn = MultiHeadAttention(d_model=12, n_heads=3)
    x, context = torch.randn(2, 4, 12), torch.randn(2, 9, 12)
    out, weights = attn(x, context, need_weights=True)
    assert out.shape == (2, 4, 12)
    assert weights.shape == (2, 3, 4, 9)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 4))
    fused, _ = attn(x, context)
    torch.testing.assert_close(fused, out, atol=1e-6, rtol=1e-5)
    out_other, _ = attn(x, torch.randn(2, 9, 12))
    assert not torch.allclose(out_other, out)


def test_key_padding_mask_ignores_padded_keys():
    torch.manual_seed(5)
    attn = MultiHeadAttention(d_model=8, n_heads=2)
    context = torch.randn(2, 6, 8)
    x = torch.randn(2, 3, 8)
    pad = torch.tensor([[False] * 4 + [True] * 2, [False] * 6])
    out, weights = attn(x, context, key_padding_mask=pad, need_weights=True)
    assert weights[0, :, :, 4:].abs().max().item() == 0.0
    assert weights[1, :, :, 4:].min().item() > 0.0
    changed = context.clone()
    changed[0, 4:] = 100.0  # whatever sits in the padding must not matter
    for need_weights in (False, True):
        out_changed, _ = attn(x, changed, key_padding_mask=pad, need_weights=need_weights)
        torch.testing.assert_close(out_changed[0], out[0], atol=1e-6, rtol=1e-5)
    with pytest.raises(TypeError, match="bool"):
        attn(x, context, key_padding_mask=pad.float())
    with pytest.raises(ValueError, match="key_padding_mask"):
        attn(x, context, key_padding_mask=pad[:, :5])


def test_attention_rejects_bad_shapes():
    attn = MultiHeadAttention(d_model=8, n_heads=2)
    with pytest.raises(ValueError, match="d_model=8"):
        attn(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="context"):
        attn(torch.randn(2, 3, 8), torch.randn(3, 4, 8))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(d_model=10, n_heads=3)


# ---------------------------------------------------------------- equality with open_clip

TINY = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2},
}

VARIANTS = {
    "plain": {},
    "layerscale-quickgelu-bias": {
        "quick_gelu": True,
        "init_logit_bias": -10.0,
        "vision_cfg": {"ls_init_value": 1e-4, "mlp_ratio": 2.0},
        "text_cfg": {"ls_init_value": 1e-4, "proj_bias": True},
    },
    "siglip-like": {  # custom_text, no causal mask, last-token pooling, tanh GELU, eps 1e-6, avg pool
        "custom_text": True,
        "init_logit_bias": -10.0,
        "vision_cfg": {"no_ln_pre": True, "pool_type": "avg", "final_ln_after_pool": True,
                       "norm_kwargs": {"eps": 1e-6}, "act_kwargs": {"approximate": "tanh"}},
        "text_cfg": {"no_causal_mask": True, "pool_type": "last", "norm_kwargs": {"eps": 1e-6},
                     "act_kwargs": {"approximate": "tanh"}},
    },
    "eos-pool": {"text_cfg": {"pool_type": "eos", "eos_id": 49407}},
}


def _variant_cfg(variant: str) -> dict:
    cfg = json.loads(json.dumps(TINY))
    for key, value in VARIANTS[variant].items():
        if isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("open_clip_configs")
    for variant in VARIANTS:
        (folder / f"mmlens-tiny-{variant}.json").write_text(json.dumps(_variant_cfg(variant)))
    open_clip.add_model_config(folder)
    return folder


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tiny_configs_match_open_clip(tiny_registry, variant):
    torch.manual_seed(0)
    oc_model = _perturb(open_clip.create_model(f"mmlens-tiny-{variant}", pretrained=None)).eval()
    model = from_open_clip(oc_model)
    assert config_from_open_clip_model(oc_model).to_dict() == model.config.to_dict()
    # the JSON route builds the same architecture (LayerScale values differ: the instance route reads
    # the perturbed gammas), hence the same parameter names and shapes
    from_json = CLIP(CLIPConfig.from_open_clip(_variant_cfg(variant)))
    assert {k: v.shape for k, v in from_json.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    _assert_same_embeddings(oc_model, model, 32, _tokens())


def test_config_from_json_reads_fields():
    cfg = CLIPConfig.from_open_clip(_variant_cfg("layerscale-quickgelu-bias"))
    assert cfg.embed_dim == 24 and cfg.quick_gelu and cfg.init_logit_bias == -10.0
    assert cfg.vision == VisionConfig(image_size=32, patch_size=8, width=32, layers=2, head_width=8,
                                      mlp_ratio=2.0, ls_init_value=1e-4)
    assert cfg.vision.heads == 4 and cfg.vision.grid_size == 4
    assert cfg.text == TextConfig(width=32, heads=4, layers=2, ls_init_value=1e-4, proj_bias=True)
    assert CLIPConfig.from_dict(cfg.to_dict()) == cfg
    vit_b_32 = CLIPConfig.from_open_clip(open_clip.get_model_config("ViT-B-32"))
    assert (vit_b_32.vision.width, vit_b_32.vision.patch_size, vit_b_32.vision.heads) == (768, 32, 12)
    assert CLIPConfig.from_open_clip(open_clip.get_model_config("ViT-B-32-quickgelu")).quick_gelu


@pytest.mark.parametrize("name", ["ViT-B-32", "ViT-B-16"])
def test_real_architectures_match_open_clip(name):
    torch.manual_seed(0)
    # default init (LayerNorms at 1/0): the tiny tests above check the mapping with perturbed weights
    oc_model = open_clip.create_model(name, pretrained=None).eval()
    model = from_open_clip(oc_model)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in oc_model.parameters())
    _assert_same_embeddings(oc_model, model, 224, _tokens(), full=False)


def test_forward_with_attention_returns_same_embedding_and_weights(tiny_registry):
    torch.manual_seed(0)
    model = from_open_clip(_perturb(open_clip.create_model("mmlens-tiny-plain", pretrained=None)).eval())
    images, tokens = _images(2, 32), _tokens()
    with torch.no_grad():
        img_emb, img_w = model.visual.forward_with_attention(images)
        txt_emb, txt_w = model.text.forward_with_attention(tokens)
        torch.testing.assert_close(img_emb, model.encode_image(images), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(txt_emb, model.encode_text(tokens), atol=1e-5, rtol=1e-5)
    assert len(img_w) == 2 and img_w[0].shape == (2, 4, 17, 17)  # 1 class token + 4x4 patches
    assert len(txt_w) == 2 and txt_w[0].shape == (2, 4, 77, 77)
    assert txt_w[0][..., torch.ones(77, 77, dtype=torch.bool).triu(1)].abs().max().item() == 0.0
    torch.testing.assert_close(img_w[1].sum(-1), torch.ones(2, 4, 17))


def test_key_map_covers_every_parameter():
    cfg = CLIPConfig.from_open_clip(_variant_cfg("layerscale-quickgelu-bias"))
    assert set(open_clip_key_map(cfg)) == set(dict(CLIP(cfg).named_parameters()))
    assert open_clip_key_map(cfg)["text.transformer.blocks.1.attn.in_proj.weight"] == \
        "transformer.resblocks.1.attn.in_proj_weight"
    assert open_clip_key_map(cfg, custom_text=True)["text.ln_final.bias"] == "text.ln_final.bias"


def test_unsupported_open_clip_variants_raise(tmp_path):
    bad = [
        ({"vision_cfg": {"timm_model_name": "vit_base_patch16_224"}}, "timm_model_name"),
        ({"text_cfg": {"hf_model_name": "roberta-base"}}, "hf_model_name"),
        ({"vision_cfg": {"attentional_pool": True}}, "attentional_pool"),
        ({"multimodal_cfg": {"width": 32}}, "multimodal_cfg"),
        ({"vision_cfg": {"layers": [1, 1, 1, 1]}}, "ResNet"),
        ({"vision_cfg": {"mystery_option": 1}}, "unknown"),
    ]
    for change, message in bad:
        cfg = json.loads(json.dumps(TINY))
        for key, value in change.items():
            if key in cfg and isinstance(value, dict):
                cfg[key].update(value)
            else:
                cfg[key] = value
        with pytest.raises(ValueError, match=message):
            CLIPConfig.from_open_clip(cfg)
    # the same from live open_clip models: attentional pooling and a ResNet image tower
    attn_pool = json.loads(json.dumps(TINY))
    attn_pool["vision_cfg"].update(attentional_pool=True, attn_pooler_heads=4, attn_pooler_queries=4)
    resnet = json.loads(json.dumps(TINY))
    resnet["vision_cfg"] = {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "head_width": 8}
    (tmp_path / "mmlens-bad-attnpool.json").write_text(json.dumps(attn_pool))
    (tmp_path / "mmlens-bad-resnet.json").write_text(json.dumps(resnet))
    open_clip.add_model_config(tmp_path)
    for name, message in [("mmlens-bad-attnpool", "attentional pooling"), ("mmlens-bad-resnet", "ModifiedResNet")]:
        with pytest.raises(ValueError, match=message):
            from_open_clip(open_clip.create_model(name, pretrained=None))
    with pytest.raises(ValueError, match="expected open_clip.CLIP"):
        from_open_clip(nn.Linear(2, 2))


def test_model_rejects_bad_inputs():
    model = CLIP(CLIPConfig.from_open_clip(TINY))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model.encode_image(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="77"):
        model.encode_text(torch.zeros(2, 80, dtype=torch.long))
    with pytest.raises(ValueError, match="patch_size"):
        VisionConfig(image_size=30, patch_size=8)
