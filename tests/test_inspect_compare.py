"""Tests for mmlens.inspect.compare and mmlens.viz.compare (comparing saliency methods)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmlens.data import WordTokenizer, parse_caption  # noqa: E402
from mmlens.inspect.localisation import map_auc, score_maps  # noqa: E402
from mmlens.inspect.compare import (  # noqa: E402
    contrast_map,
    format_score_table,
    make_localisation_set,
    score_heads,
    score_methods,
    selectivity_auc,
)
from mmlens.viz.compare import plot_head_scores, plot_method_comparison  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def two_object_set():
    return make_localisation_set(6, n_objects=2, seed=3)


def test_one_object_set_names_the_object():
    pairs = make_localisation_set(5, n_objects=1, seed=0)
    assert len(pairs) == 5 and not pairs.has_distractors
    for r, text, target, other in zip(pairs.rendered, pairs.texts, pairs.targets, pairs.distractors):
        obj = r.scene.objects[0]
        assert text in (f"a photo of a {obj.colour} {obj.shape}", f"a photo of an {obj.colour} {obj.shape}")
        assert np.array_equal(target, r.masks[0]) and other.shape == (0, 64, 64)


def test_two_object_set_names_each_object_in_turn(two_object_set):
    pairs = two_object_set
    assert len(pairs) == 12 and pairs.has_distractors
    assert pairs.named == [0, 1] * 6
    for i in range(0, 12, 2):
        assert pairs.rendered[i] is pairs.rendered[i + 1]  # one scene, two texts
        a, b = pairs.rendered[i].scene.objects
        assert a.colour != b.colour and a.shape != b.shape
        assert np.array_equal(pairs.targets[i], pairs.distractors[i + 1][0])
        assert np.array_equal(pairs.targets[i + 1], pairs.distractors[i][0])
    # every text is in the tokenizer's vocabulary and parses as a caption
    tokenizer = WordTokenizer()
    assert all("<unk>" not in tokenizer.decode(tokenizer([t])[0]) for t in pairs.texts)
    assert all(parse_caption(t) is not None for t in pairs.texts)


def test_images_are_preprocessed_once_per_scene(two_object_set):
    calls = []

    def preprocess(pil):
        calls.append(1)
        return torch.as_tensor(np.array(pil), dtype=torch.float32).permute(2, 0, 1) / 255

    images = two_object_set.images(preprocess)
    assert images.shape == (12, 3, 64, 64) and len(calls) == 6
    assert torch.equal(images[0], images[1]) and not torch.equal(images[0], images[2])


def test_make_localisation_set_rejects_bad_input():
    with pytest.raises(ValueError, match="n_objects"):
        make_localisation_set(3, n_objects=7)
    with pytest.raises(ValueError, match="n_scenes"):
        make_localisation_set(0)
    with pytest.raises(ValueError, match="template"):
        make_localisation_set(3, template="a photo")


def test_template_fields():
    pairs = make_localisation_set(3, n_objects=1, template="a {size} {colour} object")
    obj = pairs.rendered[0].scene.objects[0]
    assert pairs.texts[0].endswith(f"{obj.size} {obj.colour} object")


def test_selectivity_auc():
    target = np.zeros((8, 8), dtype=bool)
    target[1:3, 1:3] = True
    other = np.zeros((1, 8, 8), dtype=bool)
    other[0, 5:7, 5:7] = True
    on_target = target.astype(float)
    assert selectivity_auc(on_target, target, other) == 1.0
    assert selectivity_auc(other[0].astype(float), target, other) == 0.0
    # a map that lights up both objects equally cannot tell them apart, whatever the background does
    both = (target | other[0]).astype(float)
    assert selectivity_auc(both, target, other) == 0.5
    # patch-resolution maps are upsampled to the masks
    assert selectivity_auc(np.array([[1.0, 0.0], [0.0, 0.0]]), target, other) == 1.0
    with pytest.raises(ValueError, match="another object"):
        selectivity_auc(on_target, target, np.zeros((0, 8, 8), dtype=bool))
    with pytest.raises(ValueError, match="same"):
        selectivity_auc(on_target, target, np.zeros((1, 4, 4), dtype=bool))


def test_score_methods_separates_text_blind_from_text_conditioned_maps(two_object_set):
    pairs = two_object_set
    oracle = np.stack([t.astype(float) for t in pairs.targets])  # the named object
    # text-blind: every object lit, the scene's first object a little more, whatever the text says
    blind = np.stack([r.masks.any(0).astype(float) + 0.01 * r.masks[0] for r in pairs.rendered])
    table = score_methods({"oracle": oracle, "blind": blind}, pairs.targets, pairs.distractors)
    assert table["oracle"]["pointing"] == 1.0 and table["oracle"]["selectivity"] == 1.0
    assert table["oracle"]["pointing_other"] == 0.0
    # the text-blind map points at the same object whichever is named: right exactly half the time
    assert table["blind"]["pointing"] == 0.5 and table["blind"]["pointing_other"] == 0.5
    assert table["blind"]["selectivity"] == pytest.approx(0.5)
    assert table["blind"]["n"] == 12
    one = score_methods({"oracle": oracle}, pairs.targets)
    assert "selectivity" not in one["oracle"]
    with pytest.raises(ValueError, match="distractor"):
        score_methods({"oracle": oracle}, pairs.targets, pairs.distractors[:3])
    with pytest.raises(ValueError, match="empty"):
        score_methods({}, pairs.targets)


def test_format_score_table_marks_the_best():
    table = {"a": {"pointing": 0.5, "pointing_other": 0.4, "n": 2}, "bb": {"pointing": 0.25, "pointing_other": 0.1, "n": 2}}
    text = format_score_table(table)
    lines = text.splitlines()
    assert lines[0].split() == ["method", "pointing", "pointing_other"]
    assert lines[1].split() == ["a", "0.500*", "0.400"]  # higher pointing is better ...
    assert lines[2].split() == ["bb", "0.250", "0.100*"]  # ... lower pointing at the wrong object is better
    assert format_score_table(table, columns=["pointing"]).splitlines()[1].split() == ["a", "0.500*"]
    with pytest.raises(ValueError, match="no score"):
        format_score_table(table, columns=["auc"])


def test_score_heads():
    pairs = make_localisation_set(4, n_objects=1, seed=1)
    grid = torch.stack([torch.nn.functional.avg_pool2d(torch.as_tensor(t, dtype=torch.float32)[None], 8)[0]
                        for t in pairs.targets])  # (N, 8, 8): each patch's share of the object
    head_maps = torch.stack([grid, -grid, torch.zeros_like(grid)], dim=1)[:, None]  # (N, 1 layer, 3 heads, 8, 8)
    scores = score_heads(head_maps, pairs.targets)
    assert scores.shape == (1, 3)
    assert scores[0, 0] > 0.9 and scores[0, 1] < 0.1 and scores[0, 2] == 0.5
    assert score_heads(head_maps, pairs.targets, score="pointing")[0, 0] == 1.0
    with pytest.raises(ValueError, match="score"):
        score_heads(head_maps, pairs.targets, score="dice")
    with pytest.raises(ValueError, match="masks"):
        score_heads(head_maps, pairs.targets[:2])
    with pytest.raises(ValueError, match="N, layer, head"):
        score_heads(head_maps[0], pairs.targets)


def test_plot_method_comparison_draws_one_panel_per_image_and_method(two_object_set):
    pairs = two_object_set
    maps = {"a": torch.rand(3, 8, 8), "b": torch.rand(3, 8, 8)}
    images = [r.image for r in pairs.rendered[:3]]
    fig = plot_method_comparison(images, maps, targets=pairs.targets[:3], row_labels=pairs.texts[:3])
    axes = fig.get_axes()
    assert len(axes) == 9
    assert [ax.get_title() for ax in axes[:3]] == ["image", "a", "b"]
    assert axes[3].get_ylabel() == pairs.texts[1]
    plt.close(fig)
    with pytest.raises(ValueError, match="one map per image"):
        plot_method_comparison(images, {"a": torch.rand(2, 8, 8)})
    with pytest.raises(ValueError, match="targets"):
        plot_method_comparison(images, maps, targets=pairs.targets[:1])


def test_plot_head_scores():
    fig, ax = plt.subplots()
    plot_head_scores(np.array([[0.1, 0.9], [0.5, 0.7], [0.3, 0.2]]), ax=ax, title="auc")
    assert ax.get_title() == "auc" and ax.get_xlabel() == "head"
    assert [t.get_text() for t in ax.texts] == ["0.10", "0.90", "0.50", "0.70", "0.30", "0.20"]
    plt.close(fig)
    with pytest.raises(ValueError, match="layer, head"):
        plot_head_scores(np.zeros(3))


def test_contrast_map_finds_every_object_and_ignores_the_text(two_object_set):
    pairs = two_object_set
    maps = contrast_map(pairs.rendered)
    assert maps.shape == (12, 64, 64)
    for m, r in zip(maps, pairs.rendered):
        objects = r.masks.any(0)
        assert (m[~objects] == 0).all() and (m[objects] > 0).all()
    table = score_methods({"contrast": maps}, pairs.targets, pairs.distractors)
    assert table["contrast"]["auc"] > 0.9  # every object stands out from the background ...
    assert table["contrast"]["pointing"] + table["contrast"]["pointing_other"] == 1.0  # ... always on an object
    with pytest.raises(ValueError, match="RenderedScene"):
        contrast_map([np.zeros((4, 4, 3))])


def test_map_auc_equals_scikit_learn_ties_included():
    from sklearn.metrics import roc_auc_score

    from mmlens.inspect.localisation import _to_map

    rng = np.random.default_rng(0)
    pairs = make_localisation_set(3, n_objects=2, seed=0)
    for target in pairs.targets:
        for saliency in (rng.random((8, 8)), np.round(rng.random((64, 64)) * 3), torch.rand(8, 8)):
            expected = roc_auc_score(target.ravel(), _to_map(saliency, target.shape).ravel())
            assert map_auc(saliency, target) == pytest.approx(expected, abs=1e-12)
    assert map_auc(pairs.targets[0].astype(float), pairs.targets[0]) == 1.0
    with pytest.raises(ValueError, match="background"):
        map_auc(rng.random((8, 8)), np.ones((64, 64), dtype=bool))


def test_score_methods_agrees_with_score_maps(two_object_set):
    maps = torch.rand(len(two_object_set), 8, 8, generator=torch.Generator().manual_seed(0))
    row = score_methods({"random": maps}, two_object_set.targets)["random"]
    expected = score_maps(maps, two_object_set.targets)
    assert row.keys() == expected.keys()
    assert all(row[k] == pytest.approx(expected[k]) for k in row)
    with pytest.raises(ValueError, match="one map per pair"):
        score_methods({"random": maps[:3]}, two_object_set.targets)
