"""Cutting images into patches: the first step of a Vision Transformer."""
from __future__ import annotations

import torch


def _check_images(images: torch.Tensor, patch_size: int) -> tuple[int, int, int, int]:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor of shape (B, C, H, W), got {shape}; "
                         "add a batch dimension with images[None] for a single image")
    if not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
    B, C, H, W = images.shape
    if H % patch_size or W % patch_size:
        raise ValueError(f"image size {H}x{W} is not divisible by patch_size={patch_size}; "
                         f"resize or crop to a multiple of {patch_size} first")
    return B, C, H, W


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches, in row-major order.

    Args:
        images: ``(B, C, H, W)`` tensor; H and W must be multiples of ``patch_size``.
        patch_size: side of each square patch in pixels.

    Returns:
        ``(B, N, C * patch_size**2)`` with ``N = (H / patch_size) * (W / patch_size)``; each row is one
        patch flattened channel-first, the same layout a ``Conv2d(C, D, patch_size, stride=patch_size)``
        sees, so a linear layer on these rows equals that convolution.
    """
    B, C, H, W = _check_images(images, patch_size)
    p = patch_size
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, gh, p, gw, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, p, p)
    return x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C*p*p)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``(B, N, C*p*p)`` back to ``(B, C, H, W)``."""
    p = patch_size
    if height % p or width % p:
        raise ValueError(f"height={height} and width={width} must be multiples of patch_size={p}")
    gh, gw = height // p, width // p
    B, N, D = patches.shape
    if N != gh * gw or D != channels * p * p:
        raise ValueError(f"patches of shape {tuple(patches.shape)} do not fit a {channels}x{height}x{width} "
                         f"image with patch_size={p}: expected (B, {gh * gw}, {channels * p * p})")
    x = patches.reshape(B, gh, gw, channels, p, p)  # (B, gh, gw, C, p, p)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, p, gw, p)
    return x.reshape(B, channels, height, width)


def patch_grid_shape(image_size: int | tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Number of patch rows and columns for an image size, with a clear error when it does not divide."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not divisible by patch_size={patch_size}")
    return h // patch_size, w // patch_size
