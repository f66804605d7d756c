"""Scaled dot-product attention and multi-head attention (self and cross).

Two paths compute the same thing:

* the **manual** path writes out ``softmax(Q K^T / sqrt(d_head) + mask) V`` and can return the
  attention weights (the path the book reads and plots);
* the **fused** path calls :func:`torch.nn.functional.scaled_dot_product_attention`, which never
  materialises the weights and is the fast one. It is used whenever weights are not requested.

Mask conventions (the same as PyTorch's, so code moves between the two):

* ``attn_mask`` follows :func:`~torch.nn.functional.scaled_dot_product_attention`: a **bool** mask
  is ``True`` where a query *may* attend to a key; a **float** mask is *added* to the scores
  (``0`` keeps, ``-inf`` blocks). Shape broadcastable to ``(B, n_heads, T_q, T_k)``.
* ``key_padding_mask`` follows :class:`torch.nn.MultiheadAttention`: shape ``(B, T_k)``, ``True``
  marks a **padding** key that no query may attend to.
* ``is_causal=True`` lets query ``i`` attend to keys ``0..i`` only (a decoder / CLIP text tower).

A query row whose keys are all blocked has no defined softmax; avoid building such masks.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean causal mask, ``True`` where query ``i`` may attend to key ``j`` (``j <= i``).

    Args:
        t_q: number of queries.
        t_k: number of keys (defaults to ``t_q``).
        device: where to build the mask.

    Returns:
        Bool tensor of shape ``(t_q, t_k)``, lower triangular.
    """
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril()  # (T_q, T_k)


