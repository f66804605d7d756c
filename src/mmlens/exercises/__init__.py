"""Exercise checkers, one module per chapter; each ``check_*`` returns a :class:`Verdict`.

Chapters import from the chapter's module (``from mmlens.exercises.world import check_relation``); every
checker is also available here.
"""
from mmlens.exercises._check import Verdict
from mmlens.exercises.applications import check_colour_statements, check_retrieve
from mmlens.exercises.attention import check_map_auc, check_pointing_game, check_rollout
from mmlens.exercises.embedding import check_alignment, check_modality_gap, check_uniformity
from mmlens.exercises.fewshot import check_few_shot_indices, check_nearest_centroid
from mmlens.exercises.prompts import check_ensemble_classifier, check_make_prompts
from mmlens.exercises.retrieval import check_probe_lists, check_recall_at_k
from mmlens.exercises.shift import check_top_k_classes, check_uniform_scene
from mmlens.exercises.vectors import check_linear_to_conv, check_patchify
from mmlens.exercises.world import check_colour_frequencies, check_count_objects, check_relation
from mmlens.exercises.zeroshot import check_confusion_matrix, check_zero_shot_probs

__all__ = [
    "Verdict",
    "check_patchify", "check_linear_to_conv",
    "check_count_objects", "check_relation", "check_colour_frequencies",
    "check_zero_shot_probs", "check_confusion_matrix",
    "check_ensemble_classifier", "check_make_prompts",
    "check_recall_at_k", "check_probe_lists",
    "check_few_shot_indices", "check_nearest_centroid",
    "check_uniform_scene", "check_top_k_classes",
    "check_retrieve", "check_colour_statements",
    "check_modality_gap", "check_alignment", "check_uniformity",
    "check_rollout", "check_pointing_game", "check_map_auc",
]
