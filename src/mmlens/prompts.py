"""Prompt templates, template ensembles, class-name variants, and how each moves zero-shot accuracy.

A zero-shot classifier is built from text: one prompt per class ("a photo of a {}" filled with each
class name), encoded and normalised; the rows are the classifier's weights
(:func:`mmlens.evaluate.zero_shot_classifier`). This module measures how the wording of those prompts
moves accuracy on the synthetic world, where the true label of every image is known.

Example::

    model, preprocess, tokenizer = mmlens.load_model()
    table = template_accuracy_table(model, tokenizer, preprocess, list(TEMPLATES), n=300)
    print(format_table(table))

Every template and class name below uses only words of :data:`mmlens.data.VOCAB`, so the embedded
word-level tokenizer knows them, except those in :data:`CLASS_NAME_VARIANTS` that are meant to be unknown
("box", "ring", ...), which show what a closed vocabulary does with a new word.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from mmlens.evaluate import ATTRIBUTES, encode_images, encode_texts, fix_article, zero_shot_classifier

PLAIN_TEMPLATE = "{}"
PHOTO_TEMPLATE = "a photo of a {}"

#: Templates for every attribute, from bare to wordy. "{}" is the class name ("red", "circle", "small").
TEMPLATES: tuple[str, ...] = (
    "{}",
    "a {}",
    "a photo of a {}",
    "this is a {}",
    "a {} object",
    "a {} shape",
    "a photo of a {} object",
    "a picture of a {} thing",
    "a drawing of a {} shape",
    "a sketch of a {}",
    "a {} object on a white background",
)

#: Paraphrases averaged into an ensemble: the kinds of wording the embedded model was trained on.
ENSEMBLE_TEMPLATES: tuple[str, ...] = (
    "a {} object",
    "a photo of a {} object",
    "a picture of a {} thing",
    "a drawing of a {} shape",
    "this is a {} object",
    "there is a {} thing",
    "an image of a {} shape",
)

#: Other names for each attribute's classes, in the order of ``mmlens.data`` (COLOURS, SHAPES, SIZES).
#: Words outside VOCAB ("box", "ring", ...) become "<unk>" for the embedded tokenizer.
CLASS_NAME_VARIANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "shape": {
        "standard": ("circle", "square", "triangle", "star", "cross", "heart"),
        "plural": ("circles", "squares", "triangles", "stars", "crosses", "hearts"),
        "synonyms": ("ring", "box", "pyramid", "asterisk", "plus", "valentine"),
    },
    "colour": {
        "standard": ("red", "green", "blue", "yellow", "purple", "orange"),
        "with 'coloured'": ("red coloured", "green coloured", "blue coloured", "yellow coloured",
                            "purple coloured", "orange coloured"),
        "with 'colored'": ("red colored", "green colored", "blue colored", "yellow colored",
                           "purple colored", "orange colored"),
        "synonyms": ("crimson", "lime", "navy", "gold", "violet", "amber"),
    },
    "size": {
        "standard": ("small", "large"),
        "little / big": ("little", "big"),
        "tiny / huge": ("tiny", "huge"),
    },
}


def standard_class_names(attribute: str) -> list[str]:
    """The class names of one attribute ("colour", "shape" or "size") in the world's order."""
    from mmlens.data import class_prompts

    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute must be one of {list(ATTRIBUTES)}, got {attribute!r}")
    return class_prompts(attribute)


def make_prompts(class_names: Sequence[str], template: str) -> list[str]:
    """One prompt per class: ``template`` filled with the name, "a" before a vowel made "an".

    Args:
        class_names: e.g. ``["red", "orange"]``.
        template: text with one ``"{}"``, e.g. ``"a photo of a {} object"``.

    Returns:
        e.g. ``["a photo of a red object", "a photo of an orange object"]``.
    """
    if not isinstance(template, str) or template.count("{}") != 1:
        raise ValueError(f"template {template!r} must be a str with exactly one '{{}}' for the class name")
    if isinstance(class_names, str) or not class_names:
        raise ValueError(f"class_names must be a non-empty list of names, got {class_names!r}")
    return [fix_article(template.format(name)) for name in class_names]


