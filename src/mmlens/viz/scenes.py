"""Figures of the synthetic world: scenes with captions, masks and boxes, hard negatives, questions,
colour statistics.

Every helper takes plain data from :mod:`mmlens.data` (a ``Scene`` or a ``RenderedScene``) and returns
the matplotlib Figure it drew, so a chapter ends its cell with ``plt.show()``.
"""
from __future__ import annotations

import textwrap
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "plot_scenes",
    "plot_masks",
    "plot_hard_negatives",
    "plot_questions",
    "plot_colour_given_shape",
    "plot_pair_counts",
]

TRUE_COLOUR = "#1a7f37"  # green for true captions and correct answers
FALSE_COLOUR = "#c62828"  # red for false captions


def _scene_types():  # late import keeps `import mmlens.viz` light
    from mmlens.data.render import RenderedScene
    from mmlens.data.world import Scene

    return Scene, RenderedScene


def _image_of(item, resolution: int, where: str) -> np.ndarray:
    """The (H, W, 3) uint8 image of a Scene (rendered antialiased) or of a RenderedScene."""
    Scene, RenderedScene = _scene_types()
    if isinstance(item, RenderedScene):
        return item.image
    if isinstance(item, Scene):
        from mmlens.data.render import render_scene

        return render_scene(item, resolution=resolution, antialias=True).image
    raise TypeError(f"{where} must be a Scene or a RenderedScene, got {type(item).__name__}; "
                    "build one with mmlens.data.make_scene")


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def plot_scenes(scenes: Sequence, captions: Sequence[str] | None = None, ncols: int = 4,
                resolution: int = 128, titles: Sequence[str] | None = None, wrap: int = 26,
                size: float = 2.2):
    """A grid of rendered scenes, each with its caption written under it.

    Args:
        scenes: Scenes (rendered here, antialiased) or RenderedScenes.
        captions: one caption per scene, or None.
        ncols: images per row.
        resolution: pixels per side when rendering Scenes.
        titles: optional short title above each image (e.g. the caption's kind).
        wrap: characters per caption line.
        size: inches per image side.

    Returns:
        The Figure, with one Axes per scene.
    """
    import matplotlib.pyplot as plt

    scenes = list(scenes)
    if not scenes:
        raise ValueError("scenes is empty; pass at least one Scene (e.g. make_scenes(8))")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols={ncols!r} must be a positive int")
    for name, labels in (("captions", captions), ("titles", titles)):
        if labels is not None and len(labels) != len(scenes):
            raise ValueError(f"{name} has {len(labels)} entries for {len(scenes)} scenes; give one per scene")
    ncols = min(ncols, len(scenes))
    nrows = -(-len(scenes) // ncols)
    n_lines = max((len(textwrap.wrap(c, wrap)) for c in captions), default=0) if captions else 0
    height = size + 0.18 * n_lines + (0.3 if titles else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(scenes):
            fig.delaxes(ax)
            continue
        ax.imshow(_image_of(scenes[k], resolution, f"scenes[{k}]"))
        _framed(ax)
        if titles is not None:
            ax.set_title(titles[k], fontsize=9, color="#555555")
        if captions is not None:
            ax.text(0.5, -0.04, _wrap(captions[k], wrap), transform=ax.transAxes, ha="center", va="top",
                    fontsize=8.5)
    fig.tight_layout()
    return fig


def _framed(ax) -> None:
    """No ticks, a thin grey frame: white scenes stay visibly bounded."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#bbbbbb")


def _object_label(obj) -> str:
    return f"{obj.size} {obj.colour} {obj.shape}"


def plot_masks(rendered, ncols: int = 4, size: float = 2.4):
    """One rendered scene as the world knows it: the image with boxes, the id map, one mask per object.

    Args:
        rendered: a :class:`~mmlens.data.RenderedScene` (``render_scene(scene, resolution)``).
        ncols: panels per row.
        size: inches per panel side.

    Returns:
        The Figure, with 2 + (number of objects) Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    _, RenderedScene = _scene_types()
    if not isinstance(rendered, RenderedScene):
        raise TypeError(f"rendered must be a RenderedScene, got {type(rendered).__name__}; "
                        "call mmlens.data.render_scene(scene) first")
    objects = rendered.scene.objects
    n_panels = 2 + len(objects)
    ncols = max(1, min(ncols, n_panels))
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.35) * nrows), squeeze=False)
    axes = list(axes.flat)
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    # image with one labelled box per object
    ax = axes[0]
    ax.imshow(rendered.image)
    for k, (x0, y0, x1, y1) in enumerate(rendered.boxes):
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.5, ec="black"))
        ax.text(x0 - 0.5, y0 - 1.5, str(k), fontsize=8, color="white", va="bottom",
                bbox=dict(facecolor="black", pad=1, lw=0))
    ax.set_title("image and boxes", fontsize=10)
    # id map: background light, object k a darker grey; no hues, so ids are not mistaken for colours
    greys = np.linspace(0.45, 0.85, max(len(objects), 1))
    palette = ["#f2f2f2"] + [plt.get_cmap("Greys")(g) for g in greys[: len(objects)]]
    ax = axes[1]
    ax.imshow(rendered.id_map + 1, cmap=ListedColormap(palette), vmin=0, vmax=len(objects),
              interpolation="nearest")
    for k, obj in enumerate(objects):
        ys, xs = np.nonzero(rendered.id_map == k)
        if len(xs):
            ax.text(xs.mean(), ys.mean(), str(k), ha="center", va="center", fontsize=9, color="white",
                    fontweight="bold")
    ax.set_title("id map (−1 = background)", fontsize=10)
    for k, obj in enumerate(objects):
        ax = axes[2 + k]
        ax.imshow(rendered.masks[k], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"mask {k}: {_object_label(obj)}", fontsize=8.5)
    for ax in axes[:n_panels]:
        _framed(ax)
    fig.tight_layout()
    return fig


