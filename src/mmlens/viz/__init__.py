"""Figures for the book: one look, one helper per kind of plot.

Modules: :mod:`~mmlens.viz.basic` (images, patches, tokens, matrices), :mod:`~mmlens.viz.scenes` (the synthetic
world), :mod:`~mmlens.viz.embedding` (embedding spaces, probes, interactive figures),
:mod:`~mmlens.viz.attention` (attention overlays, head grids, heatmaps), :mod:`~mmlens.viz.compare` (saliency
methods side by side), :mod:`~mmlens.viz.classification` (zero-shot results), :mod:`~mmlens.viz.retrieval`
(search results, recall, cost, few-shot curves), :mod:`~mmlens.viz.shift` (distribution shift, applications).
"""
from mmlens.viz.attention import plot_attention_overlay, plot_head_grid, show_heatmaps
from mmlens.viz.classification import (
    plot_class_name_accuracy,
    plot_class_probabilities,
    plot_confusion_matrix,
    plot_ensemble_curve,
    plot_softmax_temperature,
    plot_template_accuracy,
)
from mmlens.viz.compare import plot_head_scores, plot_method_comparison
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
from mmlens.viz.retrieval import (
    plot_few_shot_curves,
    plot_gallery_search,
    plot_index_tradeoff,
    plot_recall_bars,
    plot_search_cost,
    plot_search_results,
)
from mmlens.viz.scenes import (
    plot_colour_given_shape,
    plot_hard_negatives,
    plot_masks,
    plot_pair_counts,
    plot_questions,
    plot_scenes,
)
from mmlens.viz.shift import (
    plot_photo_predictions,
    plot_ranked_images,
    plot_ranked_texts,
    plot_shift_accuracy,
    plot_shift_examples,
)
from mmlens.viz.style import apply_style

__all__ = [
    "apply_style", "show_image", "plot_patch_grid", "plot_patch_sequence", "plot_tokens", "plot_matrix",
    "plot_scenes", "plot_masks", "plot_hard_negatives", "plot_questions", "plot_colour_given_shape",
    "plot_pair_counts", "plot_embeddings", "plot_similarity", "plot_layer_accuracy",
    "plot_embeddings_interactive", "plotly_html", "show_plotly", "make_layer_head_explorer",
    "plot_attention_overlay", "plot_head_grid", "show_heatmaps",
    "plot_confusion_matrix", "plot_class_probabilities", "plot_template_accuracy", "plot_softmax_temperature",
    "plot_class_name_accuracy", "plot_ensemble_curve", "plot_method_comparison", "plot_head_scores",
    "plot_search_results", "plot_gallery_search", "plot_recall_bars", "plot_search_cost", "plot_index_tradeoff",
    "plot_few_shot_curves", "plot_shift_examples", "plot_shift_accuracy", "plot_photo_predictions",
    "plot_ranked_texts", "plot_ranked_images",
]
