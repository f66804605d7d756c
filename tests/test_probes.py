"""Tests for mmlens.inspect.probes: linear probes, the logit lens and top-activating scenes."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import mmlens
from mmlens.data import COLOURS, SceneObject, Scene, make_scenes
from mmlens.evaluate import ATTRIBUTE_TEMPLATES, zero_shot_classifier, zero_shot_predict
from mmlens.inspect.probes import (
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

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, preprocess, tokenizer = mmlens.load_model("mmlens-tiny-clip")  # random weights, offline
    return model.eval(), preprocess, tokenizer


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(120, seed=0, n_objects=1)


def encoded_labels(n=400, n_classes=4, d=32, signal=3.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    directions = rng.normal(size=(n_classes, d))
    x = signal * directions[y] + rng.normal(size=(n, d))  # the label is a direction, plus noise
    return x, y


# --- probes on constructed activations -----------------------------------------------------------------------------


def test_probe_high_on_encoded_label_and_chance_on_random_labels():
    x, y = encoded_labels()
    good = train_probe(x, y)
    assert good.test_accuracy > 0.95 and good.chance < 0.4
    shuffled = np.random.default_rng(1).permutation(y)
    bad = train_probe(x, shuffled)
    assert abs(bad.test_accuracy - 0.25) < 0.12
    assert bad.train_accuracy > bad.test_accuracy  # it can memorise, not generalise


def test_probe_layers_uses_one_split_and_matches_single_probes():
    x, y = encoded_labels()
    noise = np.random.default_rng(2).normal(size=x.shape)
    layers = {"noise": noise, "signal": x}
    result = probe_layers(layers, y, seed=3)
    assert result.layers == ["noise", "signal"] and result.best_layer == "signal"
    for name, acc in zip(result.layers, result.test_accuracy):
        assert acc == train_probe(layers[name], y, seed=3).test_accuracy
    assert result.test_accuracy[0] < 0.45 < 0.95 < result.test_accuracy[1]
    assert probe_layers(torch.tensor(np.stack([noise, x])), y).layers == ["0", "1"]


def test_probe_bad_inputs():
    x, y = encoded_labels(n=50)
    with pytest.raises(ValueError, match="single value"):
        train_probe(x, np.zeros(50))
    with pytest.raises(ValueError, match="one per example"):
        train_probe(x, y[:10])
    with pytest.raises(ValueError, match="pool tokens first"):
        train_probe(x.reshape(50, 4, 8), y)


# --- labels and inputs -----------------------------------------------------------------------------------------------


def test_scene_labels_follow_ground_truth():
    objs = [SceneObject("circle", "red", "small", 0.2, 0.1), SceneObject("star", "blue", "large", 0.8, 0.9)]
    scenes = [Scene((o,)) for o in objs]
    assert scene_labels(scenes, "position")[0].tolist() == [0, 1]
    labels, names = scene_labels(scenes, "cell")
    assert [names[i] for i in labels] == ["top left", "bottom right"]
    labels, names = scene_labels(scenes, "colour")
    assert [names[i] for i in labels] == ["red", "blue"]
    labels, names = scene_labels([Scene(tuple(objs)), scenes[0]], "count")
    assert [names[i] for i in labels] == ["2", "1"]
    with pytest.raises(ValueError, match="ambiguous"):
        scene_labels([Scene(tuple(objs))], "shape")
    assert scene_labels([Scene(tuple(objs))], "shape", object_index=1)[0].tolist() == [3]  # "star"
    with pytest.raises(ValueError, match="unknown attribute"):
        scene_labels(scenes, "texture")


def test_make_scene_images_matches_preprocess(tiny, scenes):
    model, preprocess, _ = tiny
    ours = make_scene_images(scenes[:3], model)
    theirs = torch.stack([preprocess(s.render().pil()) for s in scenes[:3]])
    assert ours.shape == (3, 3, 64, 64)
    assert torch.allclose(ours, theirs, atol=0.02)


# --- a real open_clip CLIP (random weights) -------------------------------------------------------------------------


def test_layer_activations_are_the_residual_stream(tiny, scenes):
    model, _, _ = tiny
    visual = model.visual
    n_blocks = len(visual.transformer.resblocks)
    n_hooks = sum(len(b._forward_hooks) + len(b._forward_pre_hooks) for b in visual.transformer.resblocks)
    images = make_scene_images(scenes[:8], model)
    acts = layer_activations(model, images, token="all")
    assert list(acts) == ["embed"] + [f"block {i}" for i in range(n_blocks)]
    n_tokens = 1 + (64 // 8) ** 2
    assert acts["embed"].shape == (8, n_tokens, visual.transformer.width)
    with torch.no_grad():
        image_emb = model.encode_image(images)
        # the last block's class token, through ln_post and proj, is the image embedding
        assert torch.allclose(visual.ln_post(acts[f"block {n_blocks - 1}"][:, 0]) @ visual.proj, image_emb, atol=1e-5)
        # one block applied to the previous layer gives the next one
        assert torch.allclose(visual.transformer.resblocks[1](acts["block 0"]), acts["block 1"], atol=1e-5)
    assert sum(len(b._forward_hooks) + len(b._forward_pre_hooks) for b in visual.transformer.resblocks) == n_hooks
    mlp = layer_activations(model, images, site="mlp", token="max")
    assert list(mlp) == [f"block {i}" for i in range(n_blocks)] and mlp["block 0"].shape == (8, 4 * visual.transformer.width)
    mean = layer_activations(model, images, token="mean")["block 0"]
    assert torch.allclose(mean, acts["block 0"][:, 1:].mean(1))


def test_probe_model_end_to_end_on_scenes(tiny, scenes):
    model, _, _ = tiny
    results = probe_model(model, scenes, attributes=("colour", "position", "size"), token="mean")
    n_layers = 1 + len(model.visual.transformer.resblocks)
    for attribute, result in results.items():
        assert result.attribute == attribute and len(result.test_accuracy) == n_layers == len(result.layers)
        assert all(0 <= a <= 1 for a in result.test_accuracy)
    # Even random patch embeddings are a linear map of the pixels: colour is linearly readable.
    assert max(results["colour"].test_accuracy) > 0.8 > 2 * results["colour"].chance
    # Before any block the class token is the same for every image: nothing to read but the majority class.
    cls = probe_model(model, scenes, attributes=("colour",), token="cls")["colour"]
    assert cls.test_accuracy[0] == pytest.approx(cls.chance)


def test_logit_lens_last_layer_is_zero_shot(tiny, scenes):
    model, _, tokenizer = tiny
    images = make_scene_images(scenes, model)
    labels, names = scene_labels(scenes, "colour")
    text_emb = zero_shot_classifier(model, tokenizer, names, ATTRIBUTE_TEMPLATES["colour"])
    lens = logit_lens(model, images, text_emb, labels)
    n_layers = 1 + len(model.visual.transformer.resblocks)
    assert lens.layers[-1] == f"block {n_layers - 2}" and len(lens.accuracy) == n_layers
    assert lens.logits.shape == (n_layers, len(scenes), len(COLOURS))
    zero_shot = zero_shot_predict(model, tokenizer, None, images, labels, names, ATTRIBUTE_TEMPLATES["colour"])
    assert torch.equal(lens.predictions[-1], zero_shot["predictions"])
    assert lens.accuracy[-1] == pytest.approx(zero_shot["accuracy"])
    assert torch.allclose(lens.logits[-1], model.logit_scale.exp() * zero_shot["logits"], atol=1e-4)
    assert len(set(lens.predictions[0].tolist())) == 1  # the embed-layer class token ignores the image
    assert logit_lens(model, images[:4], text_emb).accuracy is None
    with pytest.raises(ValueError, match="class embeddings"):
        logit_lens(model, images, torch.zeros(6, 5))


def test_top_activating_sorted_and_consistent(tiny, scenes):
    model, _, _ = tiny
    images = make_scene_images(scenes[:40], model)
    top = top_activating(model, images, layer=-1, unit=7, k=5, site="mlp", token="max")
    assert top.indices.shape == (5,) and (top.values[:-1] >= top.values[1:]).all()
    all_values = layer_activations(model, images, site="mlp", token="max")["block " + str(len(model.visual.transformer.resblocks) - 1)][:, 7]
    assert torch.equal(top.indices, torch.argsort(all_values, descending=True)[:5])
    assert torch.allclose(top.values, all_values[top.indices])
    resid = unit_activations(model, scenes[:40], layer="embed", unit=0, token="mean")
    assert resid.shape == (40,)
    with pytest.raises(ValueError, match="out of range"):
        top_activating(model, images, layer=0, unit=10_000)
    with pytest.raises(ValueError, match="k must be"):
        top_activating(model, images, layer=0, unit=0, k=41)


def test_plot_layer_accuracy_draws_one_line_per_attribute(tiny, scenes):
    from mmlens.viz.embedding import plot_layer_accuracy

    x, y = encoded_labels(n=120)
    result = probe_layers({"embed": x[:, ::-1].copy() * 0, "block 0": x}, y, attribute="toy")
    ax = plot_layer_accuracy({"toy": result, "pair": (["embed", "block 0"], [0.5, 0.6])})
    assert len(ax.lines) == 3  # two curves and the toy probe's chance line
    assert [t.get_text() for t in ax.get_xticklabels()] == ["embed", "block 0"]
    assert np.allclose(ax.lines[0].get_ydata(), result.test_accuracy)
    plt.close(ax.figure)
