"""Figures of embedding spaces and of what layers know: scatters, similarity heatmaps, accuracy by layer,
an interactive (plotly) scatter for the HTML book and an ipywidgets explorer for live sessions."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "plot_embeddings",
    "plot_similarity",
    "plot_layer_accuracy",
    "plot_embeddings_interactive",
    "plotly_html",
    "show_plotly",
    "make_layer_head_explorer",
]

MODALITY_COLOURS = {"image": "#1f77b4", "text": "#ff7f0e"}
MODALITY_MARKERS = {"image": "o", "text": "^"}  # matplotlib
_PLOTLY_MARKERS = {"image": "circle", "text": "triangle-up"}


def _numpy(x, name: str) -> np.ndarray:
    x = np.asarray(x.detach().cpu().float() if hasattr(x, "detach") else x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D) embeddings, got shape {x.shape}")
    return x


def _joint_projection(image_emb, text_emb, method: str, seed: int, normalize: bool):
    """Project images and texts into one 2-D map; returns (image_xy (N, 2), text_xy (M, 2) or None)."""
    from mmlens.inspect.embedding import project_2d

    image = _numpy(image_emb, "image_emb")
    text = None if text_emb is None else _numpy(text_emb, "text_emb")
    if text is not None and text.shape[1] != image.shape[1]:
        raise ValueError(f"image_emb and text_emb have widths {image.shape[1]} and {text.shape[1]}; they must match")
    both = image if text is None else np.concatenate([image, text])
    if normalize:  # CLIP compares directions: look at the sphere it lives on
        both = both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-12)
    xy = project_2d(both, method=method, seed=seed)
    return xy[: len(image)], (None if text is None else xy[len(image):])


def _split_labels(labels, n_image: int, n_text: int) -> tuple[list | None, list | None]:
    """Labels for images and texts: one list for both (paired) or one label per point (images then texts)."""
    if labels is None:
        return None, None
    labels = [str(v) for v in (labels.tolist() if hasattr(labels, "tolist") else labels)]
    if len(labels) == n_image + n_text:
        return labels[:n_image], labels[n_image:]
    if len(labels) == n_image and n_text in (0, n_image):
        return labels, (labels if n_text else [])
    raise ValueError(
        f"labels has {len(labels)} entries; give one per image ({n_image}, shared with paired texts) "
        f"or one per point ({n_image + n_text}, images first)"
    )


def _label_colours(names: Sequence[str]) -> dict[str, str]:
    """Colour names of the synthetic world draw in their own colour; anything else uses tab10."""
    import matplotlib.colors as mcolors
    from matplotlib import colormaps

    try:
        from mmlens.data import COLOUR_RGB
    except ImportError:  # pragma: no cover - the data package ships with mmlens
        COLOUR_RGB = {}
    if names and all(n in COLOUR_RGB for n in names):
        return {n: mcolors.to_hex(np.asarray(COLOUR_RGB[n]) / 255) for n in names}
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: mcolors.to_hex(cmap(i % cmap.N)) for i, n in enumerate(names)}


def _ordered_unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def plot_embeddings(image_emb, text_emb=None, labels=None, method: str = "pca", pairs: bool = True,
                    normalize: bool = True, seed: int = 0, ax=None, title: str | None = None, max_pairs: int = 300):
    """Scatter of image (circles) and text (triangles) embeddings in one 2-D projection.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(M, D)`` text embeddings, or ``None`` for images only.
        labels: colour points by these (e.g. each scene's colour) instead of by modality: one per image
            (shared by its paired text) or one per point, images first.
        method: ``"pca"`` or ``"tsne"`` (see :func:`mmlens.inspect.embedding.project_2d`).
        pairs: when ``N == M``, join image i and text i with a thin line (matched pairs).
        normalize: project unit vectors (what CLIP compares).
        seed: t-SNE seed.
        ax: matplotlib Axes to draw on.
        title: axes title.
        max_pairs: draw at most this many pair lines (the first ones), to keep the figure readable.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    image_xy, text_xy = _joint_projection(image_emb, text_emb, method, seed, normalize)
    n_text = 0 if text_xy is None else len(text_xy)
    image_labels, text_labels = _split_labels(labels, len(image_xy), n_text)
    ax = ax or plt.gca()
    if pairs and text_xy is not None and len(text_xy) == len(image_xy):
        k = min(max_pairs, len(image_xy))
        segments = np.stack([image_xy[:k], text_xy[:k]], axis=1)  # (k, 2 ends, 2 coords)
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(segments, colors="#999999", linewidths=0.5, alpha=0.5, zorder=1))
    groups = [("image", image_xy, image_labels)] + ([("text", text_xy, text_labels)] if text_xy is not None else [])
    if labels is None:
        for modality, xy, _ in groups:
            ax.scatter(xy[:, 0], xy[:, 1], s=18, c=MODALITY_COLOURS[modality], marker=MODALITY_MARKERS[modality],
                       label=modality, edgecolors="white", linewidths=0.3, zorder=2)
    else:
        names = _ordered_unique((image_labels or []) + (text_labels or []))
        colours = _label_colours(names)
        for modality, xy, labs in groups:
            ax.scatter(xy[:, 0], xy[:, 1], s=18, c=[colours[v] for v in labs], marker=MODALITY_MARKERS[modality],
                       edgecolors="black", linewidths=0.3, zorder=2)
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker="s", color=colours[n], label=n) for n in names]
        handles += [Line2D([], [], ls="", marker=MODALITY_MARKERS[m], color="#555555", label=m) for m, _, _ in groups]
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if labels is None:
        ax.legend(fontsize=8, frameon=False)
    axis_names = ("PC 1", "PC 2") if method == "pca" else ("t-SNE 1", "t-SNE 2")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.autoscale_view()
    if title:
        ax.set_title(title)
    return ax


