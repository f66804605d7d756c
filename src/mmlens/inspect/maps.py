"""Where does the model look? Saliency maps over the patch grid of a ViT image tower.

Every method returns one ``(grid_h, grid_w)`` float map per image, shape ``[batch, grid_h, grid_w]``;
:func:`upsample_map` brings maps to image resolution. The methods, from cheapest to most involved:

* :func:`attention_map`: the class token's raw attention to each patch, one layer (and head).
* :func:`rollout_map`: attention rollout (Abnar & Zuidema, 2020): average heads, add the identity
  for the residual stream, renormalise rows, multiply across layers.
* :func:`gradcam_map`: Grad-CAM on ViT tokens: weight each channel of a layer's patch tokens by the
  mean gradient of the image-text similarity, sum over channels, ReLU.
* :func:`relevancy_map`: gradient-weighted attention relevancy (Chefer et al., 2021):
  ``R += mean_heads(clamp(grad * A, min=0)) @ R`` layer by layer, read from the class token's row.
* :func:`similarity_map`: each patch token through ``ln_post`` and ``proj``, cosine with the text
  embedding.

The first two need only images; the last three need a text (token ids) to explain.
:func:`make_map` dispatches by name (``METHODS``), which is what the ``mmlens attention`` command uses.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmlens.inspect.capture import grid_shape, run_with_cache

METHODS = ("attention", "rollout", "gradcam", "relevancy", "similarity")


# ----------------------------------------------------------------------------------------------
# Pure functions on attention matrices


def cls_to_patches(matrix: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """The class token's row of a token-by-token matrix, without the class column, on the patch grid.

    Args:
        matrix: ``[..., pos, pos]`` (attention, rollout, relevancy) or a row ``[..., pos]``;
            position 0 is the class token.
        grid: ``(grid_h, grid_w)``; default: square.

    Returns:
        ``[..., grid_h, grid_w]``.
    """
    row = matrix[..., 0, 1:] if matrix.ndim >= 2 and matrix.shape[-1] == matrix.shape[-2] else matrix[..., 1:]
    n = row.shape[-1]
    if grid is None:
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} patch positions do not form a square grid; pass grid=(grid_h, grid_w)")
        grid = (side, side)
    if grid[0] * grid[1] != n:
        raise ValueError(f"grid {grid} holds {grid[0] * grid[1]} patches but the matrix has {n} patch positions")
    return row.reshape(*row.shape[:-1], grid[0], grid[1])


def attention_rollout(
    patterns: Sequence[torch.Tensor] | torch.Tensor, head_fusion: str = "mean", residual: bool = True
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token draws on each input token.

    Args:
        patterns: one ``[batch, head, pos, pos]`` tensor per layer (first layer first), or a stacked
            ``[layer, batch, head, pos, pos]`` tensor.
        head_fusion: ``"mean"`` (the paper), ``"max"`` or ``"min"`` over heads.
        residual: add the identity for the residual connection and renormalise: ``0.5 * (A + I)``.

    Returns:
        ``[batch, pos, pos]``: ``A_L @ ... @ A_1`` (rows sum to 1). Identity attention gives the identity.
    """
    if head_fusion not in ("mean", "max", "min"):
        raise ValueError(f"head_fusion must be 'mean', 'max' or 'min', got {head_fusion!r}")
    patterns = list(patterns)
    if not patterns:
        raise ValueError("attention_rollout needs at least one layer of attention")
    rollout = None
    for A in patterns:  # A: (B, H, T, T)
        if A.ndim != 4 or A.shape[-1] != A.shape[-2]:
            raise ValueError(f"each pattern must be [batch, head, pos, pos], got {tuple(A.shape)}")
        fused = {"mean": A.mean(dim=1), "max": A.amax(dim=1), "min": A.amin(dim=1)}[head_fusion]  # (B, T, T)
        if residual:
            eye = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
            fused = fused + eye
        fused = fused / fused.sum(dim=-1, keepdim=True)
        rollout = fused if rollout is None else fused @ rollout  # later layers act on the earlier mix
    return rollout


