"""Figures for retrieval and few-shot chapters: search results, recall bars, search cost, few-shot curves."""
from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np

from mmlens.viz.basic import _to_numpy_image

TRUE_COLOUR = "#2a9d3a"  # the paired (ground-truth) match
VALID_COLOUR = "#e08e0b"  # not the pair, but the caption is true of the scene
OTHER_COLOUR = "#bbbbbb"

__all__ = ["plot_search_results", "plot_gallery_search", "plot_recall_bars", "plot_search_cost", "plot_index_tradeoff",
           "plot_few_shot_curves"]


def _draw_item(ax, item, width: int = 18) -> None:
    """An image, or a caption drawn as wrapped text in a box of the same size."""
    if isinstance(item, str):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, textwrap.fill(item, width), ha="center", va="center", fontsize=7.5, wrap=True)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.imshow(_to_numpy_image(item))
        ax.set_xticks([])
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)


def _frame(ax, colour: str, width: float) -> None:
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(width)


def plot_search_results(
    queries: Sequence,
    results: Sequence[Sequence],
    is_true: Sequence[Sequence[bool]],
    is_valid: Sequence[Sequence[bool]] | None = None,
    row_titles: Sequence[str] | None = None,
    title: str | None = None,
    item_size: float = 1.25,
):
    """One row per query: the query (image or caption), then its top-k results (images or captions).

    The paired ground-truth result gets a thick green frame; with ``is_valid``, other results that are also
    correct (the caption is true of the scene) get an orange frame.

    Args:
        queries: ``Q`` items, each a caption (str) or an image (PIL, array, tensor).
        results: ``Q`` lists of ``k`` items each.
        is_true: ``(Q, k)`` booleans: is this result the paired match?
        is_valid: optional ``(Q, k)`` booleans: is this result a correct answer all the same?
        row_titles: optional label above each query (e.g. its rank).
        title: figure title.
        item_size: inches per cell.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n_rows = len(queries)
    if n_rows == 0 or len(results) != n_rows or len(is_true) != n_rows:
        raise ValueError(f"need one results row and one is_true row per query, got {n_rows} queries, "
                         f"{len(results)} result rows, {len(is_true)} is_true rows")
    k = len(results[0])
    fig, axes = plt.subplots(n_rows, k + 1, figsize=(item_size * (k + 1) + 0.3, (item_size + 0.2) * n_rows + 0.6),
                             squeeze=False)
    for r in range(n_rows):
        _draw_item(axes[r, 0], queries[r])
        _frame(axes[r, 0], "black", 1.5)
        axes[r, 0].set_title(row_titles[r] if row_titles else "query", fontsize=8)
        for c in range(k):
            ax = axes[r, c + 1]
            _draw_item(ax, results[r][c])
            if is_true[r][c]:
                _frame(ax, TRUE_COLOUR, 4)
            elif is_valid is not None and is_valid[r][c]:
                _frame(ax, VALID_COLOUR, 3)
            else:
                _frame(ax, OTHER_COLOUR, 1)
            if r == 0:
                ax.set_title(f"#{c + 1}", fontsize=8)
    handles = []
    if any(any(row) for row in is_true):
        handles.append(Line2D([], [], color=TRUE_COLOUR, lw=4, label="the paired match"))
    if is_valid is not None:
        handles.append(Line2D([], [], color=VALID_COLOUR, lw=3, label="another correct match (caption is true)"))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_gallery_search(gallery, queries: Sequence[int], direction: str = "text_to_image", k: int = 5,
                        row_titles: Sequence[str] | None = None, title: str | None = None, item_size: float = 1.25):
    """Search a :class:`mmlens.retrieval.Gallery` with some of its own items and draw the results.

    The paired result is framed green; for text<->image search, results of which the caption is true are framed
    orange (:func:`mmlens.retrieval.caption_true_hits`).

    Args:
        gallery: scenes, captions, images and embeddings (:func:`mmlens.retrieval.make_gallery`).
        queries: gallery indices of the queries (captions for text->image, images otherwise).
        direction: ``"text_to_image"``, ``"image_to_text"`` or ``"image_to_image"`` (the query itself is skipped).
        k: results per query.
        row_titles, title, item_size: see :func:`plot_search_results`.

    Returns:
        The matplotlib Figure.
    """
    import torch

    from mmlens import retrieval

    queries = [int(q) for q in queries]
    q = torch.tensor(queries)
    if direction == "text_to_image":
        ids = retrieval.text_to_image(gallery.text_emb[q], gallery.image_emb, k)[1]
        shown_queries, results = [gallery.captions[i] for i in queries], gallery.images
    elif direction == "image_to_text":
        ids = retrieval.image_to_text(gallery.image_emb[q], gallery.text_emb, k)[1]
        shown_queries, results = [gallery.images[i] for i in queries], gallery.captions
    elif direction == "image_to_image":
        scores = retrieval.cosine_scores(gallery.image_emb[q], gallery.image_emb)
        ids = retrieval.top_k(scores, k, exclude=q)[1]
        shown_queries, results = [gallery.images[i] for i in queries], gallery.images
    else:
        raise ValueError(f"direction must be 'text_to_image', 'image_to_text' or 'image_to_image', got {direction!r}")
    rows = ids.tolist()
    is_true = [[j == i for j in row] for i, row in zip(queries, rows)]
    valid = None
    if direction != "image_to_image":
        valid = retrieval.caption_true_hits(gallery.captions, gallery.scenes, ids, direction, queries).tolist()
    return plot_search_results(shown_queries, [[results[j] for j in row] for row in rows], is_true, valid,
                               row_titles=row_titles, title=title, item_size=item_size)


def plot_recall_bars(recalls: Mapping[str, Mapping[str, float]], ax=None, title: str | None = None):
    """Grouped bars of Recall@K for both directions, one bar colour per series.

    Args:
        recalls: ``{series name: {"text_to_image@1": r, ..., "image_to_text@10": r}}``, e.g.
            ``{"strict": retrieval_recall(...), "caption-true": caption_true_recall(...)}``.
        ax: Axes to draw on.
        title: Axes title.
    """
    import matplotlib.pyplot as plt

    if not recalls:
        raise ValueError("recalls is empty; pass {series name: recall dict}")
    keys = list(next(iter(recalls.values())))
    for name, rec in recalls.items():
        if list(rec) != keys:
            raise ValueError(f"series {name!r} has keys {list(rec)}, expected {keys}")
    ax = ax or plt.gca()
    n_series = len(recalls)
    width = 0.8 / n_series
    x = np.arange(len(keys))
    for s, (name, rec) in enumerate(recalls.items()):
        values = [rec[key] for key in keys]
        bars = ax.bar(x + (s - (n_series - 1) / 2) * width, values, width, label=name)
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    labels = [key.replace("text_to_image", "text→image").replace("image_to_text", "image→text").replace("@", "\nR@")
              for key in keys]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("recall")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_search_cost(cost, axes=None, title: str | None = None):
    """Exact versus IVF search as the gallery grows: seconds per query and vectors scored per query (log-log).

    Args:
        cost: a :class:`mmlens.retrieval.SearchCost`.
        axes: two Axes, or ``None`` for a new figure.
        title: figure title.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    sizes = np.asarray(cost.sizes)
    ivf_label = f"IVF (nprobe={cost.nprobe}, √N lists)"
    panels = [
        (axes[0], cost.exact_seconds, cost.ivf_seconds, "time per query (wall clock)", 1e3, "ms per query"),
        (axes[1], cost.exact_scored, cost.ivf_scored, "vectors scored per query", 1, "vectors scored per query"),
    ]
    for ax, exact, ivf, panel_title, scale, ylabel in panels:
        ax.plot(sizes, np.asarray(exact) * scale, "o-", label="exact (brute force)")
        ax.plot(sizes, np.asarray(ivf) * scale, "s-", label=ivf_label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("gallery size N")
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title, fontsize=10)
        ax.legend(fontsize=8, frameon=False)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def plot_index_tradeoff(nprobes: Sequence[int], recall: Sequence[float], scored: Sequence[float], n_gallery: int,
                        ax=None, title: str | None = None):
    """Recall of an approximate index against the share of the gallery it scores, one point per ``nprobe``."""
    import matplotlib.pyplot as plt

    if not len(nprobes) == len(recall) == len(scored):
        raise ValueError(f"nprobes, recall and scored must have one entry each, got {len(nprobes)}, {len(recall)}, "
                         f"{len(scored)}")
    ax = ax or plt.gca()
    share = np.asarray(scored) / n_gallery
    ax.plot(share, recall, "o-")
    for p, x, y in zip(nprobes, share, recall):
        ax.annotate(f"nprobe={p}", (x, y), textcoords="offset points", xytext=(5, -11), fontsize=7)
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("share of the gallery scored per query")
    ax.set_ylabel("recall of the exact top-10")
    ax.set_ylim(0, 1.05)
    if title:
        ax.set_title(title)
    return ax


