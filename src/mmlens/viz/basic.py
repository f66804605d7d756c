"""Basic figures: images, patch grids, token strips and matrices."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _to_numpy_image(image) -> np.ndarray:
    """Accept a PIL image, a uint8/float (H, W, C) array or a (C, H, W) tensor; return (H, W, C) array."""
    if hasattr(image, "convert"):  # PIL
        return np.asarray(image.convert("RGB"))
    if hasattr(image, "detach"):  # torch
        image = image.detach().cpu().numpy()
        if image.ndim == 3 and image.shape[0] in (1, 3):
            image = image.transpose(1, 2, 0)
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (H, W), (H, W, C) or (C, H, W), got {image.shape}")
    return image


def show_image(image, ax=None, title: str | None = None):
    """Draw one image without axes; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    ax.imshow(_to_numpy_image(image))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_patch_grid(image, patch_size: int, ax=None, numbers: bool = True, title: str | None = None):
    """An image with its patch grid drawn on top and each patch numbered in reading order."""
    import matplotlib.pyplot as plt

    array = _to_numpy_image(image)
    h, w = array.shape[:2]
    if h % patch_size or w % patch_size:
        raise ValueError(f"image of size {h}x{w} is not divisible by patch_size={patch_size}")
    ax = show_image(array, ax, title)
    for y in range(0, h + 1, patch_size):
        ax.axhline(y - 0.5, color="white", lw=1)
    for x in range(0, w + 1, patch_size):
        ax.axvline(x - 0.5, color="white", lw=1)
    if numbers:
        cols = w // patch_size
        for k in range((h // patch_size) * cols):
            r, c = divmod(k, cols)
            ax.text(c * patch_size + 3, r * patch_size + 3, str(k), color="white", fontsize=7, va="top",
                    bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))
    return ax


def plot_patch_sequence(patches, patch_size: int, channels: int = 3, n_show: int = 12, title: str | None = None):
    """The first ``n_show`` patches of one image as the sequence a transformer reads, left to right.

    Args:
        patches: ``(N, C * p * p)`` rows as returned by :func:`mmlens.patches.patchify` for one image.
    """
    import matplotlib.pyplot as plt

    patches = np.asarray(patches.detach().cpu() if hasattr(patches, "detach") else patches)
    n = min(n_show, len(patches))
    fig, axes = plt.subplots(1, n, figsize=(1.0 * n, 1.3))
    for k, ax in enumerate(np.atleast_1d(axes)):
        patch = patches[k].reshape(channels, patch_size, patch_size).transpose(1, 2, 0)
        ax.imshow(np.clip(patch, 0, 1) if patch.dtype.kind == "f" else patch)
        ax.set_title(str(k), fontsize=8)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, y=1.05)
    return fig


def plot_tokens(pieces: Sequence[tuple[str, int]], title: str | None = None, per_row: int = 8):
    """Tokens as boxes, the text piece on top and its integer id below."""
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(pieces) // per_row))
    fig, ax = plt.subplots(figsize=(1.2 * min(per_row, len(pieces)) + 0.4, 0.95 * rows + 0.3))
    for k, (piece, token_id) in enumerate(pieces):
        r, c = divmod(k, per_row)
        special = piece.startswith("<")
        ax.add_patch(plt.Rectangle((c * 1.2, -r), 1.1, 0.85, facecolor="#fde8c8" if special else "#dbe9f6",
                                   edgecolor="#555555"))
        ax.text(c * 1.2 + 0.55, -r + 0.55, piece, ha="center", va="center", family="monospace",
                fontsize=8 if len(piece) <= 11 else 6)
        ax.text(c * 1.2 + 0.55, -r + 0.2, str(token_id), ha="center", va="center", fontsize=8, color="#444444")
    ax.set_xlim(-0.1, 1.2 * min(per_row, len(pieces)))
    ax.set_ylim(-rows + 0.85, 0.95)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_matrix(matrix, ax=None, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
                cmap: str = "RdBu_r", symmetric: bool = True, colorbar: bool = True):
    """A matrix as a heatmap (rows down, columns across), zero-centred by default."""
    import matplotlib.pyplot as plt

    m = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"plot_matrix needs a 2-D matrix, got shape {m.shape}")
    ax = ax or plt.gca()
    if symmetric:
        lim = float(np.abs(m).max()) or 1.0
        im = ax.imshow(m, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    else:
        im = ax.imshow(m, cmap=cmap, aspect="auto", interpolation="nearest")
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or "")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    return ax
