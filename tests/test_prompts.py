import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmlens import prompts
from mmlens.data import COLOUR_RGB, COLOURS, VOCAB, WordTokenizer

_COLOUR_IDS = torch.tensor([VOCAB.index(c) for c in COLOURS])


class ColourModel(torch.nn.Module):
    """A transparent stand-in for CLIP that sees and reads colours only.

    Image embedding: the fraction of pixels of each of the six colours. Text embedding: a one-hot of
    the colour words in the text, plus a small constant, so texts without a colour word (or with an
    unknown word) are all the same vector.
    """

    def __init__(self):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))

    def encode_image(self, x, normalize=False):  # x: (N, 6) colour histograms from `colour_preprocess`
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, tokens, normalize=False):  # tokens: (N, L)
        emb = (tokens[:, :, None] == _COLOUR_IDS).any(dim=1).float() + 0.01  # (N, 6)
        return F.normalize(emb, dim=-1) if normalize else emb


def colour_preprocess(pil):
    pixels = np.asarray(pil.convert("RGB")).reshape(-1, 3)
    return torch.tensor([(pixels == COLOUR_RGB[c]).all(axis=1).mean() for c in COLOURS], dtype=torch.float32)


@pytest.fixture(scope="module")
def colour_model():
    return ColourModel(), colour_preprocess, WordTokenizer()


@pytest.fixture(scope="module")
def test_set(colour_model):
    model, preprocess, _ = colour_model
    images, labels = prompts.make_prompt_test_set(n=60, seed=0)
    return prompts.encode_test_images(model, preprocess, images), labels


def test_templates_and_variants_use_known_words_except_the_deliberate_synonyms():
    tok = WordTokenizer()
    for template in prompts.TEMPLATES + prompts.ENSEMBLE_TEMPLATES:
        assert template.count("{}") == 1
        assert not prompts.unknown_words([template.replace("{}", "red")], tok), template
    assert prompts.unknown_words(["a photo of a box"], tok) == {"a photo of a box": ["box"]}
    for attribute, variants in prompts.CLASS_NAME_VARIANTS.items():
        assert list(variants["standard"]) == prompts.standard_class_names(attribute)
        assert len({len(v) for v in variants.values()}) == 1
    assert all(prompts.unknown_words([w], tok) for w in prompts.CLASS_NAME_VARIANTS["shape"]["synonyms"])


def test_unknown_words_is_empty_for_a_tokenizer_without_unknown_token():
    assert prompts.unknown_words(["a photo of a box"], lambda texts: torch.zeros(1, 4)) == {}


def test_make_prompts_fixes_articles_and_rejects_bad_templates():
    assert prompts.make_prompts(["red", "orange"], "a photo of a {} object") == [
        "a photo of a red object", "a photo of an orange object"]
    assert prompts.make_prompts(["circle"], "{}") == ["circle"]
    with pytest.raises(ValueError, match="exactly one"):
        prompts.make_prompts(["red"], "a photo")
    with pytest.raises(ValueError, match="non-empty"):
        prompts.make_prompts("red", "a {}")


def test_prompt_test_set_labels_the_same_scenes_three_ways():
    images, labels = prompts.make_prompt_test_set(n=20, seed=3)
    assert len(images) == 20 and set(labels) == {"colour", "shape", "size"}
    assert all(len(v) == 20 for v in labels.values())
    # each label is the true colour: the image contains that colour's pixels
    for image, colour in zip(images, labels["colour"]):
        assert (image.reshape(-1, 3) == COLOUR_RGB[colour]).all(axis=1).any()


def test_accuracy_by_template_on_a_model_that_reads_colours(colour_model, test_set):
    model, _, tok = colour_model
    image_emb, labels = test_set
    acc = prompts.accuracy_by_template(model, tok, image_emb, labels["colour"], list(COLOURS),
                                       ["{}", "a photo of a {} object"])
    assert acc == {"{}": 1.0, "a photo of a {} object": 1.0, "ensemble": 1.0}
    # class names the tokenizer does not know: every class prompt is the same vector, argmax picks class 0
    names = prompts.CLASS_NAME_VARIANTS["colour"]
    result = prompts.class_name_accuracy(model, tok, image_emb, labels["colour"],
                                         {"standard": names["standard"], "synonyms": names["synonyms"]})
    assert result["standard"] == 1.0
    assert result["synonyms"] == pytest.approx(np.mean([c == COLOURS[0] for c in labels["colour"]]))


