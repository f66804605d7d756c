"""Figures for distribution shift and for the application demos.

* :func:`plot_shift_examples`: a few scenes of each shift preset, one row per preset;
* :func:`plot_shift_accuracy`: zero-shot accuracy per attribute under each preset, baseline and chance marked;
* :func:`plot_photo_predictions`: photographs with the model's top prompts under each;
* :func:`plot_ranked_texts`: one image beside ranked texts (captioning, question answering);
* :func:`plot_ranked_images`: a text above ranked images (retrieval, generation by search).

Every helper returns the Figure, so a chapter cell ends with ``plt.show()``.
"""
from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np

from mmlens.viz.scenes import FALSE_COLOUR, TRUE_COLOUR, _image_of

__all__ = [
    "plot_shift_examples",
    "plot_shift_accuracy",
    "plot_photo_predictions",
    "plot_ranked_texts",
    "plot_ranked_images",
]

BASELINE_COLOUR = "#777777"
SHIFT_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def _frame(ax, colour: str = "#bbbbbb", lw: float = 1.0) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(colour)
        spine.set_linewidth(lw)


def _as_image(item, resolution: int, where: str) -> np.ndarray:
    """A Scene / RenderedScene (via the scenes helper) or a PIL image / array, as an (H, W, 3) array."""
    from mmlens.data.render import RenderedScene
    from mmlens.data.world import Scene

    if isinstance(item, (Scene, RenderedScene)):
        return _image_of(item, resolution, where)
    if hasattr(item, "convert"):
        return np.asarray(item.convert("RGB"))
    array = np.asarray(item)
    if array.ndim != 3:
        raise TypeError(f"{where} must be a Scene, a RenderedScene, a PIL image or an (H, W, 3) array, "
                        f"got {type(item).__name__}")
    return array


