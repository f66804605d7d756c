"""Looking inside models: activation capture, saliency maps, localisation scores.

:mod:`~mmlens.inspect.capture` (``run_with_cache``, ``ActivationCache``),
:mod:`~mmlens.inspect.maps` (attention, rollout, Grad-CAM, relevancy, similarity maps),
:mod:`~mmlens.inspect.localisation` (pointing game, AUC, IoU against true masks),
:mod:`~mmlens.inspect.embedding` (modality gap, alignment and uniformity, projections, CKA),
:mod:`~mmlens.inspect.probes` (linear probes by layer, logit lens, top-activating scenes).

Example::

    from mmlens.inspect import run_with_cache, make_map, score_maps
    output, cache = run_with_cache(model, images=images, tokens=tokens)
    cache["pattern", -1].shape        # [batch, head, query_pos, key_pos]
    maps = make_map("rollout", model, images)   # [batch, grid_h, grid_w]
"""
from mmlens.inspect.capture import (
    ActivationCache,
    CLIPOutput,
    capture,
    count_hooks,
    grid_shape,
    hook_names,
    mha_with_weights,
    run_with_cache,
)
from mmlens.inspect.localisation import map_auc, pointing_game, score_maps, topk_iou
from mmlens.inspect.maps import (
    METHODS,
    attention_map,
    attention_maps,
    attention_rollout,
    chefer_relevancy,
    cls_to_patches,
    gradcam_map,
    make_map,
    relevancy_map,
    rollout_map,
    similarity_map,
    upsample_map,
)

from mmlens.inspect.embedding import (
    PCAResult,
    alignment,
    cka_matrix,
    linear_cka,
    modality_gap,
    modality_gap_vector,
    modality_separability,
    nearest_neighbours,
    pca,
    project_2d,
    similarity_matrix,
    uniformity,
)
from mmlens.inspect.probes import (
    LayerProbeResult,
    LogitLensResult,
    ProbeResult,
    TopActivating,
    layer_activations,
    logit_lens,
    make_scene_images,
    probe_layers,
    probe_model,
    scene_labels,
    top_activating,
    train_probe,
    unit_activations,
)

__all__ = [
    "ActivationCache",
    "CLIPOutput",
    "METHODS",
    "attention_map",
    "attention_maps",
    "attention_rollout",
    "capture",
    "chefer_relevancy",
    "cls_to_patches",
    "count_hooks",
    "gradcam_map",
    "grid_shape",
    "hook_names",
    "make_map",
    "map_auc",
    "mha_with_weights",
    "pointing_game",
    "relevancy_map",
    "rollout_map",
    "run_with_cache",
    "score_maps",
    "similarity_map",
    "topk_iou",
    "upsample_map",
    "PCAResult", "alignment", "cka_matrix", "linear_cka", "modality_gap", "modality_gap_vector",
    "modality_separability", "nearest_neighbours", "pca", "project_2d", "similarity_matrix", "uniformity",
    "LayerProbeResult", "LogitLensResult", "ProbeResult", "TopActivating", "layer_activations", "logit_lens",
    "make_scene_images", "probe_layers", "probe_model", "scene_labels", "top_activating", "train_probe",
    "unit_activations",
]
