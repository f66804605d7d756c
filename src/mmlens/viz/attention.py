"""Figures for "where does the model look": map overlays, a layers-by-heads grid, d2l's ``show_heatmaps``."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from mmlens.viz.basic import _to_numpy_image


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=float)


def _display_image(image) -> np.ndarray:
    """Any image (PIL, uint8 array, float tensor, even a normalised one) as (H, W, 3) floats in [0, 1]."""
    array = _to_numpy_image(image)
    if array.dtype == np.uint8:
        return array.astype(float) / 255.0
    array = array.astype(float)
    if array.min() < 0 or array.max() > 1:  # a normalised tensor: stretch back to [0, 1]
        array = (array - array.min()) / max(array.max() - array.min(), 1e-12)
    return array


def _upsample(saliency: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if saliency.shape == tuple(shape):
        return saliency
    from mmlens.inspect.maps import upsample_map

    return upsample_map(saliency, shape).numpy()


def plot_attention_overlay(
    image,
    saliency,
    ax=None,
    alpha: float = 0.5,
    cmap: str = "jet",
    title: str | None = None,
    smooth: bool = True,
):
    """Draw a saliency map (any of :mod:`mmlens.inspect.maps`) over the image it explains.

    Args:
        image: PIL image, ``(H, W, 3)`` array or ``(3, H, W)`` tensor.
        saliency: ``(grid_h, grid_w)`` or ``(H, W)`` map; upsampled to the image and scaled to [0, 1].
        ax: matplotlib Axes (default: the current one).
        alpha: opacity of the map.
        cmap: colour map of the map.
        title: optional title.
        smooth: bilinear upsampling (``False``: blocky, one colour per patch).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = _display_image(image)
    s = _np(saliency)
    if s.ndim != 2:
        raise ValueError(f"saliency must be a 2-D map (grid_h, grid_w), got shape {s.shape}; index one image first")
    if smooth:
        s = _upsample(s, img.shape[:2])
    s = (s - s.min()) / max(s.max() - s.min(), 1e-12)
    ax = ax or plt.gca()
    ax.imshow(img)
    ax.imshow(s, cmap=cmap, alpha=alpha, extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5),
              interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _looks_like_patterns(arr: np.ndarray) -> bool:
    """``[..., pos, pos]`` attention with a class token: pos - 1 is a square number of patches."""
    t = arr.shape[-1]
    return arr.shape[-2] == t and t > 1 and math.isqrt(t - 1) ** 2 == t - 1 and math.isqrt(t) ** 2 != t


def plot_head_grid(
    patterns_or_maps,
    image=None,
    kind: str = "auto",
    alpha: float = 0.6,
    cmap: str = "viridis",
    title: str | None = None,
    size: float = 1.3,
):
    """A layers-by-heads grid of class-token attention maps, one image.

    Args:
        patterns_or_maps: an :class:`~mmlens.inspect.capture.ActivationCache` (its first image),
            attention patterns ``[layer, head, pos, pos]`` (class token first), or maps
            ``[layer, head, grid_h, grid_w]`` (e.g. ``attention_maps(model, images)[0]``).
        image: draw each map over this image (else the bare maps).
        kind: ``"patterns"``, ``"maps"`` or ``"auto"`` (patterns when ``pos - 1`` is a square number
            and ``pos`` is not).
        alpha: map opacity over the image.
        cmap: colour map.
        title: figure title.
        size: inches per cell.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from mmlens.inspect.maps import cls_to_patches

    grid = None
    if hasattr(patterns_or_maps, "stack") and hasattr(patterns_or_maps, "n_layers"):  # an ActivationCache
        grid = patterns_or_maps.grid
        arr = _np(patterns_or_maps.stack("pattern", "vision")[:, 0])  # (L, H, T, T)
        kind = "patterns"
    else:
        arr = _np(patterns_or_maps)
    if arr.ndim != 4:
        raise ValueError(f"expected [layer, head, ...] with 4 dimensions, got shape {arr.shape}; index one image first")
    if kind not in ("auto", "patterns", "maps"):
        raise ValueError(f"kind must be 'auto', 'patterns' or 'maps', got {kind!r}")
    if kind == "patterns" or (kind == "auto" and _looks_like_patterns(arr)):
        import torch

        arr = cls_to_patches(torch.as_tensor(arr), grid).numpy()  # (L, H, gh, gw)
    n_layers, n_heads = arr.shape[:2]
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(size * n_heads + 0.6, size * n_layers + 0.4), squeeze=False)
    for i in range(n_layers):
        for h in range(n_heads):
            ax = axes[i, h]
            if image is not None:
                plot_attention_overlay(image, arr[i, h], ax=ax, alpha=alpha, cmap=cmap)
            else:
                ax.imshow(arr[i, h], cmap=cmap)
            ax.set_axis_on()  # keep the axes (for the layer label) but no ticks or frame
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i == 0:
                ax.set_title(f"head {h}", fontsize=8)
            if h == 0:
                ax.set_ylabel(f"layer {i}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_heatmaps(
    matrices,
    xlabel: str,
    ylabel: str,
    titles: Sequence[str] | None = None,
    figsize: tuple[float, float] = (2.5, 2.5),
    cmap: str = "Reds",
):
    """d2l's heatmap helper: a grid of matrices sharing one colour bar.

    Args:
        matrices: ``[num_rows, num_cols, n_queries, n_keys]`` (e.g. ``[layer, head, query, key]``).
        xlabel: label under the bottom row (e.g. ``"Keys"``).
        ylabel: label left of the first column (e.g. ``"Queries"``).
        titles: one title per column.
        figsize: size of one cell in inches.
        cmap: colour map.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    m = _np(matrices)
    if m.ndim == 2:
        m = m[None, None]
    if m.ndim != 4:
        raise ValueError(f"matrices must be [num_rows, num_cols, n_queries, n_keys], got shape {m.shape}")
    num_rows, num_cols = m.shape[:2]
    if titles is not None and len(titles) != num_cols:
        raise ValueError(f"got {len(titles)} titles for {num_cols} columns")
    fig, axes = plt.subplots(num_rows, num_cols, figsize=(figsize[0] * num_cols, figsize[1] * num_rows),
                             sharex=True, sharey=True, squeeze=False)
    vmin, vmax = float(m.min()), float(m.max())
    for i in range(num_rows):
        for j in range(num_cols):
            ax = axes[i, j]
            pcm = ax.imshow(m[i, j], cmap=cmap, vmin=vmin, vmax=vmax)
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if titles is not None:
                ax.set_title(titles[j])
    fig.colorbar(pcm, ax=axes, shrink=0.6)
    return fig


__all__ = ["plot_attention_overlay", "plot_head_grid", "show_heatmaps"]