def plot_similarity(similarity, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                    ax=None, title: str | None = None, xlabel: str | None = "text", ylabel: str | None = "image",
                    annotate: bool | None = None, cmap: str = "viridis", colorbar: bool = True):
    """A similarity matrix (e.g. images x captions) as a heatmap, each row's best match outlined.

    Args:
        similarity: ``(N, M)`` tensor or array, e.g. :func:`mmlens.inspect.embedding.similarity_matrix`.
        row_labels, col_labels: tick labels (shown when given).
        ax, title, xlabel, ylabel: as usual.
        annotate: write each value in its cell; default when the matrix is at most 12 x 12.
        cmap: colour map.
        colorbar: draw a colour bar.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    m = np.asarray(similarity.detach().cpu().float() if hasattr(similarity, "detach") else similarity, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"similarity must be a 2-D matrix, got shape {m.shape}")
    for name, lab, n in (("row_labels", row_labels, m.shape[0]), ("col_labels", col_labels, m.shape[1])):
        if lab is not None and len(lab) != n:
            raise ValueError(f"{name} has {len(lab)} entries but the matrix has {n} {'rows' if name[0] == 'r' else 'columns'}")
    ax = ax or plt.gca()
    im = ax.imshow(m, cmap=cmap, aspect="auto", interpolation="nearest")
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    best = m.argmax(1)
    for r, c in enumerate(best):  # outline where each row would retrieve
        ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5))
    if annotate is None:
        annotate = max(m.shape) <= 12
    if annotate:
        mid = (np.nanmax(m) + np.nanmin(m)) / 2
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if v > mid else "white")
    if row_labels is not None:
        ax.set_yticks(range(m.shape[0]), list(row_labels), fontsize=8)
    if col_labels is not None:
        ax.set_xticks(range(m.shape[1]), list(col_labels), fontsize=8, rotation=45, ha="right")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    if title:
        ax.set_title(title)
    return ax


def _curve(result) -> tuple[list[str], list[float], float | None]:
    """(layers, accuracy, chance) from a LayerProbeResult, a LogitLensResult or a (layers, accuracy) pair."""
    if hasattr(result, "test_accuracy"):
        return list(result.layers), list(result.test_accuracy), result.chance
    if hasattr(result, "accuracy"):
        if result.accuracy is None:
            raise ValueError("this LogitLensResult has no accuracy; call logit_lens with labels")
        return list(result.layers), list(result.accuracy), 1.0 / result.logits.shape[-1]
    if isinstance(result, (tuple, list)) and len(result) == 2:
        layers, acc = result
        if len(layers) != len(acc):
            raise ValueError(f"got {len(layers)} layer names but {len(acc)} accuracies")
        return [str(v) for v in layers], [float(a) for a in acc], None
    raise TypeError(
        f"cannot plot {type(result).__name__}; pass a LayerProbeResult, a LogitLensResult or (layers, accuracies)"
    )


def plot_layer_accuracy(results, ax=None, title: str | None = None, chance: bool = True, ylabel: str = "test accuracy"):
    """Accuracy by layer, one line per attribute (probes) or per read-out (logit lens), chance dashed.

    Args:
        results: a :class:`~mmlens.inspect.probes.LayerProbeResult`, a
            :class:`~mmlens.inspect.probes.LogitLensResult`, a ``(layers, accuracies)`` pair, or a dict of
            them keyed by the name to show in the legend (e.g. :func:`~mmlens.inspect.probes.probe_model`'s output).
        ax, title: as usual.
        chance: draw each curve's chance level (majority class for probes, 1 / classes for the logit lens).
        ylabel: y-axis label.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(results, Mapping):
        name = getattr(results, "attribute", None) or "accuracy"
        results = {name: results}
    if not results:
        raise ValueError("results is empty; pass at least one probe or logit-lens result")
    ax = ax or plt.gca()
    layer_names = None
    for k, (name, result) in enumerate(results.items()):
        layers, acc, level = _curve(result)
        if layer_names is None or len(layers) > len(layer_names):
            layer_names = layers
        colour = f"C{k % 10}"
        ax.plot(range(len(acc)), acc, marker="o", color=colour, label=str(name))
        if chance and level is not None:
            ax.axhline(level, color=colour, ls="--", lw=0.8, alpha=0.7)
    ax.set_xticks(range(len(layer_names)), layer_names, rotation=30 if len(layer_names) > 6 else 0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    return ax


def plot_embeddings_interactive(image_emb, text_emb=None, labels=None, image_hover: Sequence[str] | None = None,
                                text_hover: Sequence[str] | None = None, method: str = "pca", pairs: bool = True,
                                normalize: bool = True, seed: int = 0, title: str | None = None,
                                width: int = 700, height: int = 500):
    """An interactive scatter (zoom, pan, hover to read each point's caption) of image and text embeddings.

    Same projection as :func:`plot_embeddings`. Display it in the book with :func:`show_plotly`, which
    embeds plotly.js in the page so the figure stays interactive offline.

    Args:
        image_emb, text_emb, labels, method, pairs, normalize, seed: as in :func:`plot_embeddings`.
        image_hover: text shown when hovering each image point (e.g. its true caption).
        text_hover: text shown for each text point (e.g. the caption itself).
        title, width, height: figure title and size in pixels.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    import plotly.graph_objects as go

    image_xy, text_xy = _joint_projection(image_emb, text_emb, method, seed, normalize)
    n_text = 0 if text_xy is None else len(text_xy)
    image_labels, text_labels = _split_labels(labels, len(image_xy), n_text)
    for name, hover, n in (("image_hover", image_hover, len(image_xy)), ("text_hover", text_hover, n_text)):
        if hover is not None and len(hover) != n:
            raise ValueError(f"{name} has {len(hover)} entries but there are {n} points")
    fig = go.Figure()
    if pairs and text_xy is not None and len(text_xy) == len(image_xy):
        xs = np.column_stack([image_xy[:, 0], text_xy[:, 0], np.full(len(image_xy), np.nan)]).ravel()
        ys = np.column_stack([image_xy[:, 1], text_xy[:, 1], np.full(len(image_xy), np.nan)]).ravel()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#aaaaaa", width=0.6),
                                 hoverinfo="skip", name="pairs"))
    groups = [("image", image_xy, image_labels, image_hover)]
    if text_xy is not None:
        groups.append(("text", text_xy, text_labels, text_hover))
    colours = _label_colours(_ordered_unique((image_labels or []) + (text_labels or []))) if labels is not None else {}
    for modality, xy, labs, hover in groups:
        index_text = [f"{modality} {i}" for i in range(len(xy))]
        hover_text = [f"{t}<br>{h}" for t, h in zip(index_text, hover)] if hover is not None else index_text
        if labs is None:
            fig.add_trace(go.Scatter(
                x=xy[:, 0], y=xy[:, 1], mode="markers", name=modality, text=hover_text, hoverinfo="text",
                marker=dict(color=MODALITY_COLOURS[modality], symbol=_PLOTLY_MARKERS[modality], size=7),
            ))
            continue
        for value in _ordered_unique(labs):  # one trace per label: the legend toggles them
            keep = np.array([v == value for v in labs])
            fig.add_trace(go.Scatter(
                x=xy[keep, 0], y=xy[keep, 1], mode="markers", name=f"{value} ({modality})",
                text=[h for h, k in zip(hover_text, keep) if k], hoverinfo="text", legendgroup=value,
                marker=dict(color=colours[value], symbol=_PLOTLY_MARKERS[modality], size=7,
                            line=dict(color="black", width=0.5)),
            ))
    axis = ("PC 1", "PC 2") if method == "pca" else ("t-SNE 1", "t-SNE 2")
    fig.update_layout(title=title, width=width, height=height, template="simple_white",
                      xaxis_title=axis[0], yaxis_title=axis[1], margin=dict(l=50, r=20, t=50 if title else 20, b=50))
    return fig


def plotly_html(fig, include_plotlyjs: bool = True, div_id: str | None = None) -> str:
    """An HTML fragment of a plotly figure that needs no network: plotly.js (about 5 MB) is inlined.

    Args:
        fig: a plotly Figure.
        include_plotlyjs: inline plotly.js (``True``), or rely on a copy already on the page (``False``).
            Never a CDN: the book must work offline.
        div_id: fixed id of the figure's ``<div>`` (default: random), for reproducible output.
    """
    if include_plotlyjs not in (True, False):
        raise ValueError(f"include_plotlyjs must be True or False (never 'cdn': the book is offline), got {include_plotlyjs!r}")
    return fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs, include_mathjax=False, div_id=div_id)


def show_plotly(fig, div_id: str = "mmlens-plotly"):
    """Display a plotly figure so that it stays interactive in the static HTML book, offline.

    plotly's default notebook output is a JSON mime type the HTML book cannot draw (and its HTML renderer
    loads MathJax from a CDN). This returns HTML that draws the figure with ``Plotly.newPlot`` but does not
    carry plotly.js itself: the book's ``plotly_offline`` Sphinx extension serves plotly.js from the
    installed package on the pages that need it. In a live Jupyter session, call ``fig.show()`` instead.

    Args:
        fig: a plotly Figure.
        div_id: id of the figure's ``<div>``; fixed, so that the stored output is reproducible. Use a
            different id for each figure on a page.

    Returns:
        An ``IPython.display.HTML`` object (the notebook displays it when it is a cell's last value).
    """
    from IPython.display import HTML

    return HTML(plotly_html(fig, include_plotlyjs=False, div_id=div_id))


def make_layer_head_explorer(draw: Callable, n_layers: int, n_heads: int | None = None, layer: int = 0,
                             head: int = 0, description: str = ""):
    """An ipywidgets explorer: sliders for layer (and head) redraw a figure, for live notebook sessions.

    Each view is rendered to PNG and shown in an ``ipywidgets.Image``, so drawing never writes to the
    cell's output (the stored output is the same under any kernel and under nbval). In the static book
    the sliders do nothing (no kernel); show a fixed figure there as well.

    Args:
        draw: ``draw(layer, head)`` (or ``draw(layer)`` when ``n_heads`` is None) that draws one matplotlib
            figure (returned, or left as the current figure).
        n_layers: number of layers; the layer slider spans ``0 .. n_layers - 1``.
        n_heads: number of heads, or ``None`` for a layer slider only.
        layer, head: initial values.
        description: a line of text above the sliders.

    Returns:
        ``ipywidgets.VBox`` of ``[HTML description, HBox(sliders), Image]``; moving a slider redraws.
    """
    import io

    import ipywidgets as widgets

    if not callable(draw):
        raise TypeError(f"draw must be a callable draw(layer, head), got {type(draw).__name__}")
    if not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
    if n_heads is not None and (not isinstance(n_heads, int) or n_heads < 1):
        raise ValueError(f"n_heads must be a positive int or None, got {n_heads!r}")
    if not 0 <= layer < n_layers or (n_heads is not None and not 0 <= head < n_heads):
        raise ValueError(f"initial layer={layer}, head={head} out of range for {n_layers} layers, {n_heads} heads")

    layer_slider = widgets.IntSlider(value=layer, min=0, max=n_layers - 1, description="layer", continuous_update=False)
    sliders = [layer_slider]
    head_slider = None
    if n_heads is not None:
        head_slider = widgets.IntSlider(value=head, min=0, max=n_heads - 1, description="head", continuous_update=False)
        sliders.append(head_slider)
    image = widgets.Image(format="png")

    def redraw(change=None):
        import matplotlib.pyplot as plt

        args = (layer_slider.value,) if head_slider is None else (layer_slider.value, head_slider.value)
        result = draw(*args)
        fig = result if hasattr(result, "savefig") else (plt.gcf() if plt.get_fignums() else None)
        if fig is None:
            raise ValueError("draw(...) drew no matplotlib figure; draw one (and return it)")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        image.value = buffer.getvalue()

    for slider in sliders:
        slider.observe(redraw, names="value")
    box = widgets.VBox([widgets.HTML(description), widgets.HBox(sliders), image])
    box.redraw = redraw  # so a notebook (or a test) can redraw explicitly
    redraw()
    return box
