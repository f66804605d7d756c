"""mmlens.data captions, checker, hard negatives, questions, tokenizer."""
from collections import Counter

import pytest
import torch

from mmlens.data import (
    ANSWERS,
    CAPTION_KINDS,
    VOCAB,
    CaptionParseError,
    Scene,
    SceneObject,
    WordTokenizer,
    answer_question,
    caption_is_true,
    check_caption,
    class_captions,
    class_prompts,
    make_caption,
    make_captions,
    make_hard_negatives,
    make_questions,
    make_scenes,
)

SCENES = make_scenes(300, seed=11, n_objects=(1, 4))


def _scene(*objs):
    return Scene(tuple(SceneObject(*o) for o in objs))


# red small circle on the left, blue large square on the right, two green hearts at the bottom
HAND = _scene(
    ("circle", "red", "small", 0.15, 0.2),
    ("square", "blue", "large", 0.75, 0.2),
    ("heart", "green", "small", 0.2, 0.8),
    ("heart", "green", "large", 0.7, 0.8),
)


@pytest.mark.parametrize(
    "caption, truth",
    [
        ("a red circle", True),
        ("a small red circle", True),
        ("a large red circle", False),
        ("a red object", True),
        ("a circle", True),
        ("something blue", True),
        ("something small and green", True),
        ("something purple", False),
        ("a photo of a large shape", True),
        ("a red circle and a blue square", True),
        ("a blue circle and a red square", False),
        ("a red circle and a red circle", False),  # needs two distinct red circles
        ("a red circle to the left of a blue square", True),
        ("a red circle is to the left of a blue square", True),
        ("a blue square to the left of a red circle", False),
        ("a blue square is to the right of a red circle", True),
        ("a red circle above a green heart", True),
        ("a red circle below a green heart", False),
        ("a red circle left of a small green heart", False),  # dx = 0.05: no clear relation
        ("two green hearts", True),
        ("there are two hearts", True),
        ("three hearts", False),
        ("four objects", True),
        ("three objects", False),
        ("one blue square", True),
        ("one heart", False),
        ("there is one small circle", True),
        ("a picture of two large things", True),
        ("an orange cross", False),
    ],
)
def test_checker_on_hand_built_scene(caption, truth):
    assert check_caption(caption, HAND) is truth
    assert caption_is_true(caption, HAND) is truth


@pytest.mark.parametrize(
    "text", ["a red circle near a square", "two red circle", "a red circles", "red", "", "a circle and", "the the"]
)
def test_unparsable_text_is_false_and_strict_mode_raises(text):
    assert caption_is_true(text, HAND) is False
    with pytest.raises(CaptionParseError):
        check_caption(text, HAND)


def test_plural_forms():
    scene = _scene(("cross", "red", "small", 0.2, 0.2), ("cross", "blue", "small", 0.8, 0.8))
    assert caption_is_true("two crosses", scene) and not caption_is_true("two crosss", scene)
    assert "crosses" in VOCAB and "circles" in VOCAB


def test_every_generated_caption_is_true_for_its_scene():
    kinds = Counter()
    for i, scene in enumerate(SCENES):
        for kind in CAPTION_KINDS:
            if kind in ("objects", "relation") and len(scene) < 2:
                with pytest.raises(ValueError, match=kind):
                    make_caption(scene, i, kind)
                continue
            for seed in range(3):
                caption = make_caption(scene, seed * 1000 + i, kind)
                assert check_caption(caption, scene), (caption, scene)
                kinds[kind] += 1
        for caption in make_captions(scene, 4, seed=i):
            assert check_caption(caption, scene), caption
    assert min(kinds.values()) > 300


def test_captions_vary_across_templates_and_are_deterministic():
    scene = SCENES[3]
    assert make_captions(scene, 5, seed=1) == make_captions(scene, 5, seed=1)
    all_caps = {make_caption(s, i) for i, s in enumerate(SCENES)}
    assert len(all_caps) > 250
    openings = Counter(c.split()[0] for c in all_caps)
    assert {"a", "an", "there", "two", "one", "something"} <= set(openings)
    relation_caps = [make_caption(s, i, "relation") for i, s in enumerate(SCENES) if len(s) > 1]
    for phrase in ("to the left of", "to the right of", " above ", " below ", " is "):
        assert any(phrase in c for c in relation_caps), phrase


def test_captions_can_mention_single_attributes():
    caps = {make_caption(s, i, "attribute") for i, s in enumerate(SCENES)}
    assert any(c.endswith("red object") or c.endswith("red thing") or c.endswith("red shape") for c in caps)
    assert any(c.split()[-1] in ("circle", "square", "star") and c.split()[-2] in ("a", "of") for c in caps)
    assert any(c.endswith("small object") or c.endswith("small thing") or c.endswith("small shape") for c in caps)
    assert any("something" in c for c in caps)


def test_every_hard_negative_is_false_and_kinds_are_only_given_when_possible():
    found = Counter()
    for i, scene in enumerate(SCENES):
        for kind in CAPTION_KINDS:
            if kind in ("objects", "relation") and len(scene) < 2:
                continue
            caption = make_caption(scene, i, kind)
            negatives = make_hard_negatives(scene, caption)
            assert set(negatives) <= {"attribute_swap", "relation_swap", "object_replacement"}
            for neg_kind, neg in negatives.items():
                assert check_caption(neg, scene) is False, (caption, neg_kind, neg)
                assert neg != caption
                found[neg_kind] += 1
                if neg_kind in ("attribute_swap", "relation_swap"):  # same bag of words (up to a/an)
                    norm = lambda t: sorted(w for w in t.split() if w not in ("a", "an"))
                    assert norm(neg) == norm(caption)
            if kind in ("attribute", "count"):
                assert "attribute_swap" not in negatives and "relation_swap" not in negatives
            if kind != "relation":
                assert "relation_swap" not in negatives
    assert min(found.values()) > 50


