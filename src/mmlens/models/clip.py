"""CLIP: an image tower and a text tower projecting into one space, plus a learned temperature."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmlens.models.text import TextConfig, TextTransformer
from mmlens.models.vit import VisionConfig, VisionTransformer

# open_clip config keys, sorted by how we treat them. Keys that change the architecture but that
# we do not implement are accepted only at their neutral (open_clip default) value.
_VISION_KEYS = {
    "image_size", "patch_size", "width", "layers", "head_width", "mlp_ratio", "ls_init_value",
    "no_ln_pre", "pool_type", "final_ln_after_pool", "norm_kwargs", "act_kwargs",
}
_VISION_IGNORED = {  # training-only or output-format options: no effect on the embeddings
    "patch_dropout", "output_tokens", "attn_pooler_queries", "attn_pooler_heads", "timm_model_pretrained",
    "timm_pool", "timm_proj", "timm_proj_bias", "timm_drop", "timm_drop_path",
}
_VISION_NEUTRAL = {
    "attentional_pool": False, "timm_model_name": None, "pos_embed_type": "learnable", "block_type": None,
    "qk_norm": False, "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
    "scale_attn": False, "scale_fc": False,
}
_TEXT_KEYS = {
    "context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio", "ls_init_value",
    "no_causal_mask", "pool_type", "eos_id", "proj_bias", "norm_kwargs", "act_kwargs",
}
_TEXT_IGNORED = {
    "hf_tokenizer_name", "tokenizer_mode", "tokenizer_kwargs", "pad_id", "output_tokens",
    "hf_model_pretrained", "hf_proj_type", "hf_pooler_type",
}
_TEXT_NEUTRAL = {
    "hf_model_name": None, "embed_cls": False, "proj_type": "linear", "block_type": None, "qk_norm": False,
    "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False, "scale_attn": False,
    "scale_fc": False,
}
_TOP_KEYS = {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", "init_logit_scale", "init_logit_bias"}
_TOP_IGNORED = {"custom_text"}  # only says where open_clip stores the text tower
_TOP_NEUTRAL = {"multimodal_cfg": None, "nonscalar_logit_scale": False}


def _check_keys(section: str, cfg: dict, known: set, ignored: set, neutral: dict) -> None:
    for key, value in cfg.items():
        if key in known or key in ignored:
            continue
        if key in neutral:
            if value != neutral[key] and not (key == "block_type" and value == "default"):
                raise ValueError(
                    f"open_clip option {section}.{key}={value!r} is not supported by mmlens.models "
                    f"(only {neutral[key]!r}); use open_clip itself for this architecture"
                )
            continue
        raise ValueError(f"unknown open_clip option {section}.{key}={value!r}; mmlens.models cannot build it")


def _norm_eps(section: str, norm_kwargs: dict | None) -> float:
    norm_kwargs = dict(norm_kwargs or {})
    eps = norm_kwargs.pop("eps", 1e-5)
    if norm_kwargs:
        raise ValueError(f"{section}.norm_kwargs supports only 'eps', got extra {norm_kwargs}")
    return float(eps)


def _gelu_approximate(section: str, act_kwargs: dict | None) -> str:
    act_kwargs = dict(act_kwargs or {})
    approximate = act_kwargs.pop("approximate", "none")
    if act_kwargs or approximate not in ("none", "tanh"):
        raise ValueError(f"{section}.act_kwargs supports only approximate='none'|'tanh', got {act_kwargs}")
    return approximate


def _side(section: str, name: str, value: Any) -> int:
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"{section}.{name}={value!r}: only square sizes are supported")
        value = value[0]
    return int(value)


@dataclass
class CLIPConfig:
    """Architecture of a two-tower CLIP (mirrors an open_clip JSON model config).

    Attributes:
        embed_dim: width of the shared image-text embedding space.
        vision: the image tower.
        text: the text tower.
        quick_gelu: both towers use QuickGELU (OpenAI's original checkpoints).
        init_logit_scale: initial ``log`` of the logit scale (``log(1/0.07)``: temperature 0.07).
        init_logit_bias: initial logit bias for SigLIP-style models, or ``None`` for no bias.
    """

    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    quick_gelu: bool = False
    init_logit_scale: float = math.log(1 / 0.07)
    init_logit_bias: float | None = None

    @classmethod
    def from_open_clip(cls, cfg: dict[str, Any], quick_gelu: bool | None = None) -> "CLIPConfig":
        """Build a config from an open_clip JSON model config (``open_clip.get_model_config(name)``).

        Args:
            cfg: dict with ``embed_dim``, ``vision_cfg``, ``text_cfg`` and optional ``quick_gelu``,
                ``init_logit_bias``, ``init_logit_scale``.
            quick_gelu: override the config's ``quick_gelu`` (open_clip's ``force_quick_gelu``).

        Returns:
            The config.

        Raises:
            ValueError: for open_clip options we do not implement (timm or Hugging Face towers,
                attentional pooling, CoCa, custom attention blocks, ...).
        """
        if not isinstance(cfg, dict) or "embed_dim" not in cfg:
            raise ValueError(f"expected an open_clip model config dict with 'embed_dim', got {cfg!r}")
        _check_keys("config", cfg, _TOP_KEYS, _TOP_IGNORED, _TOP_NEUTRAL)
        v = dict(cfg.get("vision_cfg", {}))
        t = dict(cfg.get("text_cfg", {}))
        _check_keys("vision_cfg", v, _VISION_KEYS, _VISION_IGNORED, _VISION_NEUTRAL)
        _check_keys("text_cfg", t, _TEXT_KEYS, _TEXT_IGNORED, _TEXT_NEUTRAL)
        if isinstance(v.get("layers", 12), (tuple, list)):
            raise ValueError(f"vision_cfg.layers={v['layers']!r} describes a ResNet; only ViT towers are supported")
        vision = VisionConfig(
            image_size=_side("vision_cfg", "image_size", v.get("image_size", 224)),
            patch_size=_side("vision_cfg", "patch_size", v.get("patch_size", 16)),
            width=v.get("width", 768),
            layers=v.get("layers", 12),
            head_width=v.get("head_width", 64),
            mlp_ratio=v.get("mlp_ratio", 4.0),
            ls_init_value=v.get("ls_init_value"),
            no_ln_pre=v.get("no_ln_pre", False),
            pool_type=v.get("pool_type", "tok"),
            final_ln_after_pool=v.get("final_ln_after_pool", False),
            norm_eps=_norm_eps("vision_cfg", v.get("norm_kwargs")),
            gelu_approximate=_gelu_approximate("vision_cfg", v.get("act_kwargs")),
        )
        text = TextConfig(
            context_length=t.get("context_length", 77),
            vocab_size=t.get("vocab_size", 49408),
            width=t.get("width", 512),
            heads=t.get("heads", 8),
            layers=t.get("layers", 12),
            mlp_ratio=t.get("mlp_ratio", 4.0),
            ls_init_value=t.get("ls_init_value"),
            causal=not t.get("no_causal_mask", False),
            pool_type=t.get("pool_type", "argmax"),
            eos_id=t.get("eos_id", 2),
            proj_bias=t.get("proj_bias", False),
            norm_eps=_norm_eps("text_cfg", t.get("norm_kwargs")),
            gelu_approximate=_gelu_approximate("text_cfg", t.get("act_kwargs")),
        )
        return cls(
            embed_dim=cfg["embed_dim"],
            vision=vision,
            text=text,
            quick_gelu=cfg.get("quick_gelu", False) if quick_gelu is None else quick_gelu,
            init_logit_scale=cfg.get("init_logit_scale", math.log(1 / 0.07)),
            init_logit_bias=cfg.get("init_logit_bias"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) of this config; ``CLIPConfig.from_dict`` inverts it."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("vision", "text")},
            "vision": {f.name: getattr(self.vision, f.name) for f in fields(self.vision)},
            "text": {f.name: getattr(self.text, f.name) for f in fields(self.text)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CLIPConfig":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        return cls(vision=VisionConfig(**d.pop("vision")), text=TextConfig(**d.pop("text")), **d)


class CLIP(nn.Module):
    """Two towers and a temperature, with open_clip's interface.

    ``logit_scale`` is stored as a log (the model learns ``log(1/temperature)``) and exponentiated
    when used; ``logit_bias`` exists only for SigLIP-style models.

    Args:
        config: the architecture.
    """

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        self.config = config
        self.visual = VisionTransformer(config.vision, config.embed_dim, config.quick_gelu)
        self.text = TextTransformer(config.text, config.embed_dim, config.quick_gelu)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.init_logit_scale)))
        if config.init_logit_bias is not None:
            self.logit_bias: nn.Parameter | None = nn.Parameter(torch.tensor(float(config.init_logit_bias)))
        else:
            self.logit_bias = None

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Image embeddings.

        Args:
            images: ``(B, 3, H, W)`` preprocessed images.
            normalize: L2-normalise each embedding.

        Returns:
            ``(B, embed_dim)``.
        """
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Text embeddings.

        Args:
            tokens: ``(B, T)`` token ids (``T <= context_length``).
            normalize: L2-normalise each embedding.

        Returns:
            ``(B, embed_dim)``.
        """
        features = self.text(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def get_logits(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Similarity logits ``logit_scale.exp() * cos + logit_bias``.

        Returns:
            ``(logits_per_image (B_img, B_txt), logits_per_text (B_txt, B_img))``.
        """
        image_emb = self.encode_image(images, normalize=True)
        text_emb = self.encode_text(tokens, normalize=True)
        logits_per_image = self.logit_scale.exp() * image_emb @ text_emb.T  # (B_img, B_txt)
        if self.logit_bias is not None:
            logits_per_image = logits_per_image + self.logit_bias
        return logits_per_image, logits_per_image.T

    def forward(
        self, image: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, ...]:
        """open_clip's forward: normalised features and the exponentiated scale.

        Args:
            image: ``(B, 3, H, W)`` or ``None``.
            text: ``(B, T)`` token ids or ``None``.

        Returns:
            ``(image_features, text_features, logit_scale.exp())``, plus ``logit_bias`` as a fourth
            element when the model has one (as open_clip does). Missing inputs give ``None`` features.
        """
        image_features = self.encode_image(image, normalize=True) if image is not None else None
        text_features = self.encode_text(text, normalize=True) if text is not None else None
        if self.logit_bias is not None:
            return image_features, text_features, self.logit_scale.exp(), self.logit_bias
        return image_features, text_features, self.logit_scale.exp()