def test_template_accuracy_table_rows_columns_and_ensembles(colour_model):
    model, preprocess, tok = colour_model
    table = prompts.template_accuracy_table(model, tok, preprocess, ["a {} object", "a {}"],
                                            attributes=("colour", "size"), n=30,
                                            ensembles={"both": ["a {} object", "a {}"]})
    assert list(table) == ["a {} object", "a {}", "both"]
    assert all(list(row) == ["colour", "size"] for row in table.values())
    assert table["both"]["colour"] == 1.0
    # the colour model cannot read sizes: every size prompt is the same vector
    assert table["a {}"]["size"] < 1.0
    assert prompts.best_template(table, "colour") == ("a {} object", 1.0)
    text = prompts.format_table(table)
    assert text.splitlines()[0].split() == ["template", "colour", "size"]
    assert "1.000" in text.splitlines()[1]


def test_template_accuracy_table_on_a_real_open_clip_architecture():
    from mmlens import zoo

    torch.manual_seed(0)
    model, preprocess, tok = zoo.load_model("mmlens-tiny-clip")  # random weights: near chance
    table = prompts.template_accuracy_table(model, tok, preprocess, prompts.TEMPLATES[:3], n=40)
    assert len(table) == 4 and all(0.0 <= v <= 1.0 for row in table.values() for v in row.values())


def test_classifier_accuracy_and_label_validation():
    image_emb = torch.eye(3)
    classifier = torch.eye(3)
    assert prompts.classifier_accuracy(image_emb, classifier, [0, 1, 2]) == 1.0
    assert prompts.classifier_accuracy(image_emb, classifier, [1, 1, 2]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="class indices"):
        prompts.classifier_accuracy(image_emb, classifier, [0, 1, 5])
    with pytest.raises(ValueError, match="N labels"):
        prompts.classifier_accuracy(image_emb, classifier, [0, 1])


def test_softmax_at_scales_sharpens_with_the_scale():
    cosines = torch.tensor([0.30, 0.25, 0.10])
    probs = prompts.softmax_at_scales(cosines, [0.01, 1.0, 100.0])
    assert probs.shape == (3, 3)
    assert torch.allclose(probs.sum(dim=-1), torch.ones(3))
    assert torch.allclose(probs[0], torch.full((3,), 1 / 3), atol=1e-3)  # tiny scale: nearly uniform
    assert probs[2, 0] > 0.99  # large scale: nearly one-hot
    assert (probs[:, 0].diff() > 0).all()
    with pytest.raises(ValueError, match="positive"):
        prompts.softmax_at_scales(cosines, [0.0])
    with pytest.raises(ValueError, match="one image"):
        prompts.softmax_at_scales(torch.zeros(2, 3), [1.0])


def test_learned_scale(colour_model):
    assert prompts.learned_scale(colour_model[0]) == pytest.approx(10.0)


def test_two_object_choices_finds_both_colours_and_prefers_the_larger(colour_model):
    model, preprocess, tok = colour_model
    out = prompts.two_object_choices(model, tok, preprocess, "colour", n=40)
    assert len(out["scenes"]) == 40
    assert all(s.objects[0].colour != s.objects[1].colour for s in out["scenes"])
    assert out["top1_present"] == 1.0 and out["top2_both"] == 1.0
    assert out["picks_larger"] == 1.0  # the larger object has more pixels of its colour
    assert out["probs"].shape == (40, 6)


def test_binding_test_pairs_true_and_swapped_prompts(colour_model):
    model, preprocess, tok = colour_model
    out = prompts.binding_test(model, tok, preprocess, n=20)
    assert out["n_cases"] == 40 and 0.0 <= out["true_beats_swapped"] <= 1.0
    scene, true_prompt, swapped_prompt, _, _ = out["examples"][0]
    a, b = scene.objects
    assert true_prompt.endswith(f"{a.colour} {a.shape}")
    assert swapped_prompt.endswith(f"{b.colour} {a.shape}")


def test_ensemble_curve_matches_the_classifier_of_each_prefix(colour_model, test_set):
    from mmlens.evaluate import zero_shot_classifier

    model, _, tok = colour_model
    image_emb, labels = test_set
    templates = ["a {} object", "a big {}", "{}"]
    curve = prompts.ensemble_curve(model, tok, image_emb, labels["size"], ["small", "large"], templates)
    assert len(curve) == 3
    for k in range(3):
        clf = zero_shot_classifier(model, tok, ["small", "large"], templates[: k + 1])
        assert curve[k] == prompts.classifier_accuracy(image_emb, clf, [["small", "large"].index(s)
                                                                        for s in labels["size"]])
    with pytest.raises(ValueError, match="empty"):
        prompts.ensemble_curve(model, tok, image_emb, labels["size"], ["small", "large"], [])


def test_words_in_training_captions_cover_the_grammar_but_not_unused_words():
    words = prompts.words_in_training_captions(n=600)
    assert {"red", "circle", "photo", "left", "two"} <= words
    assert not {"sketch", "big", "background", "color"} & words
