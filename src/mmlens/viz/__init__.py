"""Figures for the book: one look, one helper per kind of plot.

Modules: :mod:`~mmlens.viz.basic` (images, patches, tokens, matrices), :mod:`~mmlens.viz.scenes` (the synthetic
world), :mod:`~mmlens.viz.embedding` (embedding spaces, probes, interactive figures),
:mod:`~mmlens.viz.attention` (attention overlays, head grids, heatmaps).
"""
from mmlens.viz.attention import plot_attention_overlay, plot_head_grid, show_heatmaps
from mmlens.viz.basic import plot_matrix, plot_patch_grid, plot_patch_sequence, plot_tokens, show_image
from mmlens.viz.embedding import (
    make_layer_head_explorer,
    plot_embeddings,
    plot_embeddings_interactive,
    plot_layer_accuracy,
    plot_similarity,
    plotly_html,
    show_plotly,
)
from mmlens.viz.scenes import (
    plot_colour_given_shape,
    plot_hard_negatives,
    plot_masks,
    plot_pair_counts,
    plot_questions,
    plot_scenes,
)
from mmlens.viz.style import apply_style

__all__ = [
    "apply_style", "show_image", "plot_patch_grid", "plot_patch_sequence", "plot_tokens", "plot_matrix",
    "plot_scenes", "plot_masks", "plot_hard_negatives", "plot_questions", "plot_colour_given_shape",
    "plot_pair_counts", "plot_embeddings", "plot_similarity", "plot_layer_accuracy",
    "plot_embeddings_interactive", "plotly_html", "show_plotly", "make_layer_head_explorer",
    "plot_attention_overlay", "plot_head_grid", "show_heatmaps",
]
