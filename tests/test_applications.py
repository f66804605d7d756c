import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmlens import applications as apps
from mmlens import data
from mmlens.data import COLOUR_RGB, COLOURS, VOCAB
from mmlens.exercises.applications import check_colour_statements, check_retrieve
from mmlens.zoo import load_model


class ColourOracle(torch.nn.Module):
    """Knows colours and nothing else: image = share of pixels near each world colour, text = colour words."""

    def __init__(self):
        super().__init__()
        self.rgb = torch.tensor([COLOUR_RGB[c] for c in COLOURS], dtype=torch.float32) / 255  # (6, 3)
        self.word_ids = [VOCAB.index(c) for c in COLOURS]

    def encode_image(self, images, normalize=False):
        pixels = images.permute(0, 2, 3, 1).reshape(len(images), -1, 1, 3)  # (N, HW, 1, 3)
        dist = (pixels - self.rgb).abs().amax(-1)  # (N, HW, 6)
        return F.normalize((dist < 0.1).float().mean(1) + 1e-6, dim=-1)  # (N, 6)

    def encode_text(self, tokens, normalize=False):
        counts = torch.stack([(tokens == i).sum(-1) for i in self.word_ids], -1).float()  # (N, 6)
        return F.normalize(counts + 1e-6, dim=-1)


def to_tensor(image):
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def oracle():
    return ColourOracle(), to_tensor, data.WordTokenizer()


def colours_of(scene):
    return {o.colour for o in scene.objects}


def test_retrieve_finds_scenes_with_the_asked_colour(oracle):
    model, preprocess, tokenizer = oracle
    scenes = data.make_scenes(60, n_objects=(1, 3), split="test")
    image_emb = apps.embed_scenes(model, preprocess, scenes, resolution=64)
    assert image_emb.shape == (60, 6)
    hits = apps.retrieve(model, tokenizer, "a purple object", image_emb, k=5)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all("purple" in colours_of(scenes[i]) for i, _ in hits)
    with pytest.raises(ValueError, match="k=61"):
        apps.retrieve(model, tokenizer, "a red object", image_emb, k=61)


def test_caption_pool_is_distinct_and_true_of_some_scene():
    pool = apps.make_caption_pool(50, seed=1)
    assert pool == sorted(set(pool)) and len(pool) > 50
    assert all(data.parse_caption(c) for c in pool)
    with pytest.raises(ValueError, match="unknown caption kind"):
        apps.make_caption_pool(5, kinds=("poem",))


def test_caption_scenes_picks_captions_in_the_scene_colours(oracle):
    model, preprocess, tokenizer = oracle
    scenes = data.make_scenes(8, n_objects=1, split="test")
    pool = apps.make_caption_pool(100, kinds=("attribute",))
    out = apps.caption_scenes(model, preprocess, tokenizer, scenes, pool, k=2, resolution=64)
    assert len(out) == 8 and all(len(r) == 2 for r in out)
    for scene, ranked in zip(scenes, out):
        caption, score, true = ranked[0]
        assert [w for w in caption.split() if w in COLOURS] == [scene.objects[0].colour]
        assert true == data.caption_is_true(caption, scene)
        assert ranked[0][1] >= ranked[1][1]


def test_question_statements_are_true_exactly_for_the_right_answer():
    checked = 0
    for i, scene in enumerate(data.make_scenes(40, n_objects=(1, 4), split="val")):
        for q in data.make_questions(scene, seed=i, kinds=("count", "colour", "shape", "relation")):
            for answer, statement in apps.question_statements(q.text).items():
                if answer == "zero":
                    assert statement.startswith("there are zero")
                    continue
                assert data.caption_is_true(statement, scene) == (answer == q.answer), (q, statement)
                checked += 1
    assert checked > 300


def test_question_statements_examples_and_errors():
    assert apps.question_statements("how many red circles are there", max_count=2) == {
        "zero": "there are zero red circles", "one": "there is one red circle", "two": "there are two red circles"}
    assert apps.question_statements("is there a small star") == {
        "yes": "there is a small star", "no": "there is no small star"}
    assert apps.question_statements("what shape is the large blue object")["heart"] == "a large blue heart"
    assert apps.question_statements("is the red circle above the star") == {
        "yes": "a red circle above a star", "no": "a red circle below a star"}
    with pytest.raises(ValueError, match="why is the sky blue"):
        apps.question_statements("why is the sky blue")


