"""The pre-LayerNorm transformer block and a stack of them (the body of both CLIP towers).

One block is ``x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))`` with optional LayerScale on each
branch, exactly open_clip's ``ResidualAttentionBlock``.
"""
from __future__ import annotations

import torch
from torch import nn

from mmlens.models.attention import MultiHeadAttention


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``: the GELU approximation OpenAI's CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class LayerScale(nn.Module):
    """Multiply each channel by a learned ``gamma`` (CaiT); starts small so blocks start near identity."""

    def __init__(self, d_model: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(init_value * torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class MLP(nn.Module):
    """Two Linear layers with an activation between them: ``d_model -> d_mlp -> d_model``."""

    def __init__(self, d_model: int, d_mlp: int, quick_gelu: bool = False, gelu_approximate: str = "none") -> None:
        super().__init__()
        self.c_fc = nn.Linear(d_model, d_mlp)
        self.act = QuickGELU() if quick_gelu else nn.GELU(approximate=gelu_approximate)
        self.c_proj = nn.Linear(d_mlp, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))  # (B, T, d_model)


class TransformerBlock(nn.Module):
    """Pre-LN block: ``x + ls_1(attn(ln_1(x)))`` then ``x + ls_2(mlp(ln_2(x)))``.

    Args:
        d_model: token width.
        n_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``d_model``.
        ls_init_value: LayerScale initial value, or ``None`` for no LayerScale.
        quick_gelu: use :class:`QuickGELU` instead of GELU in the MLP.
        norm_eps: LayerNorm epsilon.
        gelu_approximate: ``"none"`` (exact GELU) or ``"tanh"``, as in ``nn.GELU``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        quick_gelu: bool = False,
        norm_eps: float = 1e-5,
        gelu_approximate: str = "none",
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=norm_eps)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ls_1 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()
        self.ln_2 = nn.LayerNorm(d_model, eps=norm_eps)
        self.mlp = MLP(d_model, int(d_model * mlp_ratio), quick_gelu, gelu_approximate)
        self.ls_2 = LayerScale(d_model, ls_init_value) if ls_init_value is not None else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run one block.

        Args:
            x: tokens ``(B, T, d_model)``.
            attn_mask: see :class:`~mmlens.models.attention.MultiHeadAttention`.
            key_padding_mask: bool ``(B, T)``, ``True`` = padding.
            is_causal: causal self-attention.
            need_weights: also return this block's attention weights.

        Returns:
            ``(x, weights)``: ``x`` is ``(B, T, d_model)``; ``weights`` is ``(B, n_heads, T, T)`` or ``None``.
        """
        attn_out, weights = self.attn(
            self.ln_1(x),
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            is_causal=is_causal,
            need_weights=need_weights,
        )
        x = x + self.ls_1(attn_out)
        x = x + self.ls_2(self.mlp(self.ln_2(x)))
        return x, weights


class Transformer(nn.Module):
    """A stack of :class:`TransformerBlock` of the same width.

    Args:
        width: token width ``d_model``.
        layers: number of blocks.
        heads: attention heads per block.
        mlp_ratio: MLP hidden width as a multiple of ``width``.
        ls_init_value: LayerScale initial value, or ``None``.
        quick_gelu: use QuickGELU in the MLPs.
        norm_eps: LayerNorm epsilon.
        gelu_approximate: ``"none"`` or ``"tanh"`` GELU in the MLPs.
    """

    def __init__(
        self,
        width: int,
        layers: int,
        heads: int,
        mlp_ratio: float = 4.0,
        ls_init_value: float | None = None,
        quick_gelu: bool = False,
        norm_eps: float = 1e-5,
        gelu_approximate: str = "none",
    ) -> None:
        super().__init__()
        self.width = width
        self.blocks = nn.ModuleList(
            [
                TransformerBlock(width, heads, mlp_ratio, ls_init_value, quick_gelu, norm_eps, gelu_approximate)
                for _ in range(layers)
            ]
        )

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run every block in turn.

        Args:
            x: tokens ``(B, T, width)``.
            attn_mask: mask shared by all blocks (see :class:`MultiHeadAttention`).
            key_padding_mask: bool ``(B, T)``, ``True`` = padding.
            is_causal: causal self-attention in every block.
            need_weights: collect each block's attention weights.

        Returns:
            ``(x, weights)``: ``x`` is ``(B, T, width)``; ``weights`` is a list with one
            ``(B, n_heads, T, T)`` tensor per block (empty when ``need_weights`` is ``False``).
        """
        all_weights: list[torch.Tensor] = []
        for block in self.blocks:
            x, weights = block(x, attn_mask, key_padding_mask, is_causal, need_weights)
            if weights is not None:
                all_weights.append(weights)
        return x, all_weights
