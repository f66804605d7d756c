"""The Vision Transformer image tower of CLIP.

image -> conv patch embedding -> [class token; patches] + positional embedding -> ln_pre
-> transformer -> ln_post -> class token ('tok' pooling) -> @ proj -> image embedding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mmlens.models.transformer import Transformer


@dataclass
class VisionConfig:
    """Architecture of a ViT image tower (field names follow open_clip's ``vision_cfg``).

    Attributes:
        image_size: side of the square input image, in pixels.
        patch_size: side of a square patch; must divide ``image_size``.
        width: token width ``d_model``.
        layers: number of transformer blocks.
        head_width: width of one attention head (``heads = width // head_width``).
        mlp_ratio: MLP hidden width as a multiple of ``width``.
        ls_init_value: LayerScale initial value, or ``None`` for none.
        no_ln_pre: skip the LayerNorm before the transformer.
        pool_type: ``"tok"`` (class token, CLIP's default) or ``"avg"`` (mean of patch tokens).
        final_ln_after_pool: apply ``ln_post`` after pooling instead of to every token.
        norm_eps: LayerNorm epsilon.
        gelu_approximate: ``"none"`` (exact GELU) or ``"tanh"``; ignored under ``quick_gelu``.
    """

    image_size: int = 224
    patch_size: int = 32
    width: int = 768
    layers: int = 12
    head_width: int = 64
    mlp_ratio: float = 4.0
    ls_init_value: float | None = None
    no_ln_pre: bool = False
    pool_type: str = "tok"
    final_ln_after_pool: bool = False
    norm_eps: float = 1e-5
    gelu_approximate: str = "none"

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"patch_size={self.patch_size} must divide image_size={self.image_size}; choose e.g. a power of two"
            )
        if self.width % self.head_width != 0:
            raise ValueError(f"head_width={self.head_width} must divide width={self.width}")
        if self.pool_type not in ("tok", "avg"):
            raise ValueError(f"pool_type must be 'tok' or 'avg', got {self.pool_type!r}")

    @property
    def heads(self) -> int:
        """Number of attention heads."""
        return self.width // self.head_width

    @property
    def grid_size(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size


class VisionTransformer(nn.Module):
    """ViT image encoder with a projection to the shared embedding space.

    Parameter names follow open_clip's ``VisionTransformer`` (``conv1``, ``class_embedding``,
    ``positional_embedding``, ``ln_pre``, ``ln_post``, ``proj``) so the two read side by side.

    Args:
        config: the architecture.
        embed_dim: width of the shared image-text embedding space.
        quick_gelu: use QuickGELU in the MLPs (OpenAI checkpoints).
    """

    def __init__(self, config: VisionConfig, embed_dim: int, quick_gelu: bool = False) -> None:
        super().__init__()
        self.config = config
        width = config.width
        scale = width**-0.5
        # A conv with stride = kernel = patch_size is a Linear applied to each flattened patch.
        self.conv1 = nn.Conv2d(3, width, kernel_size=config.patch_size, stride=config.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(config.grid_size**2 + 1, width))
        self.ln_pre = nn.Identity() if config.no_ln_pre else nn.LayerNorm(width, eps=config.norm_eps)
        self.transformer = Transformer(
            width,
            config.layers,
            config.heads,
            mlp_ratio=config.mlp_ratio,
            ls_init_value=config.ls_init_value,
            quick_gelu=quick_gelu,
            norm_eps=config.norm_eps,
            gelu_approximate=config.gelu_approximate,
        )
        self.ln_post = nn.LayerNorm(width, eps=config.norm_eps)
        self.proj = nn.Parameter(scale * torch.randn(width, embed_dim))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Turn images into the token sequence the transformer reads.

        Args:
            images: ``(B, 3, image_size, image_size)``.

        Returns:
            ``(B, 1 + grid**2, width)``: class token then patches (row-major), after ``ln_pre``.
        """
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise ValueError(
                f"images must have shape (B, 3, {size}, {size}), got {tuple(images.shape)}; "
                "resize them or build the model with a matching image_size"
            )
        x = self.conv1(images)  # (B, width, grid, grid)
        x = x.flatten(2).transpose(1, 2)  # (B, grid*grid, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)  # (B, 1, width)
        x = torch.cat([cls, x], dim=1)  # (B, 1 + grid*grid, width)
        x = x + self.positional_embedding.to(x.dtype)
        return self.ln_pre(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Pool transformer output ``(B, T, width)`` into one vector per image ``(B, width)``."""
        if not self.config.final_ln_after_pool:
            x = self.ln_post(x)
        pooled = x[:, 0] if self.config.pool_type == "tok" else x[:, 1:].mean(dim=1)  # (B, width)
        if self.config.final_ln_after_pool:
            pooled = self.ln_post(pooled)
        return pooled

    def forward_with_attention(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode images and return every block's attention weights (manual attention path).

        Args:
            images: ``(B, 3, image_size, image_size)``.

        Returns:
            ``(image_emb, weights)``: ``image_emb`` is ``(B, embed_dim)`` (not normalised);
            ``weights`` holds one ``(B, heads, 1 + grid**2, 1 + grid**2)`` tensor per block.
        """
        x, weights = self.transformer(self.embed(images), need_weights=True)
        return self.pool(x) @ self.proj, weights

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode images into ``(B, embed_dim)`` (not normalised), using the fused attention kernel."""
        x, _ = self.transformer(self.embed(images))  # (B, 1 + grid*grid, width)
        return self.pool(x) @ self.proj  # (B, embed_dim)