def unknown_words(texts: Sequence[str], tokenizer: Callable) -> dict[str, list[str]]:
    """Words of each text that the tokenizer maps to its unknown token.

    Works for tokenizers with ``encode`` and ``unk_token_id`` (the embedded word-level one); a BPE
    tokenizer (real CLIP) has no unknown words, so the answer is empty for it.

    Returns:
        ``{text: [unknown words]}`` for the texts that have any.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    encode = getattr(tokenizer, "encode", None)
    if unk is None or encode is None:
        return {}
    out = {}
    for text in texts:
        words = text.lower().split()
        missing = [w for w in words if encode(w) == [unk]]
        if missing:
            out[text] = missing
    return out


def make_prompt_test_set(n: int = 500, seed: int = 0, split: str = "test") -> tuple[list, dict[str, list[str]]]:
    """Single-object scenes and every attribute's label, rendered as in :mod:`mmlens.evaluate`.

    Returns:
        ``(images, labels)``: ``images`` a list of uint8 ``(H, W, 3)`` arrays (pass them through the
        model's ``preprocess``), ``labels`` ``{"colour": [...], "shape": [...], "size": [...]}``.
    """
    from mmlens.evaluate import make_attribute_test_set

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    images, labels = None, {}
    for attribute in ATTRIBUTES:  # same seed and split: the same scenes, labelled three ways
        images, labels[attribute], _ = make_attribute_test_set(attribute, n, seed, split)
    return list(images), labels


def encode_test_images(model: torch.nn.Module, preprocess: Callable, images: Sequence) -> torch.Tensor:
    """L2-normalised embeddings ``(N, D)`` of uint8 arrays or PIL images, through ``preprocess``."""
    from PIL import Image

    if not len(images):
        raise ValueError("images is empty; pass at least one image")
    pils = [im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im)) for im in images]
    return encode_images(model, torch.stack([preprocess(im) for im in pils]))


def _label_tensor(labels: Sequence, n_classes: int, class_names: Sequence[str] | None = None) -> torch.Tensor:
    if isinstance(labels, torch.Tensor):
        y = labels.long()
    else:
        index = {c: i for i, c in enumerate(class_names or [])}
        try:
            y = torch.tensor([index[l] if isinstance(l, str) else int(l) for l in labels], dtype=torch.long)
        except KeyError as err:
            raise ValueError(f"label {err.args[0]!r} is not a class name; use names from {list(index)} "
                             "or integer indices") from None
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be class indices in [0, {n_classes - 1}], got values up to {int(y.max())}")
    return y


def classifier_accuracy(image_emb: torch.Tensor, classifier: torch.Tensor, labels: Sequence) -> float:
    """Fraction of images whose most similar classifier row is the true class.

    Args:
        image_emb: ``(N, D)`` normalised image embeddings.
        classifier: ``(C, D)``, one row per class (e.g. from ``zero_shot_classifier``).
        labels: ``N`` class indices.
    """
    y = _label_tensor(labels, classifier.shape[0])
    if image_emb.ndim != 2 or image_emb.shape[1] != classifier.shape[1] or len(y) != len(image_emb):
        raise ValueError(f"need image_emb (N, D), classifier (C, D) and N labels; got {tuple(image_emb.shape)}, "
                         f"{tuple(classifier.shape)} and {len(y)} labels")
    return ((image_emb @ classifier.T).argmax(dim=-1) == y).float().mean().item()


def accuracy_by_template(
    model: torch.nn.Module,
    tokenizer: Callable,
    image_emb: torch.Tensor,
    labels: Sequence,
    class_names: Sequence[str],
    templates: Sequence[str],
    ensemble: bool = True,
) -> dict[str, float]:
    """Zero-shot accuracy with each template alone, and with all of them averaged.

    Args:
        model, tokenizer: from :func:`mmlens.load_model`.
        image_emb: ``(N, D)`` normalised image embeddings (:func:`encode_test_images`).
        labels: the true class of each image, as names in ``class_names`` or indices.
        class_names: the classes, in the order the indices refer to.
        templates: templates with one ``"{}"``.
        ensemble: also report ``"ensemble"``: the classifier averaging every template's normalised
            text embeddings (:func:`mmlens.evaluate.zero_shot_classifier` with all templates).

    Returns:
        ``{template: accuracy, ..., "ensemble": accuracy}``.
    """
    y = _label_tensor(labels, len(class_names), class_names)
    out = {}
    for template in templates:
        make_prompts(class_names, template)  # validates the template
        out[template] = classifier_accuracy(image_emb, zero_shot_classifier(model, tokenizer, class_names, [template]), y)
    if ensemble:
        out["ensemble"] = classifier_accuracy(image_emb, zero_shot_classifier(model, tokenizer, class_names, templates), y)
    return out


def template_accuracy_table(
    model: torch.nn.Module,
    tokenizer: Callable,
    preprocess: Callable,
    templates: Sequence[str] = TEMPLATES,
    attributes: Sequence[str] = ATTRIBUTES,
    n: int = 500,
    seed: int = 0,
    split: str = "test",
    ensembles: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, dict[str, float]]:
    """Accuracy of every template (rows) on every attribute (columns), on ``n`` single-object scenes.

    Args:
        model, tokenizer, preprocess: from :func:`mmlens.load_model`.
        templates: one row each.
        attributes: columns, among "colour", "shape", "size".
        n, seed, split: which scenes (the same scenes for every attribute).
        ensembles: extra rows ``{row name: templates to average}``; default
            ``{"ensemble of the rows above": templates}``.

    Returns:
        ``{row: {attribute: accuracy}}`` in row order.
    """
    for a in attributes:
        standard_class_names(a)
    images, labels = make_prompt_test_set(n, seed, split)
    image_emb = encode_test_images(model, preprocess, images)
    ensembles = dict(ensembles) if ensembles is not None else {"ensemble of the rows above": list(templates)}
    table: dict[str, dict[str, float]] = {t: {} for t in list(templates) + list(ensembles)}
    for a in attributes:
        names = standard_class_names(a)
        for t, acc in accuracy_by_template(model, tokenizer, image_emb, labels[a], names, templates, False).items():
            table[t][a] = acc
        for row, members in ensembles.items():
            clf = zero_shot_classifier(model, tokenizer, names, list(members))
            table[row][a] = classifier_accuracy(image_emb, clf, _label_tensor(labels[a], len(names), names))
    return table


def class_name_accuracy(
    model: torch.nn.Module,
    tokenizer: Callable,
    image_emb: torch.Tensor,
    labels: Sequence,
    variants: Mapping[str, Sequence[str]],
    templates: Sequence[str] = (PHOTO_TEMPLATE,),
) -> dict[str, float]:
    """Accuracy when the classes are called by other names (same order, same images).

    Args:
        model, tokenizer: from :func:`mmlens.load_model`.
        image_emb: ``(N, D)`` normalised image embeddings.
        labels: class indices, or names from the first variant.
        variants: ``{variant name: class names in the standard order}``, e.g. ``CLASS_NAME_VARIANTS["size"]``.
        templates: template(s) to fill with each name (several: an ensemble).

    Returns:
        ``{variant name: accuracy}``.
    """
    if not variants:
        raise ValueError("variants is empty; pass {variant name: class names}, e.g. CLASS_NAME_VARIANTS['shape']")
    lengths = {name: len(names) for name, names in variants.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every variant needs the same number of class names, got {lengths}")
    first = list(next(iter(variants.values())))
    y = _label_tensor(labels, len(first), first)
    return {name: classifier_accuracy(image_emb, zero_shot_classifier(model, tokenizer, list(names), templates), y)
            for name, names in variants.items()}


def format_table(table: Mapping[str, Mapping[str, float]], digits: int = 3, row_title: str = "template") -> str:
    """An aligned text table of ``{row: {column: number}}`` (what the chapters print)."""
    if not table:
        raise ValueError("table is empty")
    columns = list(next(iter(table.values())))
    width = max(len(row_title), *(len(str(r)) for r in table)) + 2
    col_w = max(digits + 4, *(len(c) for c in columns)) + 2
    lines = [f"{row_title:<{width}}" + "".join(f"{c:>{col_w}}" for c in columns)]
    for row, values in table.items():
        lines.append(f"{str(row):<{width}}" + "".join(f"{values[c]:>{col_w}.{digits}f}" for c in columns))
    return "\n".join(lines)


def best_template(table: Mapping[str, Mapping[str, float]], attribute: str, exclude: Sequence[str] = ()) -> tuple[str, float]:
    """The row with the highest accuracy for ``attribute`` (ties: the first), skipping ``exclude``."""
    rows = [(row, values[attribute]) for row, values in table.items() if row not in exclude]
    if not rows:
        raise ValueError(f"no rows left after excluding {list(exclude)}")
    return max(rows, key=lambda rv: rv[1])


def learned_scale(model: torch.nn.Module) -> float:
    """The model's learned logit scale ``logit_scale.exp()`` (1 / softmax temperature); 100 if it has none."""
    scale = getattr(model, "logit_scale", None)
    return float(scale.detach().exp()) if scale is not None else 100.0


def softmax_at_scales(cosines: torch.Tensor, scales: Sequence[float]) -> torch.Tensor:
    """Class probabilities ``softmax(scale * cosines)`` for each scale: ``(S, C)`` from ``(C,)``.

    The scale is CLIP's ``logit_scale.exp()``, the inverse of the softmax temperature.
    """
    cosines = torch.as_tensor(cosines, dtype=torch.float32)
    if cosines.ndim != 1:
        raise ValueError(f"cosines must be one image's similarities (C,), got shape {tuple(cosines.shape)}")
    if any(float(s) <= 0 for s in scales) or not len(scales):
        raise ValueError(f"scales must be positive numbers, got {list(scales)}")
    return torch.stack([(float(s) * cosines).softmax(dim=-1) for s in scales])  # (S, C)


def two_object_choices(
    model: torch.nn.Module,
    tokenizer: Callable,
    preprocess: Callable,
    attribute: str = "colour",
    template: str = "a photo of a {} object",
    n: int = 300,
    seed: int = 0,
    split: str = "test",
) -> dict:
    """Which object does a one-class prompt pick when a scene holds two objects?

    Scenes have two objects that differ in ``attribute``; the classifier has one prompt per class.

    Returns:
        A dict with ``"top1_present"`` (fraction whose best class is one of the two objects'),
        ``"top2_both"`` (fraction whose two best classes are exactly the two objects'), ``"picks_larger"``
        (among scenes with one small and one large object, fraction whose best class is the large one's;
        NaN if none), ``"probs"`` ((N, C) softmax at the model's logit scale), ``"scenes"`` and
        ``"class_names"``.
    """
    from mmlens.data import make_scenes, render_scene

    names = standard_class_names(attribute)
    pool = make_scenes(4 * n, seed=seed, n_objects=2, split=split)
    scenes = [s for s in pool if getattr(s.objects[0], attribute) != getattr(s.objects[1], attribute)][:n]
    if not scenes:
        raise ValueError(f"no two-object scenes differ in {attribute!r}; use 'colour' or 'shape'")
    image_emb = encode_test_images(model, preprocess, [render_scene(s, resolution=64).image for s in scenes])
    clf = zero_shot_classifier(model, tokenizer, names, [template])
    logits = image_emb @ clf.T  # (N, C)
    present = [[names.index(getattr(o, attribute)) for o in s.objects] for s in scenes]
    top2 = logits.topk(2, dim=-1).indices.tolist()
    top1_present = np.mean([t[0] in p for t, p in zip(top2, present)])
    top2_both = np.mean([set(t) == set(p) for t, p in zip(top2, present)])
    larger = []
    for s, t, p in zip(scenes, top2, present):
        sizes = [o.size for o in s.objects]
        if sizes[0] != sizes[1] and t[0] in p:
            larger.append(t[0] == p[sizes.index("large")])
    scale = learned_scale(model)
    return {
        "top1_present": float(top1_present),
        "top2_both": float(top2_both),
        "picks_larger": float(np.mean(larger)) if larger else float("nan"),
        "probs": (scale * logits).softmax(dim=-1),
        "scenes": scenes,
        "class_names": names,
    }


def binding_test(
    model: torch.nn.Module,
    tokenizer: Callable,
    preprocess: Callable,
    template: str = "a photo of a {}",
    n: int = 300,
    seed: int = 0,
    split: str = "test",
) -> dict:
    """Does the model bind colours to shapes? Two objects, true pairs against swapped pairs.

    For a scene with a red circle and a blue square, compare "a photo of a red circle" (true) with
    "a photo of a blue circle" (the colours swapped between the shapes). Both prompts use words that are
    in the picture; only the binding differs.

    Returns:
        A dict with ``"true_beats_swapped"`` (fraction of (scene, object) cases where the true prompt scores
        higher), ``"n_cases"`` and ``"examples"`` (a list of (scene, true prompt, swapped prompt, true score,
        swapped score)).
    """
    from mmlens.data import make_scenes, render_scene

    pool = make_scenes(4 * n, seed=seed, n_objects=2, split=split)
    scenes = [s for s in pool if s.objects[0].colour != s.objects[1].colour
              and s.objects[0].shape != s.objects[1].shape][:n]
    image_emb = encode_test_images(model, preprocess, [render_scene(s, resolution=64).image for s in scenes])
    true_texts, swapped_texts = [], []
    for s in scenes:
        a, b = s.objects
        true_texts += [f"{a.colour} {a.shape}", f"{b.colour} {b.shape}"]
        swapped_texts += [f"{b.colour} {a.shape}", f"{a.colour} {b.shape}"]
    true_emb = encode_texts(model, tokenizer, make_prompts(true_texts, template))  # (2N, D)
    swapped_emb = encode_texts(model, tokenizer, make_prompts(swapped_texts, template))
    img = image_emb.repeat_interleave(2, dim=0)  # (2N, D): each scene once per object
    true_score, swapped_score = (img * true_emb).sum(-1), (img * swapped_emb).sum(-1)
    examples = [(scenes[k // 2], make_prompts([true_texts[k]], template)[0],
                 make_prompts([swapped_texts[k]], template)[0], float(true_score[k]), float(swapped_score[k]))
                for k in range(min(8, len(true_texts)))]
    return {
        "true_beats_swapped": (true_score > swapped_score).float().mean().item(),
        "n_cases": len(true_texts),
        "examples": examples,
    }


def ensemble_curve(
    model: torch.nn.Module,
    tokenizer: Callable,
    image_emb: torch.Tensor,
    labels: Sequence,
    class_names: Sequence[str],
    templates: Sequence[str],
) -> list[float]:
    """Accuracy of the ensemble of the first 1, 2, ..., T templates (in the order given).

    Returns:
        ``T`` accuracies; entry ``k`` averages ``templates[: k + 1]``.
    """
    if not templates:
        raise ValueError("templates is empty; pass at least one template with '{}'")
    y = _label_tensor(labels, len(class_names), class_names)
    prompts = [make_prompts(class_names, t) for t in templates]
    text_emb = encode_texts(model, tokenizer, [p for ps in prompts for p in ps])
    text_emb = text_emb.view(len(templates), len(class_names), -1)  # (T, C, D)
    running = text_emb.cumsum(dim=0)  # (T, C, D): sums of the first k+1 templates' unit vectors
    return [classifier_accuracy(image_emb, torch.nn.functional.normalize(running[k], dim=-1), y)
            for k in range(len(templates))]


def words_in_training_captions(n: int = 4000, seed: int = 0) -> set[str]:
    """Words that occur in ``n`` captions drawn the way the embedded models' training recipe draws them.

    Half are prompt-style captions of single objects (:func:`mmlens.train.make_prompt_caption`), half
    are scene captions of every kind (:func:`mmlens.data.make_caption`). Meaningful for the embedded
    models only: a web-scale CLIP read a different, much larger vocabulary.
    """
    from mmlens.data import make_caption, make_scene
    from mmlens.train import make_prompt_caption

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    for k in range(n):
        if k % 2 == 0:
            words.update(make_prompt_caption(make_scene(rng, n_objects=1).objects[0], rng).split())
        else:
            words.update(make_caption(make_scene(rng, n_objects=(1, 4)), rng).split())
    return words