def _text_panel(ax, lines: Sequence[tuple[str, str, str]], wrap: int) -> None:
    """Write (label, text, colour) lines top to bottom on an empty Axes."""
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    y = 0.97
    step = 0.9 / max(len(lines), 1)
    for label, text, colour in lines:
        ax.text(0.0, y, label, fontsize=9, color="#555555", va="top")
        ax.text(0.0, y - 0.075, _wrap(text, wrap), fontsize=10.5, color=colour, va="top")
        y -= step


def plot_hard_negatives(scene, caption: str, negatives: Mapping[str, str], resolution: int = 160,
                        wrap: int = 48):
    """A scene beside its true caption and its hard negatives, each marked by the independent checker.

    Args:
        scene: the Scene (or RenderedScene) the captions describe.
        caption: a caption of the scene.
        negatives: kind -> negative caption, as returned by :func:`mmlens.data.make_hard_negatives`.
        resolution: pixels per side when rendering a Scene.
        wrap: characters per caption line.

    Returns:
        The Figure: an image Axes and a text Axes with 1 + len(negatives) captions.
    """
    import matplotlib.pyplot as plt

    from mmlens.data.checker import caption_is_true

    Scene, RenderedScene = _scene_types()
    if not isinstance(caption, str) or not caption:
        raise ValueError(f"caption must be a non-empty string, got {caption!r}")
    if not isinstance(negatives, Mapping) or not negatives:
        raise ValueError(f"negatives must be a non-empty dict kind -> caption, got {negatives!r}; "
                         "use mmlens.data.make_hard_negatives(scene, caption)")
    image = _image_of(scene, resolution, "scene")
    objects_of = scene.scene if isinstance(scene, RenderedScene) else scene
    entries = [("caption", caption)] + [(kind.replace("_", " "), text) for kind, text in negatives.items()]
    lines = []
    for label, text in entries:
        truth = caption_is_true(text, objects_of)
        lines.append((f"{label}  (checker: {'true' if truth else 'false'})", text,
                      TRUE_COLOUR if truth else FALSE_COLOUR))
    fig, (ax_img, ax_txt) = plt.subplots(1, 2, figsize=(7.6, 2.9), gridspec_kw={"width_ratios": [1, 1.7]})
    ax_img.imshow(image)
    _framed(ax_img)
    _text_panel(ax_txt, lines, wrap)
    fig.tight_layout()
    return fig


def plot_questions(scene, questions: Sequence, resolution: int = 160, wrap: int = 48):
    """A scene beside questions about it and their answers.

    Args:
        scene: the Scene (or RenderedScene).
        questions: :class:`~mmlens.data.Question` objects or (question, answer) pairs.
        resolution: pixels per side when rendering a Scene.
        wrap: characters per question line.

    Returns:
        The Figure: an image Axes and a text Axes with one line per question.
    """
    import matplotlib.pyplot as plt

    questions = list(questions)
    if not questions:
        raise ValueError("questions is empty; pass e.g. mmlens.data.make_questions(scene)")
    pairs = []
    for q in questions:
        if hasattr(q, "text") and hasattr(q, "answer"):
            pairs.append((getattr(q, "kind", "question"), q.text, q.answer))
        elif isinstance(q, (tuple, list)) and len(q) == 2:
            pairs.append(("question", str(q[0]), str(q[1])))
        else:
            raise ValueError(f"cannot read question {q!r}; give Question objects or (text, answer) pairs")
    image = _image_of(scene, resolution, "scene")
    fig, (ax_img, ax_txt) = plt.subplots(1, 2, figsize=(7.6, max(2.9, 0.62 * len(pairs))),
                                         gridspec_kw={"width_ratios": [1, 1.7]})
    ax_img.imshow(image)
    _framed(ax_img)
    lines = [(kind, f"{text}?  →  {answer}", "black") for kind, text, answer in pairs]
    _text_panel(ax_txt, lines, wrap)
    fig.tight_layout()
    return fig