def plot_few_shot_curves(curves: Mapping, zero_shot: Mapping[str, float], chance: Mapping[str, float] | None = None,
                         extra: Mapping | None = None, title: str | None = None):
    """One panel per task: probe accuracy (mean ± std over seeds) against examples per class, zero-shot dashed.

    Args:
        curves: ``{task: FewShotCurve}`` (:func:`mmlens.fewshot.few_shot_curve`).
        zero_shot: ``{task: zero-shot accuracy}`` on the same test set.
        chance: optional ``{task: chance accuracy}``, dotted.
        extra: optional second family of curves, e.g. probes initialised from zero-shot.
        title: figure title.

    Returns:
        The array of Axes.
    """
    import matplotlib.pyplot as plt

    tasks = list(curves)
    if not tasks or any(t not in zero_shot for t in tasks):
        raise ValueError(f"need a zero-shot accuracy for every task {tasks}, got {list(zero_shot)}")
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.3 * len(tasks), 3.5), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        families = [(curves[task], "linear probe", "C0", "o-")]
        if extra is not None and task in extra:
            families.append((extra[task], "probe from zero-shot init", "C2", "s-"))
        for curve, label, colour, style in families:
            ks, mean, std = np.asarray(curve.ks), curve.mean, curve.std
            ax.plot(ks, mean, style, color=colour, label=label, ms=4)
            ax.fill_between(ks, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        ax.axhline(zero_shot[task], color="C3", ls="--", label="zero-shot")
        if chance is not None and task in chance:
            ax.axhline(chance[task], color="grey", ls=":", label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("labelled examples per class")
        ax.set_title(f"{task} (zero-shot {zero_shot[task]:.2f})", fontsize=10)
        ax.set_ylim(0, 1.02)
    axes[0, 0].set_ylabel("test accuracy")
    handles, names = [], []
    for ax in axes[0]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    names = [n + " (mean ± std over seeds)" if n.startswith(("linear", "probe")) else n for n in names]
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return axes[0]
