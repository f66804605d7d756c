"""Figures for zero-shot classification: confusion matrices, class probabilities, template accuracy, softmax."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mmlens.viz.basic import _to_numpy_image, show_image

_BAR = "#4c78a8"
_TRUE = "#f58518"


def _np(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (array or tensor), got {type(x).__name__}") from None


def plot_confusion_matrix(confusion, class_names: Sequence[str], ax=None, normalize: bool = True,
                          title: str | None = None, cmap: str = "Blues"):
    """Confusion matrix, rows = true class, columns = predicted class, each cell annotated.

    Args:
        confusion: ``(C, C)`` counts (``zero_shot_predict(...)["confusion"]``).
        class_names: ``C`` names.
        normalize: show each row as fractions of its true class (the diagonal is per-class recall).
    """
    import matplotlib.pyplot as plt

    m = _np(confusion, "confusion")
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(class_names):
        raise ValueError(f"confusion must be (C, C) with C = len(class_names) = {len(class_names)}, got {m.shape}")
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    ax = ax or plt.gca()
    ax.imshow(m, cmap=cmap, vmin=0, vmax=1 if normalize else m.max() or 1, interpolation="nearest")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            text = f"{m[i, j]:.2f}" if normalize else str(int(m[i, j]))
            dark = m[i, j] > (0.5 if normalize else 0.5 * m.max())
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "")
    return ax


def plot_class_probabilities(image, probs, class_names: Sequence[str], true: str | None = None,
                             title: str | None = None, figsize: tuple[float, float] = (7.0, 2.6)):
    """One image beside a horizontal bar per class: the classifier's probabilities.

    Args:
        image: PIL image, uint8 ``(H, W, 3)`` array or ``(3, H, W)`` tensor.
        probs: ``(C,)`` probabilities.
        class_names: ``C`` names.
        true: the true class, drawn in another colour.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    p = _np(probs, "probs").reshape(-1)
    if len(p) != len(class_names):
        raise ValueError(f"got {len(p)} probabilities for {len(class_names)} class names")
    if true is not None and true not in class_names:
        raise ValueError(f"true={true!r} is not one of {list(class_names)}")
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1, 2.2]})
    show_image(_to_numpy_image(image), ax=ax_img)
    ax_img.set_axis_on()  # a thin frame: the synthetic world's white background would vanish on white paper
    ax_img.set_xticks([])
    ax_img.set_yticks([])
    for spine in ax_img.spines.values():
        spine.set_visible(True)
        spine.set_color("#bbbbbb")
    y = np.arange(len(p))[::-1]
    colours = [_TRUE if name == true else _BAR for name in class_names]
    ax_bar.barh(y, p, color=colours)
    ax_bar.set_yticks(y, class_names)
    ax_bar.set_xlim(0, 1.12)
    for yi, pi in zip(y, p):
        ax_bar.text(pi + 0.01, yi, f"{pi:.2f}", va="center", fontsize=8)
    ax_bar.set_xlabel("probability")
    if title:
        ax_bar.set_title(title)
    fig.tight_layout()
    return fig