def plot_colour_given_shape(measured: Mapping[str, float], requested: Mapping[str, float] | None = None,
                            shape: str | None = None, ax=None, title: str | None = None):
    """Bars of P(colour | shape): measured frequencies, and the requested probabilities beside them.

    Args:
        measured: colour -> frequency (e.g. from counting objects of one shape in many scenes).
        requested: colour -> probability the world was asked for (e.g. ``colour_distribution``), or None.
        shape: the shape, for the axis label.
        ax: Axes to draw on (default: a new figure).
        title: Axes title.

    Returns:
        The Figure.
    """
    import matplotlib.pyplot as plt

    from mmlens.data.world import COLOUR_RGB

    if not isinstance(measured, Mapping) or not measured:
        raise ValueError(f"measured must be a non-empty dict colour -> frequency, got {measured!r}")
    colours = list(measured)
    unknown = [c for c in colours if c not in COLOUR_RGB] + [c for c in (requested or {}) if c not in COLOUR_RGB]
    if unknown:
        raise ValueError(f"unknown colour {unknown[0]!r}; use colours from mmlens.data.COLOURS")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 3.0))
    else:
        fig = ax.figure
    x = np.arange(len(colours))
    width = 0.4 if requested is not None else 0.7
    fills = [np.array(COLOUR_RGB[c]) / 255 for c in colours]
    ax.bar(x - (width / 2 if requested is not None else 0), [measured[c] for c in colours], width,
           color=fills, edgecolor="black", lw=0.6, label="measured")
    if requested is not None:
        ax.bar(x + width / 2, [requested.get(c, 0.0) for c in colours], width, color="white",
               edgecolor=fills, hatch="///", lw=1.2, label="requested")
        ax.legend(frameon=False, fontsize=9)
    ax.set_xticks(x, colours)
    ax.set_ylabel(f"P(colour | {shape})" if shape else "P(colour | shape)")
    ax.set_ylim(0, 1.05 * max(1e-9, max(measured.values()), max((requested or {0: 0}).values())))
    if title:
        ax.set_title(title)
    return fig


def plot_pair_counts(scenes: Sequence, ax=None, title: str | None = None, highlight=None):
    """Heatmap of how often each (colour, shape) pair occurs among the objects of ``scenes``.

    Args:
        scenes: Scenes.
        ax: Axes to draw on (default: a new figure).
        title: Axes title.
        highlight: a (colour, shape) pair to outline, e.g. a held-out combination.

    Returns:
        The Figure; the Axes holds one count label per cell.
    """
    import matplotlib.pyplot as plt

    from mmlens.data.world import COLOURS, SHAPES

    Scene, _ = _scene_types()
    scenes = list(scenes)
    if not scenes or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError("scenes must be a non-empty list of Scene (e.g. make_scenes(1000))")
    if highlight is not None and (len(highlight) != 2 or highlight[0] not in COLOURS or highlight[1] not in SHAPES):
        raise ValueError(f"highlight={highlight!r} must be a (colour, shape) pair, e.g. ('red', 'triangle')")
    counts = Counter((o.colour, o.shape) for s in scenes for o in s.objects)
    table = np.array([[counts[(c, s)] for s in SHAPES] for c in COLOURS])  # (colours, shapes)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 3.6))
    else:
        fig = ax.figure
    ax.imshow(table, cmap="Greys", vmin=0, vmax=max(1, 2 * table.max()), aspect="auto")
    for i in range(len(COLOURS)):
        for j in range(len(SHAPES)):
            ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=8)
    if highlight is not None:
        i, j = COLOURS.index(highlight[0]), SHAPES.index(highlight[1])
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=FALSE_COLOUR, lw=2.5))
    ax.set_xticks(range(len(SHAPES)), SHAPES, rotation=30)
    ax.set_yticks(range(len(COLOURS)), COLOURS)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    return fig