def merge_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    is_causal: bool,
    t_q: int,
    t_k: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor | None:
    """Fold ``attn_mask``, ``key_padding_mask`` and ``is_causal`` into one additive float mask.

    Args:
        attn_mask: bool (``True`` = may attend) or additive float mask, broadcastable to
            ``(B, n_heads, T_q, T_k)``; or ``None``.
        key_padding_mask: bool ``(B, T_k)``, ``True`` = padding; or ``None``.
        is_causal: also block keys after each query.
        t_q: number of queries.
        t_k: number of keys.
        dtype: float dtype of the returned mask.
        device: device of the returned mask.

    Returns:
        ``None`` when nothing is masked, else a float mask broadcastable to
        ``(B, n_heads, T_q, T_k)`` holding ``0`` (keep) and ``-inf`` (block).
    """
    mask = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            mask = torch.zeros(attn_mask.shape, dtype=dtype, device=device)
            mask = mask.masked_fill(~attn_mask, float("-inf"))
        else:
            mask = attn_mask.to(dtype)
    if is_causal:
        blocked = ~causal_mask(t_q, t_k, device=device)  # (T_q, T_k)
        causal = torch.zeros(t_q, t_k, dtype=dtype, device=device).masked_fill(blocked, float("-inf"))
        mask = causal if mask is None else mask + causal
    if key_padding_mask is not None:
        if key_padding_mask.dtype != torch.bool:
            raise TypeError(
                f"key_padding_mask must be a bool tensor (True = padding), got dtype {key_padding_mask.dtype}; "
                "convert it with `mask.bool()`"
            )
        if key_padding_mask.ndim != 2 or key_padding_mask.shape[1] != t_k:
            raise ValueError(
                f"key_padding_mask must have shape (B, T_k=({t_k})), got {tuple(key_padding_mask.shape)}"
            )
        pad = torch.zeros(key_padding_mask.shape, dtype=dtype, device=device)
        pad = pad.masked_fill(key_padding_mask, float("-inf"))[:, None, None, :]  # (B, 1, 1, T_k)
        mask = pad if mask is None else mask + pad
    return mask


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``softmax(q k^T / sqrt(d_head) + mask) v``, optionally returning the softmax weights.

    Args:
        q: queries ``(B, n_heads, T_q, d_head)``.
        k: keys ``(B, n_heads, T_k, d_head)``.
        v: values ``(B, n_heads, T_k, d_head)``.
        attn_mask: bool (``True`` = may attend) or additive float mask broadcastable to
            ``(B, n_heads, T_q, T_k)``.
        is_causal: block keys after each query (query ``i`` sees keys ``0..i``).
        need_weights: if ``True`` use the manual path and return the weights; otherwise use the
            fused kernel and return ``None`` for the weights.

    Returns:
        ``(out, weights)``: ``out`` is ``(B, n_heads, T_q, d_head)``; ``weights`` is
        ``(B, n_heads, T_q, T_k)`` with rows summing to 1, or ``None``.
    """
    if not need_weights:
        if is_causal and attn_mask is not None:  # the kernel takes one or the other: merge them
            attn_mask = merge_masks(attn_mask, None, True, q.shape[-2], k.shape[-2], q.dtype, q.device)
            is_causal = False
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        return out, None

    d_head = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)  # (B, n_heads, T_q, T_k)
    mask = merge_masks(attn_mask, None, is_causal, q.shape[-2], k.shape[-2], scores.dtype, scores.device)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)  # (B, n_heads, T_q, T_k), each row sums to 1
    out = weights @ v  # (B, n_heads, T_q, d_head)
    return out, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention: self-attention by default, cross-attention when given ``context``.

    The query, key and value projections live in one ``in_proj`` Linear of shape
    ``(3 * d_model, d_model)`` whose rows are ``[W_q; W_k; W_v]``, the same layout as
    ``nn.MultiheadAttention.in_proj_weight`` (and so open_clip's checkpoints). For self-attention
    one matmul produces q, k and v; for cross-attention the ``W_q`` rows project the queries and the
    ``[W_k; W_v]`` rows project the context.

    Args:
        d_model: width of the token vectors.
        n_heads: number of heads; ``d_model`` must be divisible by it.
        bias: whether the projections have biases.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; pick n_heads dividing d_model")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, n_heads, T, d_head)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x`` to ``context`` (or to ``x`` itself).

        Args:
            x: queries' tokens ``(B, T_q, d_model)``.
            context: keys'/values' tokens ``(B, T_k, d_model)``; ``None`` for self-attention.
            attn_mask: bool (``True`` = may attend) or additive float mask, broadcastable to
                ``(B, n_heads, T_q, T_k)``.
            key_padding_mask: bool ``(B, T_k)``, ``True`` = padding key (ignored).
            is_causal: query ``i`` sees keys ``0..i`` only.
            need_weights: also return the attention weights (manual, slower path).

        Returns:
            ``(out, weights)``: ``out`` is ``(B, T_q, d_model)``; ``weights`` is
            ``(B, n_heads, T_q, T_k)`` or ``None``.
        """
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, d_model={self.d_model}), got {tuple(x.shape)}")
        B, T_q, C = x.shape
        if context is None:
            q, k, v = self.in_proj(x).split(C, dim=-1)  # 3 x (B, T, C)
        else:
            if context.ndim != 3 or context.shape[0] != B or context.shape[-1] != C:
                raise ValueError(
                    f"context must have shape (B={B}, T_k, d_model={C}), got {tuple(context.shape)}"
                )
            w, b = self.in_proj.weight, self.in_proj.bias
            q = F.linear(x, w[:C], None if b is None else b[:C])  # (B, T_q, C)
            k, v = F.linear(context, w[C:], None if b is None else b[C:]).split(C, dim=-1)  # 2 x (B, T_k, C)
        T_k = k.shape[1]
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)  # (B, n_heads, T, d_head)

        if key_padding_mask is not None:  # fold padding (and causality) into one additive mask
            attn_mask = merge_masks(attn_mask, key_padding_mask, is_causal, T_q, T_k, q.dtype, q.device)
            is_causal = False
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask, is_causal, need_weights)
        out = out.transpose(1, 2).reshape(B, T_q, C)  # (B, T_q, n_heads * d_head) = (B, T_q, d_model)
        return self.out_proj(out), weights