def plot_shift_examples(examples: Mapping[str, Sequence], descriptions: Mapping[str, str] | None = None,
                        resolution: int = 128, size: float = 1.55):
    """A grid of scenes: one row per shift preset, its name (and what it changes) on the left.

    Args:
        examples: preset name -> scenes (e.g. ``make_shifted_scenes(name, 5)``); rows in this order.
        descriptions: preset name -> one line shown under the name.
        resolution: pixels per side when rendering.
        size: inches per image.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    if not examples:
        raise ValueError("examples is empty; pass {preset name: scenes}")
    ncols = max(len(v) for v in examples.values())
    if ncols == 0:
        raise ValueError("every preset has zero scenes; give each at least one")
    label_width = 2.3
    fig, axes = plt.subplots(len(examples), ncols, squeeze=False,
                             figsize=(label_width + size * ncols, size * len(examples)))
    for r, (name, scenes) in enumerate(examples.items()):
        for c, ax in enumerate(axes[r]):
            if c < len(scenes):
                ax.imshow(_as_image(scenes[c], resolution, f"examples[{name!r}][{c}]"))
                _frame(ax)
            else:
                ax.set_axis_off()
        note = "\n".join(textwrap.wrap((descriptions or {}).get(name, ""), 26))
        axes[r][0].annotate(name, (0, 0.5), xytext=(-12, 8 if note else 0), xycoords="axes fraction",
                            textcoords="offset points", ha="right", va="center", fontsize=10.5,
                            fontweight="bold")
        if note:
            axes[r][0].annotate(note, (0, 0.5), xytext=(-12, -6), xycoords="axes fraction",
                                textcoords="offset points", ha="right", va="top", fontsize=8,
                                color="#555555")
    fig.subplots_adjust(left=label_width / (label_width + size * ncols), right=0.99, top=0.99, bottom=0.01,
                        wspace=0.06, hspace=0.08)
    return fig


def plot_shift_accuracy(table, baseline: str = "none", title: str | None = None):
    """Grouped bars: zero-shot accuracy per attribute (groups) under each preset (bars).

    The baseline bar is grey and its height is carried across the group as a dotted line; a dashed
    black line marks chance (one over the number of classes).

    Args:
        table: a :class:`mmlens.shift.ShiftTable` (``accuracy``, ``chance``).
        baseline: which preset is the unshifted world.
        title: figure title.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    accuracy, chance = table.accuracy, table.chance
    presets, attributes = list(accuracy), list(chance)
    if not presets or not attributes:
        raise ValueError("table is empty; measure it with mmlens.shift.shift_zero_shot")
    colours, k = {}, 0
    for p in presets:
        if p == baseline:
            colours[p] = BASELINE_COLOUR
        else:
            colours[p], k = SHIFT_COLOURS[k % len(SHIFT_COLOURS)], k + 1
    width = 0.8 / len(presets)
    fig, ax = plt.subplots(figsize=(max(6.4, 1.0 + 0.35 * len(presets) * len(attributes)), 3.6))
    for j, p in enumerate(presets):
        xs = np.arange(len(attributes)) - 0.4 + width * (j + 0.5)
        ax.bar(xs, [accuracy[p][a] for a in attributes], width * 0.92, color=colours[p],
               label=f"{p} (baseline)" if p == baseline else p, edgecolor="white", lw=0.5)
    for i, a in enumerate(attributes):
        ax.hlines(chance[a], i - 0.45, i + 0.45, colors="black", linestyles="--", lw=1.0,
                  label="chance" if i == 0 else None)
        if baseline in accuracy:
            ax.hlines(accuracy[baseline][a], i - 0.45, i + 0.45, colors=BASELINE_COLOUR, linestyles=":",
                      lw=1.2)
    ax.set_xticks(np.arange(len(attributes)), attributes)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("zero-shot accuracy")
    ax.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_photo_predictions(photos: Mapping[str, object], predictions: Mapping[str, Sequence[tuple[str, float]]],
                           size: float = 2.4, wrap: int = 26, strip_prefix: str = "a photo of "):
    """Photographs in a row, each with the model's top prompts and probabilities under it.

    Args:
        photos: name -> PIL image.
        predictions: name -> ``[(prompt, probability), ...]`` (:func:`mmlens.shift.predict_photos`).
        size: inches per photo.
        wrap: characters per prompt (longer ones are shortened with "…").
        strip_prefix: left out of every prompt that starts with it, and said once in the title instead.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    names = list(photos)
    if not names:
        raise ValueError("photos is empty; pass name -> PIL image")
    missing = [n for n in names if n not in predictions]
    if missing:
        raise ValueError(f"no predictions for photo {missing[0]!r}; pass predict_photos(...) for the same photos")
    k = max(len(predictions[n]) for n in names)
    height = size + 0.32 * k + 0.75
    fig, axes = plt.subplots(1, len(names), figsize=(size * len(names), height), squeeze=False)
    for ax, name in zip(axes[0], names):
        image = _as_image(photos[name], 0, f"photos[{name!r}]")
        h, w = image.shape[:2]
        side = min(h, w)  # centre crop, as the model's preprocessing does
        ax.imshow(image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side])
        _frame(ax)
        ax.set_title(name, fontsize=10)
        texts = [(t[len(strip_prefix):] if strip_prefix and t.startswith(strip_prefix) else t, p)
                 for t, p in predictions[name]]
        lines = [f"{p:.2f}  {textwrap.shorten(text, wrap, placeholder='…')}" for text, p in texts]
        ax.text(0.0, -0.05, "\n".join(lines), transform=ax.transAxes, ha="left", va="top", fontsize=8.5,
                family="monospace", linespacing=1.45)
    if strip_prefix and all(t.startswith(strip_prefix) for n in names for t, _ in predictions[n]):
        fig.suptitle(f"top prompts “{strip_prefix.strip()} …” and their probabilities", fontsize=10.5)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.6 / height, bottom=(0.32 * k + 0.3) / height,
                        wspace=0.12)
    return fig


def plot_ranked_texts(image, ranked: Sequence[tuple], title: str | None = None, resolution: int = 160,
                      wrap: int = 64, header: str | None = None):
    """One image beside texts ranked by a model, with a bar per score (captioning, question answering).

    Args:
        image: a Scene (rendered here), RenderedScene or PIL image.
        ranked: ``(text, score)`` or ``(text, score, correct)`` best first; ``correct`` colours the text
            green (True) or red (False).
        title: shown above the image.
        resolution: pixels per side when rendering a Scene.
        wrap: characters per text line.
        header: shown above the ranked texts (e.g. the question).

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    ranked = list(ranked)
    if not ranked:
        raise ValueError("ranked is empty; pass [(text, score), ...]")
    height = max(2.6, 0.42 * len(ranked) + (0.5 if header else 0.2))
    fig, (ax_img, ax_txt) = plt.subplots(1, 2, figsize=(8.6, height), gridspec_kw={"width_ratios": [1, 2.2]})
    ax_img.imshow(_as_image(image, resolution, "image"))
    _frame(ax_img)
    if title:
        ax_img.set_title(title, fontsize=10)
    scores = np.array([float(r[1]) for r in ranked])
    lo, hi = min(0.0, scores.min()), max(scores.max(), 1e-9)
    n = len(ranked)
    ax_txt.set_xlim(0, 1)
    ax_txt.set_ylim(n - 0.5, -0.5 - (0.9 if header else 0.0))
    ax_txt.set_axis_off()
    if header:
        ax_txt.text(0.0, -1.0, header, fontsize=10.5, fontweight="bold", va="center")
    for i, r in enumerate(ranked):
        text, score = r[0], float(r[1])
        colour = "black" if len(r) < 3 or r[2] is None else (TRUE_COLOUR if r[2] else FALSE_COLOUR)
        frac = (score - lo) / (hi - lo) if hi > lo else 1.0
        ax_txt.barh(i, 0.22 * frac, left=0.0, height=0.6, color="#dbe9f6", edgecolor="#9bbbd9")
        ax_txt.text(0.01, i, f"{score:.3f}", va="center", fontsize=8.5, family="monospace")
        ax_txt.text(0.25, i, textwrap.shorten(text, wrap, placeholder="…"), va="center", fontsize=9,
                    color=colour, fontweight="bold" if i == 0 else "normal")
    fig.tight_layout()
    return fig


