"""How well does a saliency map find the object? Scores against the synthetic world's true masks.

Three scores, each for one map and one mask, and :func:`score_maps` averaging them over a set:

* :func:`pointing_game`: is the map's maximum inside the mask? (Zhang et al., 2016)
* :func:`map_auc`: ROC-AUC of the map as a detector of mask pixels (0.5 = chance, 1 = perfect).
* :func:`topk_iou`: IoU between the mask and the map's top ``fraction`` of pixels (by default the
  fraction the mask covers, so a perfect map scores 1).

Maps at patch resolution are upsampled (bilinear) to the mask's resolution first.

Example::

    rendered = render_scene(scene, resolution=64)
    maps = make_map("rollout", model, images)            # [batch, grid_h, grid_w]
    score_maps(maps, [r.masks[0] for r in rendered_list])
    # {'pointing': 0.8, 'auc': 0.91, 'iou': 0.42, 'n': 100}
"""
from __future__ import annotations


import numpy as np
import torch


def _to_mask(mask) -> np.ndarray:
    m = np.asarray(mask.detach().cpu() if torch.is_tensor(mask) else mask)
    if m.ndim == 3:  # (K, H, W): several objects -> their union
        m = m.any(axis=0)
    if m.ndim != 2:
        raise ValueError(f"a mask must be (H, W) or (K, H, W), got shape {m.shape}")
    return m.astype(bool)


def _to_map(saliency, shape: tuple[int, int]) -> np.ndarray:
    s = saliency.detach().cpu().float() if torch.is_tensor(saliency) else torch.as_tensor(np.asarray(saliency, dtype=np.float32))
    if s.ndim != 2:
        raise ValueError(f"a map must be 2-D (grid_h, grid_w) or (H, W), got shape {tuple(s.shape)}")
    if tuple(s.shape) != tuple(shape):
        from mmlens.inspect.maps import upsample_map

        s = upsample_map(s, shape)
    s = s.numpy().astype(np.float64)
    if not np.isfinite(s).all():
        raise ValueError("the map contains NaN or inf; check the method that produced it")
    return s


def pointing_game(saliency, mask) -> bool:
    """Whether the map's largest value falls inside the mask.

    Args:
        saliency: ``(h, w)`` map (upsampled to the mask's size if smaller).
        mask: ``(H, W)`` bool mask, or ``(K, H, W)`` (any of the objects counts).

    Returns:
        ``True`` for a hit.
    """
    mask = _to_mask(mask)
    s = _to_map(saliency, mask.shape)
    return bool(mask.flat[int(np.argmax(s))])


def map_auc(saliency, mask) -> float:
    """ROC-AUC of the map's values as scores for "this pixel belongs to the mask".

    Args:
        saliency: ``(h, w)`` map.
        mask: ``(H, W)`` or ``(K, H, W)`` bool mask with both object and background pixels.

    Returns:
        AUC in ``[0, 1]``: 1 when every object pixel outscores every background pixel, 0.5 at chance.
    """
    mask = _to_mask(mask)
    if mask.all() or not mask.any():
        raise ValueError(f"AUC needs object and background pixels, but the mask covers {mask.mean():.0%} of the image")
    return _roc_auc(mask, _to_map(saliency, mask.shape))


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC by the Mann-Whitney rank sum (ties share their mean rank): the same value as
    scikit-learn's ``roc_auc_score``, without its input checks, which dominate the cost on small maps."""
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=bool).ravel()
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    ranks = rankdata(np.asarray(scores, dtype=np.float64).ravel())  # average ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def topk_iou(saliency, mask, fraction: float | None = None) -> float:
    """IoU between the mask and the region of the map's top ``fraction`` of pixels.

    Args:
        saliency: ``(h, w)`` map.
        mask: ``(H, W)`` or ``(K, H, W)`` bool mask.
        fraction: share of pixels kept, in ``(0, 1]``; ``None`` keeps as many as the mask has.

    Returns:
        IoU in ``[0, 1]``.
    """
    mask = _to_mask(mask)
    s = _to_map(saliency, mask.shape)
    n = mask.size
    if fraction is None:
        k = int(mask.sum())
    else:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        k = max(1, int(round(fraction * n)))
    if k == 0:
        raise ValueError("the mask is empty; IoU of an empty mask is undefined")
    order = np.argsort(-s.ravel(), kind="stable")  # ties: earlier pixels first, so exactly k are kept
    region = np.zeros(n, dtype=bool)
    region[order[:k]] = True
    m = mask.ravel()
    return float((region & m).sum() / (region | m).sum())


def score_maps(maps, masks, fraction: float | None = None) -> dict[str, float]:
    """Average localisation scores of a set of maps against their masks.

    Args:
        maps: ``[N, h, w]`` tensor/array or a sequence of ``(h, w)`` maps.
        masks: ``[N, H, W]`` or a sequence of ``(H, W)`` / ``(K, H, W)`` masks, one per map.
        fraction: passed to :func:`topk_iou`.

    Returns:
        ``{"pointing": ..., "auc": ..., "iou": ..., "n": N}``: means over the set (one row of a
        table comparing methods).
    """
    maps = list(maps)
    masks = list(masks)
    if len(maps) != len(masks):
        raise ValueError(f"got {len(maps)} maps but {len(masks)} masks; pass one mask per map")
    if not maps:
        raise ValueError("score_maps needs at least one map")
    pointing = [pointing_game(s, m) for s, m in zip(maps, masks)]
    auc = [map_auc(s, m) for s, m in zip(maps, masks)]
    iou = [topk_iou(s, m, fraction) for s, m in zip(maps, masks)]
    return {"pointing": float(np.mean(pointing)), "auc": float(np.mean(auc)), "iou": float(np.mean(iou)), "n": len(maps)}


__all__ = ["map_auc", "pointing_game", "score_maps", "topk_iou"]
