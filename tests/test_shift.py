import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmlens import data, shift
from mmlens.data import COLOUR_RGB, COLOURS, VOCAB
from mmlens.exercises.shift import check_top_k_classes, check_uniform_scene
from mmlens.zoo import load_model


class ColourOracle(torch.nn.Module):
    """Knows colours and nothing else: image = share of pixels near each world colour, text = colour words."""

    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(np.log(100.0)))
        self.rgb = torch.tensor([COLOUR_RGB[c] for c in COLOURS], dtype=torch.float32) / 255  # (6, 3)
        self.word_ids = [VOCAB.index(c) for c in COLOURS]

    def encode_image(self, images, normalize=False):
        pixels = images.permute(0, 2, 3, 1).reshape(len(images), -1, 1, 3)  # (N, HW, 1, 3)
        dist = (pixels - self.rgb).abs().amax(-1)  # (N, HW, 6)
        near = (dist < 0.25) & (dist == dist.amin(-1, keepdim=True))
        return F.normalize(near.float().mean(1) + 1e-6, dim=-1)  # (N, 6)

    def encode_text(self, tokens, normalize=False):
        counts = torch.stack([(tokens == i).sum(-1) for i in self.word_ids], -1).float()  # (N, 6)
        return F.normalize(counts + 1e-6, dim=-1)


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def oracle():
    return ColourOracle(), to_tensor, data.WordTokenizer()


@pytest.fixture(scope="module")
def random_clip():
    return load_model("mmlens-tiny-clip")  # the real architecture, random weights, offline


def test_presets_turn_the_advertised_knobs():
    assert list(shift.SHIFT_PRESETS)[0] == shift.BASELINE
    bg = shift.make_shifted_scenes("background", 5)
    assert all(s.background == (60, 60, 60) for s in bg)
    shades = shift.make_shifted_scenes("colour shade", 20)
    assert any(o.rgb is not None and o.rgb != COLOUR_RGB[o.colour] for s in shades for o in s.objects)
    small = shift.make_shifted_scenes("smaller", 5)
    assert all(o.radius == pytest.approx(data.SIZE_RADIUS[o.size] * 0.6) for s in small for o in s.objects)
    assert all(len(s) == 6 for s in shift.make_shifted_scenes("more objects", 5))
    assert all(len(s) == 1 for s in shift.make_shifted_scenes(shift.BASELINE, 5))
    on_lattice = lambda v: abs(v * 16 - 0.5 - round(v * 16 - 0.5)) < 1e-6  # noqa: E731
    base = [o for s in shift.make_shifted_scenes(shift.BASELINE, 20) for o in s.objects]
    off = [o for s in shift.make_shifted_scenes("off grid", 20) for o in s.objects]
    assert all(on_lattice(o.x) and on_lattice(o.y) for o in base)
    assert sum(on_lattice(o.x) or on_lattice(o.y) for o in off) < len(off) // 2
    assert all(len(s) == 1 for s in shift.make_shifted_scenes("off grid", 5))


def test_get_preset_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown shift preset 'fog'"):
        shift.get_preset("fog")
    p = shift.SHIFT_PRESETS["smaller"]
    assert shift.get_preset(p) is p


