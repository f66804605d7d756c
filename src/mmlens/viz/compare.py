"""Figures comparing saliency methods: methods side by side on a few scenes, scores per layer and head."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mmlens.viz.attention import _display_image, _np, plot_attention_overlay


def _outline(ax, mask, colour: str = "white") -> None:
    """Draw the outline of a bool ``(H, W)`` mask (image coordinates)."""
    m = np.asarray(mask, dtype=float)
    if m.any():
        ax.contour(m, levels=[0.5], colors=colour, linewidths=1.0)


def plot_method_comparison(
    images: Sequence,
    maps: Mapping[str, Sequence],
    targets: Sequence | None = None,
    row_labels: Sequence[str] | None = None,
    size: float = 1.45,
    alpha: float = 0.55,
    cmap: str = "jet",
):
    """Every method's map over the same images: one row per image, one column per method.

    Args:
        images: ``N`` images (PIL, ``(H, W, 3)`` arrays or ``(3, H, W)`` tensors).
        maps: method name -> ``N`` maps ``(grid_h, grid_w)`` (e.g. a ``[N, gh, gw]`` tensor).
        targets: ``N`` bool ``(H, W)`` masks whose outline is drawn on every panel (the named object).
        row_labels: ``N`` labels written left of each row (e.g. the texts).
        size: inches per panel.
        alpha: map opacity.
        cmap: colour map of the maps (each scaled to its own [0, 1]).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    n = len(images)
    if n == 0:
        raise ValueError("images is empty; pass at least one image")
    if not maps:
        raise ValueError("maps is empty; pass {method_name: maps}")
    for name, m in maps.items():
        if len(m) != n:
            raise ValueError(f"method {name!r} has {len(m)} maps for {n} images; pass one map per image")
    for what, seq in (("targets", targets), ("row_labels", row_labels)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"got {len(seq)} {what} for {n} images")
    methods = list(maps)
    cols = len(methods) + 1
    label_room = 1.2 if row_labels is not None else 0.2
    fig, axes = plt.subplots(n, cols, figsize=(size * cols + label_room, size * n + 0.4), squeeze=False)
    for i, image in enumerate(images):
        img = _display_image(image)
        ax = axes[i, 0]
        ax.imshow(img)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():  # a thin grey frame: white backgrounds need an edge
            spine.set_visible(True)
            spine.set_edgecolor("0.7")
            spine.set_linewidth(0.8)
        if row_labels is not None:
            ax.set_ylabel(row_labels[i], fontsize=8, rotation=0, ha="right", va="center", wrap=True)
        for j, method in enumerate(methods, start=1):
            plot_attention_overlay(img, _np(maps[method][i]), ax=axes[i, j], alpha=alpha, cmap=cmap)
        if targets is not None:
            for j in range(1, cols):  # the outline on the bare image would hide its edge
                _outline(axes[i, j], targets[i])
    for j, title in enumerate(["image"] + methods):
        axes[0, j].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_head_scores(
    scores,
    ax=None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    annotate: bool | None = None,
):
    """A ``[layer, head]`` table of scores (e.g. from :func:`mmlens.inspect.compare.score_heads`) as a heatmap.

    Args:
        scores: ``[layer, head]`` array.
        ax: matplotlib Axes (default: a new figure's).
        title: optional title.
        vmin, vmax: colour range (scores such as AUC live in [0, 1]).
        cmap: colour map.
        annotate: write each value in its cell (default: when there are at most 64 cells).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    s = _np(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be [layer, head], got shape {s.shape}")
    n_layers, n_heads = s.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.0 + 0.6 * n_heads, 9), min(0.8 + 0.45 * n_layers, 7)))
    im = ax.imshow(s, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if annotate is None:
        annotate = s.size <= 64
    if annotate:
        mid = (vmin + vmax) / 2
        for i in range(n_layers):
            for h in range(n_heads):
                ax.text(h, i, f"{s[i, h]:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if s[i, h] > mid else "white")
    step_h = max(1, n_heads // 12)
    step_l = max(1, n_layers // 12)
    ax.set_xticks(range(0, n_heads, step_h))
    ax.set_yticks(range(0, n_layers, step_l))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    if title:
        ax.set_title(title)
    return ax


__all__ = ["plot_head_scores", "plot_method_comparison"]