def test_answer_question_and_vqa_accuracy_with_a_colour_oracle(oracle):
    model, preprocess, tokenizer = oracle
    scene = data.make_scenes(1, n_objects=1, split="test")[0]
    obj = scene.objects[0]
    answer, scores = apps.answer_question(model, preprocess, tokenizer, scene, f"what colour is the {obj.shape}",
                                          resolution=64)
    assert answer == obj.colour and set(scores) == set(COLOURS)
    acc = apps.vqa_accuracy(model, preprocess, tokenizer, n=30, n_objects=1, resolution=64)
    assert acc["colour"]["accuracy"] == 1.0 and acc["colour"]["chance"] == pytest.approx(1 / 6)
    assert acc["shape"]["accuracy"] < 0.6  # colour is all it sees
    assert sum(v["n"] for v in acc.values()) > 30


def test_mutate_scene_keeps_scenes_valid_and_changes_them():
    rng = np.random.default_rng(0)
    world = data.WorldConfig()
    scene = data.make_scenes(1, n_objects=2, split="val")[0]
    changed = 0
    for _ in range(200):
        new = apps.mutate_scene(scene, rng)
        assert 1 <= len(new) <= world.max_objects and apps._fits(new.objects, world)
        changed += new != scene
        scene = new
    assert changed > 150
    on_lattice = lambda v: abs(v * 16 - 0.5 - round(v * 16 - 0.5)) < 1e-6  # noqa: E731 (position_grid=16)
    assert all(on_lattice(o.x) and on_lattice(o.y) for o in scene.objects)  # moves and adds stay on it
    free, free_world = scene, data.WorldConfig(position_grid=None)
    for _ in range(100):
        free = apps.mutate_scene(free, rng, free_world)
    assert not all(on_lattice(o.x) and on_lattice(o.y) for o in free.objects)
    a = apps.mutate_scene(scene, np.random.default_rng(5))
    assert a == apps.mutate_scene(scene, np.random.default_rng(5))


def test_generate_scene_climbs_towards_the_text(oracle):
    model, preprocess, tokenizer = oracle
    text = "a green object and a red object"  # best: equal areas of green and red, nothing else
    result = apps.generate_scene(model, preprocess, tokenizer, text, n_candidates=2, n_steps=8,
                                 n_proposals=8, resolution=64)
    assert {"green", "red"} <= colours_of(result.scene)
    scores = [s for _, s, _ in result.history]
    assert scores == sorted(scores) and result.score == scores[-1] and len(scores) >= 2
    assert result.n_evaluated == 2 + 8 * 8
    with pytest.raises(ValueError, match="n_candidates"):
        apps.generate_scene(model, preprocess, tokenizer, "a red circle", n_candidates=0)


def test_applications_run_on_the_real_architecture():
    model, preprocess, tokenizer = load_model("mmlens-tiny-clip")
    scenes = data.make_scenes(4, n_objects=(1, 3), split="test")
    image_emb = apps.embed_scenes(model, preprocess, scenes)
    assert image_emb.shape[0] == 4 and torch.allclose(image_emb.norm(dim=-1), torch.ones(4), atol=1e-4)
    ranked = apps.rank_texts(model, preprocess, tokenizer, scenes[0], ["a red circle", "a blue star"], k=1)
    assert len(ranked) == 1 and ranked[0][0] in ("a red circle", "a blue star")
    result = apps.generate_scene(model, preprocess, tokenizer, "a red circle", n_candidates=4, n_steps=1,
                                 n_proposals=2)
    assert isinstance(result.scene, data.Scene)
    with pytest.raises(TypeError, match="images\\[0\\] is a str"):
        apps.embed_scenes(model, preprocess, ["a red circle"])


def test_check_retrieve():
    assert check_retrieve(lambda img, txt, k: (img @ txt).topk(k).indices.tolist())
    assert check_retrieve(lambda img, txt, k: (img @ txt).argsort(descending=True)[:k])
    assert not check_retrieve(lambda img, txt, k: (img @ txt).topk(k, largest=False).indices.tolist())
    assert not check_retrieve(lambda img, txt, k: list(range(k)))


def test_check_colour_statements():
    def solution(question):
        thing = question.split(" is the ")[1].split()
        return {c: " ".join(["a"] + thing[:-1] + [c, thing[-1]]).replace("a orange", "an orange") for c in COLOURS}

    assert check_colour_statements(solution)
    assert not check_colour_statements(lambda q: {c: f"a {c} object" for c in COLOURS})
    assert not check_colour_statements(lambda q: {"red": "a red circle"})
