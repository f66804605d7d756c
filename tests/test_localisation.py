"""Localisation scores of saliency maps against true object masks."""
import numpy as np
import pytest
import torch

from mmlens.data import make_scene, render_scene
from mmlens.inspect.localisation import map_auc, pointing_game, score_maps, topk_iou


def square_mask(size=64, box=(10, 30, 20, 44)):
    mask = np.zeros((size, size), dtype=bool)
    y0, y1, x0, x1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def test_a_map_equal_to_the_mask_scores_perfectly():
    mask = square_mask()
    saliency = mask.astype(float)
    assert pointing_game(saliency, mask) is True
    assert map_auc(saliency, mask) == 1.0
    assert topk_iou(saliency, mask) == 1.0
    assert score_maps([saliency], [mask]) == {"pointing": 1.0, "auc": 1.0, "iou": 1.0, "n": 1}


def test_an_inverted_map_scores_zero():
    mask = square_mask()
    saliency = 1.0 - mask
    assert pointing_game(saliency, mask) is False
    assert map_auc(saliency, mask) == 0.0
    assert topk_iou(saliency, mask) == 0.0


def test_random_maps_score_near_chance():
    rng = np.random.default_rng(0)
    mask = square_mask()
    area = mask.mean()
    maps = rng.random((300, 64, 64))
    scores = score_maps(maps, [mask] * len(maps))
    assert abs(scores["auc"] - 0.5) < 0.01
    assert abs(scores["pointing"] - area) < 0.06  # the argmax lands in the mask as often as the mask is big
    assert scores["iou"] < 0.15  # IoU of two random regions of the mask's area: about area / (2 - area)
    assert scores["n"] == 300


def test_topk_iou_with_a_fraction():
    mask = square_mask()
    saliency = mask.astype(float)
    half = mask.mean() / 2
    assert topk_iou(saliency, mask, fraction=half) == pytest.approx(0.5, abs=0.01)
    assert topk_iou(saliency, mask, fraction=1.0) == pytest.approx(mask.mean())
    with pytest.raises(ValueError, match="fraction"):
        topk_iou(saliency, mask, fraction=0)


def test_patch_maps_are_upsampled_to_the_mask():
    mask = square_mask(64, (16, 32, 24, 40))  # patch rows 2-3, patch columns 3-4 of an 8x8 grid
    patch_map = torch.zeros(8, 8)
    patch_map[2:4, 3:5] = 1.0
    assert pointing_game(patch_map, mask)
    assert map_auc(patch_map, mask) > 0.95
    assert topk_iou(patch_map, mask) > 0.7


def test_true_masks_of_the_synthetic_world():
    """Masks from mmlens.data: (K, H, W) per scene; one object's mask or the union of all of them."""
    scenes = [make_scene(seed, n_objects=2) for seed in range(5)]
    rendered = [render_scene(scene, resolution=64) for scene in scenes]
    first = [r.masks[0] for r in rendered]
    perfect = score_maps([m.astype(float) for m in first], first)
    assert perfect["pointing"] == 1.0 and perfect["auc"] == 1.0 and perfect["iou"] == 1.0
    wrong_object = score_maps([r.masks[1].astype(float) for r in rendered], first)
    assert wrong_object["auc"] < 1.0 and wrong_object["iou"] < 0.5
    union = score_maps([r.masks[1].astype(float) for r in rendered], [r.masks for r in rendered])
    assert union["pointing"] == 1.0  # any object counts when the mask is (K, H, W)


def test_bad_inputs():
    mask = square_mask()
    with pytest.raises(ValueError, match="object and background"):
        map_auc(np.ones((64, 64)), np.ones((64, 64), dtype=bool))
    with pytest.raises(ValueError, match="2 maps but 1 masks"):
        score_maps([mask, mask], [mask])
    with pytest.raises(ValueError, match="2-D"):
        pointing_game(np.ones((2, 8, 8)), mask)
    with pytest.raises(ValueError, match="NaN"):
        map_auc(np.full((64, 64), np.nan), mask)