@pytest.mark.parametrize("attribute", ["colour", "shape", "size"])
def test_shift_test_set_is_balanced_and_every_object_has_the_label(attribute, monkeypatch):
    scenes = []
    original = data.make_scene

    def spy(*args, **kwargs):
        scenes.append(original(*args, **kwargs))
        return scenes[-1]

    monkeypatch.setattr(shift.data, "make_scene", spy)
    images, labels, class_names = shift.make_shift_test_set("more objects", attribute, 24, resolution=96)
    assert class_names == list(data.class_prompts(attribute))
    assert [labels.count(c) for c in class_names] == [24 // len(class_names)] * len(class_names)
    assert all(im.shape == (96, 96, 3) and im.dtype == np.uint8 for im in images)
    for scene, label in zip(scenes, labels):
        assert len(scene) == 6
        assert {getattr(o, attribute) for o in scene.objects} == {label}


def test_shift_test_set_is_reproducible_and_seed_dependent():
    a, la, _ = shift.make_shift_test_set("background", "colour", 12, seed=3)
    b, lb, _ = shift.make_shift_test_set("background", "colour", 12, seed=3)
    c, _, _ = shift.make_shift_test_set("background", "colour", 12, seed=4)
    assert la == lb and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert (a[0][0, 0] == (60, 60, 60)).all()  # the corner pixel is background


def test_shift_test_set_rejects_bad_arguments():
    with pytest.raises(ValueError, match="attribute must be one of"):
        shift.make_shift_test_set("none", "texture", 4)
    with pytest.raises(ValueError, match="n=0"):
        shift.make_shift_test_set("none", "colour", 0)


def test_colour_oracle_is_perfect_on_colour_and_at_chance_on_shape(oracle):
    model, preprocess, tokenizer = oracle
    table = shift.shift_zero_shot(model, preprocess, tokenizer, presets=["none", "background", "larger"],
                                  n=24, resolution=64)
    assert table.presets == ["none", "background", "larger"] and table.attributes == ["colour", "shape", "size"]
    for p in table.presets:
        assert table.accuracy[p]["colour"] == 1.0  # neither a dark background nor size hides the colour
        assert table.accuracy[p]["shape"] < 0.5  # shape prompts carry no colour word: it cannot tell
    assert table.chance == {"colour": pytest.approx(1 / 6), "shape": pytest.approx(1 / 6), "size": 0.5}
    assert table.drop()["background"]["colour"] == 0.0


def test_shift_table_prints_aligned_and_computes_drops():
    table = shift.ShiftTable({"none": {"colour": 0.9, "size": 1.0}, "smaller": {"colour": 0.85, "size": 0.5}},
                             {"colour": 1 / 6, "size": 0.5}, n=10)
    assert table.drop() == {"smaller": {"colour": pytest.approx(0.05), "size": pytest.approx(0.5)}}
    lines = str(table).splitlines()
    assert lines[0].split() == ["colour", "size"]
    assert lines[2].split() == ["smaller", "0.850", "0.500"]
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(ValueError, match="baseline 'clean'"):
        table.drop("clean")


def test_shift_zero_shot_runs_on_the_real_architecture(random_clip):
    model, preprocess, tokenizer = random_clip
    assert shift.input_resolution(model) == 64
    table = shift.shift_zero_shot(model, preprocess, tokenizer, presets=["none", "more objects"],
                                  attributes=["size"], n=8)
    assert set(table.accuracy) == {"none", "more objects"}
    assert all(0.0 <= row["size"] <= 1.0 for row in table.accuracy.values())
    with pytest.raises(ValueError, match="attribute must be one of"):
        shift.shift_zero_shot(model, preprocess, tokenizer, attributes=["texture"], n=2)


def test_predict_photos_ranks_prompts(random_clip):
    model, preprocess, tokenizer = random_clip
    photos = data.load_sample_photos(("coffee", "chelsea"))
    out = shift.predict_photos(model, preprocess, tokenizer, photos, k=4)
    assert list(out) == ["coffee", "chelsea"]
    for preds in out.values():
        probs = [p for _, p in preds]
        assert len(preds) == 4 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert all(text in shift.photo_prompts() for text, _ in preds)
    with pytest.raises(ValueError, match="k=0"):
        shift.predict_photos(model, preprocess, tokenizer, photos, k=0)


def test_predict_photos_follows_the_image(oracle):
    model, preprocess, tokenizer = oracle
    orange = Image.new("RGB", (32, 32), COLOUR_RGB["orange"])
    blue = Image.new("RGB", (32, 32), COLOUR_RGB["blue"])
    out = shift.predict_photos(model, preprocess, tokenizer, {"o": orange, "b": blue}, k=1)
    assert "orange" in out["o"][0][0] and "blue" in out["b"][0][0]


def test_photo_prompts_cover_every_colour_shape_pair():
    prompts = shift.photo_prompts()
    assert len(prompts) == len(set(prompts)) == 36
    assert "a photo of an orange heart" in prompts
    with pytest.raises(ValueError, match="two"):
        shift.photo_prompts("a photo of a {}")


def test_unknown_words():
    tok = data.WordTokenizer()
    assert shift.unknown_words(tok, "A photo of a cat, an astronaut!") == ["cat", "astronaut"]
    assert shift.unknown_words(tok, "a photo of a red circle") == []
    assert shift.unknown_words(lambda texts: None, "a cat") == []  # tokenizers that spell anything


def _uniform_scene(attribute, value, n_objects, seed):
    world = dataclasses.replace(data.WorldConfig(), **{attribute + "s": (value,)})
    return data.make_scene(seed, n_objects=n_objects, split="test", world=world)


def test_check_uniform_scene_accepts_a_solution_and_rejects_wrong_ones():
    assert check_uniform_scene(_uniform_scene)
    assert not check_uniform_scene(lambda a, v, n, s: data.make_scene(s, n_objects=n))
    assert not check_uniform_scene(lambda a, v, n, s: _uniform_scene(a, v, 1, s))
    stub = check_uniform_scene(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
    assert not stub and "NotImplementedError" in repr(stub)


def test_check_top_k_classes():
    def solution(image_emb, class_emb, names, k):
        return [names[j] for j in (class_emb @ image_emb).topk(k).indices.tolist()]

    assert check_top_k_classes(solution)
    assert not check_top_k_classes(lambda e, c, n, k: [n[j] for j in (c @ e).topk(k, largest=False).indices])
    reversed_order = check_top_k_classes(lambda e, c, n, k: solution(e, c, n, k)[::-1])
    assert not reversed_order and "order" in repr(reversed_order)


def test_shift_predict_and_format_confusion(oracle):
    model, preprocess, tokenizer = oracle
    out = shift.shift_predict(model, preprocess, tokenizer, "colour shade", "colour", n=12, resolution=64)
    assert out["confusion"].sum() == 12 and out["class_names"] == list(COLOURS)
    text = shift.format_confusion(out)
    lines = text.splitlines()
    assert len(lines) == 7 and lines[1].split()[0] == "red" and len({len(l) for l in lines}) == 1
    assert sum(int(v) for line in lines[1:] for v in line.split()[1:]) == 12
    with pytest.raises(ValueError, match="shape"):
        shift.format_confusion({"confusion": np.zeros((2, 2)), "class_names": ["a", "b", "c"]})