def test_hard_negatives_on_known_caption():
    neg = make_hard_negatives(HAND, "a red circle to the left of a blue square")
    assert neg["relation_swap"] == "a blue square to the left of a red circle"
    assert neg["attribute_swap"] in ("a blue circle to the left of a red square", "a red square to the left of a blue circle")
    assert not caption_is_true(neg["object_replacement"], HAND)
    with pytest.raises(ValueError):
        make_hard_negatives(HAND, "a red circle near a square")


def test_questions_answers_are_in_the_closed_vocabulary_and_correct():
    kinds = Counter()
    answers = Counter()
    for i, scene in enumerate(SCENES):
        for q in make_questions(scene, seed=i):
            assert q.answer in ANSWERS and ANSWERS[q.answer_id] == q.answer
            assert answer_question(q.text, scene) == q.answer
            kinds[q.kind] += 1
            answers[q.kind, q.answer] += 1
    assert set(kinds) == {"exists", "count", "colour", "shape", "relation"}
    assert answers["exists", "yes"] > 50 and answers["exists", "no"] > 50
    assert answers["relation", "yes"] > 30 and answers["relation", "no"] > 30
    assert answers["count", "zero"] > 10 and answers["count", "two"] > 10


def test_answer_question_on_hand_built_scene():
    assert answer_question("is there a red circle", HAND) == "yes"
    assert answer_question("is there a purple star", HAND) == "no"
    assert answer_question("how many hearts are there", HAND) == "two"
    assert answer_question("how many green objects are there", HAND) == "two"
    assert answer_question("how many crosses are there", HAND) == "zero"
    assert answer_question("what colour is the circle", HAND) == "red"
    assert answer_question("what shape is the blue object", HAND) == "square"
    assert answer_question("is the circle to the left of the square", HAND) == "yes"
    assert answer_question("is the square above the large heart", HAND) == "yes"
    assert answer_question("is the large heart above the square", HAND) == "no"
    with pytest.raises(ValueError, match="2 objects"):
        answer_question("what colour is the heart", HAND)  # ambiguous "the"


def test_class_prompts_and_zero_shot_captions():
    assert class_prompts("colour") == ["red", "green", "blue", "yellow", "purple", "orange"]
    assert class_prompts("shape")[:4] == ["circle", "square", "triangle", "star"]
    assert class_prompts("size") == ["small", "large"]
    assert class_captions("colour")[5] == "a photo of an orange object"
    assert class_captions("shape")[0] == "a photo of a circle"
    truths = [caption_is_true(c, HAND) for c in class_captions("colour")]
    assert truths == [True, True, True, False, False, False]
    assert [caption_is_true(c, HAND) for c in class_captions("size", "there is {}")] == [True, True]
    with pytest.raises(ValueError, match="texture"):
        class_prompts("texture")


# ---------------------------------------------------------------- tokenizer


def test_tokenizer_round_trip_special_ids_and_unknown_words():
    tok = WordTokenizer(context_length=16)
    assert VOCAB[0] == "<pad>" and VOCAB[1] == "<unk>"
    assert tok.eot_token_id == len(VOCAB) - 1 == max(range(tok.vocab_size))
    assert tok.sot_token_id == len(VOCAB) - 2
    assert tok.decode(tok.encode("A small red circle, to the left of a blue square!")) == (
        "a small red circle to the left of a blue square"
    )
    ids = tok.encode("a zebra circle")
    assert ids[1] == tok.unk_token_id and tok.decode(ids) == "a <unk> circle"
    t = tok(["a red circle", "two blue squares"])
    assert t.dtype == torch.long and t.shape == (2, 16)
    assert t[0, 0] == tok.sot_token_id and t[0, 4] == tok.eot_token_id and (t[0, 5:] == 0).all()
    assert (t.argmax(-1) == torch.tensor([4, 4])).all()  # CLIP pooling finds <end>
    long = tok("a " * 40)
    assert long.shape == (1, 16) and long[0, -1] == tok.eot_token_id and long[0, 0] == tok.sot_token_id
    assert tok("a red circle", context_length=8).shape == (1, 8)


def test_vocabulary_covers_every_generated_string_and_prompt_words():
    tok = WordTokenizer()
    texts = [make_caption(s, i) for i, s in enumerate(SCENES)]
    texts += [n for s in SCENES[:100] for n in make_hard_negatives(s, make_caption(s, 0)).values()]
    texts += [q.text for i, s in enumerate(SCENES) for q in make_questions(s, i)] + list(ANSWERS)
    texts += class_captions("colour") + class_captions("shape") + class_captions("size")
    for t in texts:
        assert tok.unk_token_id not in tok.encode(t), t
    for w in ("photo", "of", "this", "is", "picture", "image", "shape", "colour", "color", "drawing", "an", "the",
              "one", "two", "three", "four"):
        assert w in VOCAB
    assert len(set(VOCAB)) == len(VOCAB)


def test_open_clip_tokenizer_works_on_the_same_strings():
    import open_clip

    clip_tok = open_clip.get_tokenizer("ViT-B-32")
    texts = [make_caption(s, i) for i, s in enumerate(SCENES[:50])]
    tokens = clip_tok(texts)
    assert tokens.shape == (50, 77)
    eot = tokens.argmax(-1)
    assert (tokens[torch.arange(50), eot] == 49407).all() and (eot > 2).all()