def plot_ranked_images(images: Sequence, scores: Sequence[float], query: str | None = None,
                       labels: Sequence[str] | None = None, correct: Sequence[bool | None] | None = None,
                       resolution: int = 128, size: float = 1.9, wrap: int = 22):
    """A row of images ranked for a text, each with its score (retrieval, generation by search).

    Args:
        images: Scenes, RenderedScenes or PIL images, best first (or in search order).
        scores: one score per image.
        query: the text, shown as the figure title.
        labels: an optional line per image (e.g. "step 3" or the scene's caption).
        correct: per image, True/False frames it green/red (e.g. the checker's verdict); None leaves it grey.
        resolution: pixels per side when rendering Scenes.
        size: inches per image.
        wrap: characters per label line.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("images is empty; pass at least one image")
    for name, values in (("scores", scores), ("labels", labels), ("correct", correct)):
        if values is not None and len(values) != len(images):
            raise ValueError(f"{name} has {len(values)} entries for {len(images)} images; give one per image")
    n_lines = max((len(textwrap.wrap(l, wrap)) for l in labels), default=0) if labels else 0
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.45 + 0.16 * n_lines
                                                                        + (0.35 if query else 0)), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.imshow(_as_image(images[k], resolution, f"images[{k}]"))
        mark = None if correct is None else correct[k]
        _frame(ax, "#bbbbbb" if mark is None else (TRUE_COLOUR if mark else FALSE_COLOUR), 1.0 if mark is None else 2.5)
        ax.set_title(f"{float(scores[k]):.3f}", fontsize=9.5)
        if labels:
            ax.text(0.5, -0.04, "\n".join(textwrap.wrap(labels[k], wrap)), transform=ax.transAxes, ha="center",
                    va="top", fontsize=8)
    if query:
        fig.suptitle(f"“{query}”", fontsize=11)
    fig.tight_layout()
    return fig