def plot_template_accuracy(table: Mapping[str, Mapping[str, float]], ax=None, title: str | None = None,
                           chance: Mapping[str, float] | None = None, highlight: Sequence[str] = ()):
    """Accuracy per template (rows of ``table``), one bar per attribute, templates down the side.

    Args:
        table: ``{template: {attribute: accuracy}}`` (``mmlens.prompts.template_accuracy_table``).
        chance: ``{attribute: chance accuracy}``, drawn as dashed lines.
        highlight: row names to print in bold (e.g. the ensemble).
    """
    import matplotlib.pyplot as plt

    if not table:
        raise ValueError("table is empty")
    rows = list(table)
    columns = list(table[rows[0]])
    ax = ax or plt.gca()
    height = 0.8 / len(columns)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    y = np.arange(len(rows))[::-1]
    for k, col in enumerate(columns):
        values = [table[r][col] for r in rows]
        offset = (len(columns) - 1) / 2 - k
        ax.barh(y + offset * height, values, height=height, label=col, color=palette[k % len(palette)])
        if chance and col in chance:
            ax.axvline(chance[col], color=palette[k % len(palette)], ls="--", lw=1)
    ax.set_yticks(y, [r.replace("{}", "{ }") for r in rows])
    for label, row in zip(ax.get_yticklabels(), rows):
        if row in highlight:
            label.set_fontweight("bold")
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("zero-shot accuracy" + (" (dashed: chance)" if chance else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title or "")
    return ax


def plot_softmax_temperature(cosines, class_names: Sequence[str], scales: Sequence[float],
                             learned: float | None = None, true: str | None = None, size: float = 2.2):
    """The same cosine similarities through the softmax at several scales (1 / temperature), one panel each.

    Args:
        cosines: ``(C,)`` cosine similarities of one image with each class prompt.
        class_names: ``C`` names.
        scales: logit scales to compare; the panel whose scale equals ``learned`` is marked "learned".
        true: the true class, drawn in another colour.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    c = _np(cosines, "cosines").reshape(-1)
    if len(c) != len(class_names):
        raise ValueError(f"got {len(c)} cosines for {len(class_names)} class names")
    if not len(scales) or any(s <= 0 for s in scales):
        raise ValueError(f"scales must be positive numbers, got {list(scales)}")
    fig, axes = plt.subplots(1, len(scales), figsize=(size * len(scales), size + 0.4), sharey=True)
    colours = [_TRUE if name == true else _BAR for name in class_names]
    for ax, s in zip(np.atleast_1d(axes), scales):
        z = s * c
        p = np.exp(z - z.max())
        p /= p.sum()
        ax.bar(range(len(c)), p, color=colours)
        ax.set_xticks(range(len(c)), class_names, rotation=60, fontsize=8)
        mark = " (learned)" if learned is not None and np.isclose(s, learned, rtol=1e-3) else ""
        ax.set_title(f"scale {s:.3g}{mark}", fontsize=9)
        ax.set_ylim(0, 1.05)
    np.atleast_1d(axes)[0].set_ylabel("probability")
    fig.tight_layout()
    return fig


def plot_class_name_accuracy(results: Mapping[str, Mapping[str, float]], chance: Mapping[str, float] | None = None,
                             size: tuple[float, float] = (3.0, 2.6)):
    """One panel per attribute: accuracy for each set of class names (``mmlens.prompts.class_name_accuracy``).

    Args:
        results: ``{attribute: {variant: accuracy}}``.
        chance: ``{attribute: chance accuracy}``, drawn as a dashed line.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results is empty")
    fig, axes = plt.subplots(1, len(results), figsize=(size[0] * len(results), size[1]), sharey=True)
    for ax, (attribute, accs) in zip(np.atleast_1d(axes), results.items()):
        names = list(accs)
        ax.bar(range(len(names)), [accs[n] for n in names], color=_BAR)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        for k, n in enumerate(names):
            ax.text(k, accs[n] + 0.02, f"{accs[n]:.2f}", ha="center", fontsize=8)
        if chance and attribute in chance:
            ax.axhline(chance[attribute], color="gray", ls="--", lw=1)
        ax.set_title(attribute)
        ax.set_ylim(0, 1.1)
    np.atleast_1d(axes)[0].set_ylabel("zero-shot accuracy")
    fig.tight_layout()
    return fig


def plot_ensemble_curve(curves: Mapping[str, Sequence[float]], ax=None, title: str | None = None,
                        chance: Mapping[str, float] | None = None):
    """Accuracy against the number of templates averaged, one line per attribute.

    Args:
        curves: ``{attribute: accuracies}`` (``mmlens.prompts.ensemble_curve``), entry ``k`` = ``k + 1`` templates.
        chance: ``{attribute: chance accuracy}``, dotted lines in the same colours.
    """
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("curves is empty")
    ax = ax or plt.gca()
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, values) in enumerate(curves.items()):
        x = np.arange(1, len(values) + 1)
        ax.plot(x, values, marker="o", color=palette[k % len(palette)], label=name)
        if chance and name in chance:
            ax.axhline(chance[name], color=palette[k % len(palette)], ls=":", lw=1)
    ax.set_xlabel("number of templates averaged")
    ax.set_ylabel("zero-shot accuracy")
    ax.set_ylim(0, 1.05)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    ax.set_title(title or "")
    return ax