def chefer_relevancy(patterns: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """Gradient-weighted relevancy (Chefer, Gur & Wolf, 2021, "Generic Attention-model Explainability").

    ``R = I``; for each layer ``R = R + mean_heads(clamp(grad * A, min=0)) @ R``.

    Args:
        patterns: one ``[batch, head, pos, pos]`` attention tensor per layer, first layer first.
        grads: the gradient of the explained score with respect to each pattern, same shapes.

    Returns:
        ``[batch, pos, pos]`` relevancy; row 0 tells how relevant each token is for the class token.
    """
    patterns, grads = list(patterns), list(grads)
    if len(patterns) != len(grads) or not patterns:
        raise ValueError(f"need one gradient per pattern, got {len(patterns)} patterns and {len(grads)} gradients")
    B, _, T, _ = patterns[0].shape
    R = torch.eye(T, dtype=patterns[0].dtype, device=patterns[0].device).expand(B, T, T).clone()  # (B, T, T)
    for A, G in zip(patterns, grads):
        cam = (G * A).clamp(min=0).mean(dim=1)  # (B, T, T)
        R = R + cam @ R
    return R


def upsample_map(maps: torch.Tensor | np.ndarray, size: int | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize maps ``[grid_h, grid_w]`` or ``[batch, grid_h, grid_w]`` to ``size`` pixels.

    Args:
        maps: one map or a batch of maps.
        size: ``H`` (square) or ``(H, W)``.
        mode: ``"bilinear"`` (smooth) or ``"nearest"`` (blocky, shows the patches).

    Returns:
        A float tensor ``[H, W]`` or ``[batch, H, W]``, matching the input's rank.
    """
    m = torch.as_tensor(np.asarray(maps) if not torch.is_tensor(maps) else maps).detach().float()
    if m.ndim not in (2, 3):
        raise ValueError(f"maps must be [grid_h, grid_w] or [batch, grid_h, grid_w], got shape {tuple(m.shape)}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    single = m.ndim == 2
    m = m[None] if single else m
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(m[:, None], size=size, mode=mode, **kwargs)[:, 0]  # (B, H, W)
    return out[0] if single else out


# ----------------------------------------------------------------------------------------------
# Maps from a model


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a tensor (B, 3, H, W) from the model's preprocess, got {type(images).__name__}")
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, 3, H, W) or (3, H, W), got {tuple(images.shape)}")
    return images


def _check_tokens(tokens: torch.Tensor | None, batch: int, method: str) -> torch.Tensor:
    if tokens is None:
        raise ValueError(f"the {method!r} map explains an image-text similarity: pass tokens=tokenizer([text])")
    if not torch.is_tensor(tokens) or tokens.ndim not in (1, 2):
        raise ValueError(f"tokens must be a (B, T) LongTensor from the model's tokenizer, got {tokens!r:.80}")
    tokens = tokens[None] if tokens.ndim == 1 else tokens
    if tokens.shape[0] == 1 and batch > 1:
        tokens = tokens.expand(batch, -1)
    if tokens.shape[0] != batch:
        raise ValueError(f"got {tokens.shape[0]} texts for {batch} images; pass one text, or one per image")
    return tokens


def _layer_index(layer: int, n_layers: int) -> int:
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer={layer} is out of range for an image tower with {n_layers} blocks")
    return layer % n_layers


def attention_map(
    model: nn.Module, images: torch.Tensor, tokens: torch.Tensor | None = None, layer: int = -1, head: int | None = None
) -> torch.Tensor:
    """The class token's attention to each patch in one layer.

    Args:
        model: open_clip or mmlens CLIP with a ViT image tower.
        images: ``(B, 3, H, W)`` preprocessed.
        tokens: ignored (accepted so every method has the same signature).
        layer: block index (negative counts from the end).
        head: one head, or ``None`` for the mean over heads.

    Returns:
        ``[batch, grid_h, grid_w]``.
    """
    images = _check_images(images)
    n = len(_vision_blocks(model))
    name = f"vision.blocks.{_layer_index(layer, n)}.attn.pattern"
    _, cache = run_with_cache(model, images=images, names=[name])
    A = cache[name]  # (B, H, T, T)
    if head is None:
        A = A.mean(dim=1)
    else:
        if not -A.shape[1] <= head < A.shape[1]:
            raise ValueError(f"head={head} out of range for {A.shape[1]} heads")
        A = A[:, head]
    return cls_to_patches(A, cache.grid)


def attention_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Every layer's and head's class-token attention: ``[batch, layer, head, grid_h, grid_w]``."""
    images = _check_images(images)
    _, cache = run_with_cache(model, images=images, names=lambda n: n.startswith("vision.") and n.endswith("attn.pattern"))
    patterns = cache.stack("pattern", "vision")  # (L, B, H, T, T)
    return cls_to_patches(patterns, cache.grid).transpose(0, 1)  # (B, L, H, gh, gw)


def rollout_map(
    model: nn.Module,
    images: torch.Tensor,
    tokens: torch.Tensor | None = None,
    start_layer: int = 0,
    head_fusion: str = "mean",
) -> torch.Tensor:
    """Attention rollout from the class token to each patch (Abnar & Zuidema, 2020).

    Args:
        model: open_clip or mmlens CLIP with a ViT image tower.
        images: ``(B, 3, H, W)`` preprocessed.
        tokens: ignored.
        start_layer: first block to include.
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` over heads.

    Returns:
        ``[batch, grid_h, grid_w]``.
    """
    images = _check_images(images)
    n = len(_vision_blocks(model))
    start = _layer_index(start_layer, n)
    _, cache = run_with_cache(model, images=images, names=lambda name: name.startswith("vision.") and name.endswith("attn.pattern"))
    rollout = attention_rollout([cache["pattern", i] for i in range(start, n)], head_fusion)
    return cls_to_patches(rollout, cache.grid)


def _paired_forward(model, images, tokens, names):
    """Run images and their texts with autograd on; returns (cos per pair, cache).

    The images do not interact in a ViT, so the gradient of ``cos.sum()`` with respect to one
    image's activations is the gradient of that image's own similarity.
    """
    with torch.no_grad():
        text_emb = F.normalize(model.encode_text(tokens), dim=-1)  # (B, E)
    with torch.enable_grad():
        _, cache = run_with_cache(model, images=images, names=names, grad=True)
        image_emb = F.normalize(cache["vision.image_emb"], dim=-1)
        cos = (image_emb * text_emb).sum(-1)  # (B,)
    return cos, cache


def gradcam_map(model: nn.Module, images: torch.Tensor, tokens: torch.Tensor, layer: int = -1) -> torch.Tensor:
    """Grad-CAM on ViT tokens: which patches push the image-text similarity up.

    The tokens entering block ``layer`` (``resid_pre``) play the role of a CNN's feature maps: each
    channel is weighted by the mean over patches of d cos(image, text) / d token, the weighted
    channels are summed and passed through a ReLU. (After the last block only the class token
    reaches the embedding, so the default reads the input of the last block.)

    Args:
        model: open_clip or mmlens CLIP with a ViT image tower.
        images: ``(B, 3, H, W)`` preprocessed.
        tokens: ``(1, T)`` (same text for every image) or ``(B, T)`` token ids.
        layer: block whose input tokens are explained (negative counts from the end).

    Returns:
        ``[batch, grid_h, grid_w]``, non-negative.
    """
    images = _check_images(images)
    tokens = _check_tokens(tokens, images.shape[0], "gradcam")
    n = len(_vision_blocks(model))
    name = f"vision.blocks.{_layer_index(layer, n)}.resid_pre"
    cos, cache = _paired_forward(model, images, tokens, [name, "vision.image_emb"])
    acts = cache[name]  # (B, T, D)
    (grads,) = torch.autograd.grad(cos.sum(), [acts])
    acts, grads = acts[:, 1:].detach(), grads[:, 1:]  # patches only: (B, P, D)
    weights = grads.mean(dim=1, keepdim=True)  # (B, 1, D)
    cam = F.relu((weights * acts).sum(-1))  # (B, P)
    return cam.reshape(cam.shape[0], *cache.grid)


def relevancy_map(model: nn.Module, images: torch.Tensor, tokens: torch.Tensor, start_layer: int = 0) -> torch.Tensor:
    """Gradient-weighted attention relevancy for an image-text pair (Chefer et al., 2021).

    Args:
        model: open_clip or mmlens CLIP with a ViT image tower.
        images: ``(B, 3, H, W)`` preprocessed.
        tokens: ``(1, T)`` or ``(B, T)`` token ids.
        start_layer: first block to accumulate (Chefer's CLIP demo uses only the last: ``-1``).

    Returns:
        ``[batch, grid_h, grid_w]``, the class token's relevancy row without itself.
    """
    images = _check_images(images)
    tokens = _check_tokens(tokens, images.shape[0], "relevancy")
    n = len(_vision_blocks(model))
    start = _layer_index(start_layer, n)
    names = [f"vision.blocks.{i}.attn.pattern" for i in range(start, n)] + ["vision.image_emb"]
    cos, cache = _paired_forward(model, images, tokens, names)
    patterns = [cache["pattern", i] for i in range(start, n)]
    grads = torch.autograd.grad(cos.sum(), patterns)
    R = chefer_relevancy([A.detach() for A in patterns], grads)
    return cls_to_patches(R, cache.grid)


def similarity_map(model: nn.Module, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Cosine between each patch token (through ``ln_post`` and ``proj``) and the text embedding.

    CLIP is trained to align only the class token with text; patch tokens projected the same way
    often still line up with the words that describe them.

    Args:
        model: open_clip or mmlens CLIP with a ViT image tower.
        images: ``(B, 3, H, W)`` preprocessed.
        tokens: ``(1, T)`` or ``(B, T)`` token ids.

    Returns:
        ``[batch, grid_h, grid_w]`` cosines in ``[-1, 1]``.
    """
    images = _check_images(images)
    tokens = _check_tokens(tokens, images.shape[0], "similarity")
    visual = model.visual
    with torch.no_grad():
        _, cache = run_with_cache(model, images=images, tokens=tokens, names=["vision.blocks.-1.resid_post", "text.text_emb"])
        x = cache["resid_post", -1][:, 1:]  # (B, P, D) patch tokens after the last block
        patch_emb = visual.ln_post(x) @ visual.proj  # (B, P, E)
        patch_emb = F.normalize(patch_emb, dim=-1)
        text_emb = F.normalize(cache["text.text_emb"], dim=-1)  # (B, E)
        cos = (patch_emb * text_emb[:, None]).sum(-1)  # (B, P)
    return cos.reshape(cos.shape[0], *cache.grid)


_MAKERS = {
    "attention": attention_map,
    "rollout": rollout_map,
    "gradcam": gradcam_map,
    "relevancy": relevancy_map,
    "similarity": similarity_map,
}


def make_map(method: str, model: nn.Module, images: torch.Tensor, tokens: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
    """Any saliency map by name (one of ``METHODS``); returns ``[batch, grid_h, grid_w]``.

    Example::

        maps = {m: make_map(m, model, images, tokens) for m in METHODS}
    """
    if method not in _MAKERS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    return _MAKERS[method](model, images, tokens, **kwargs).detach()


def _vision_blocks(model: nn.Module) -> list:
    visual = getattr(model, "visual", None)
    transformer = getattr(visual, "transformer", None)
    blocks = getattr(transformer, "resblocks", None)
    if blocks is None:
        blocks = getattr(transformer, "blocks", None)
    if blocks is None:
        raise ValueError(f"{type(model).__name__} has no ViT image tower (model.visual.transformer blocks)")
    return list(blocks)


__all__ = [
    "METHODS",
    "attention_map",
    "attention_maps",
    "attention_rollout",
    "chefer_relevancy",
    "cls_to_patches",
    "gradcam_map",
    "grid_shape",
    "make_map",
    "relevancy_map",
    "rollout_map",
    "similarity_map",
    "upsample_map",
]
