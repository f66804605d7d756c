"""Distribution shift: the synthetic world with its knobs turned, and real photographs.

A *shift preset* is a :class:`~mmlens.data.WorldConfig` (plus an object count) that changes one thing the
embedded models never saw in training: the background colour, the exact shade of each colour, the size of
the objects, or how many objects share a scene. :func:`shift_zero_shot` measures zero-shot accuracy per
attribute under each preset with the same prompts and classes as :mod:`mmlens.evaluate`, so the unshifted
row is the familiar baseline.

Example::

    model, preprocess, tokenizer = mmlens.load_model()
    table = shift_zero_shot(model, preprocess, tokenizer, n=120)
    print(table)                        # aligned text: one row per preset, one column per attribute
    table.accuracy["background"]["colour"]
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from mmlens import data, evaluate
from mmlens.data.world import scene_rng

__all__ = [
    "ShiftPreset",
    "SHIFT_PRESETS",
    "BASELINE",
    "get_preset",
    "input_resolution",
    "make_shifted_scenes",
    "make_shift_test_set",
    "ShiftTable",
    "shift_zero_shot",
    "photo_prompts",
    "predict_photos",
    "unknown_words",
    "shift_predict",
    "format_confusion",
]

BASELINE = "none"


@dataclass(frozen=True)
class ShiftPreset:
    """A named shift: the world's knobs, how many objects each scene holds, and one line saying what changed.

    Args:
        name: short name, e.g. ``"background"``.
        description: what differs from the training world.
        world: the :class:`~mmlens.data.WorldConfig` scenes are drawn from.
        n_objects: objects per scene (an int or an inclusive ``(min, max)`` range).
    """

    name: str
    description: str
    world: data.WorldConfig
    n_objects: int | tuple[int, int] = 1


#: The book's presets, baseline first. The embedded models were trained on white backgrounds, the six
#: exact colours of ``COLOUR_RGB``, the two radii of ``SIZE_RADIUS``, one to four objects per scene and
#: object centres on the ``position_grid = 16`` lattice of :class:`~mmlens.data.WorldConfig`.
SHIFT_PRESETS: dict[str, ShiftPreset] = {
    p.name: p
    for p in (
        ShiftPreset(BASELINE, "the training world: one object on white", data.WorldConfig(max_objects=1)),
        ShiftPreset("background", "dark grey background instead of white",
                    data.WorldConfig(max_objects=1, background=(60, 60, 60))),
        ShiftPreset("colour shade", "each object's colour jittered by up to 20% per channel",
                    data.WorldConfig(max_objects=1, colour_jitter=0.2)),
        ShiftPreset("smaller", "every object drawn at 0.6x its size",
                    data.WorldConfig(max_objects=1, size_scale=0.6)),
        ShiftPreset("larger", "every object drawn at 1.4x its size",
                    data.WorldConfig(max_objects=1, size_scale=1.4)),
        ShiftPreset("more objects", "six objects per scene (training saw at most four)",
                    data.WorldConfig(max_objects=6, margin=0.01, gap=0.01), n_objects=6),
        ShiftPreset("off grid", "centres anywhere, not only on the 16 x 16 training lattice",
                    data.WorldConfig(max_objects=1, position_grid=None)),
    )
}

_ATTRIBUTE_FIELD = {"colour": "colours", "shape": "shapes", "size": "sizes"}


def get_preset(preset: str | ShiftPreset) -> ShiftPreset:
    """The :class:`ShiftPreset` named ``preset`` (a preset passes through unchanged)."""
    if isinstance(preset, ShiftPreset):
        return preset
    if preset not in SHIFT_PRESETS:
        raise ValueError(f"unknown shift preset {preset!r}; use one of {list(SHIFT_PRESETS)} or build a ShiftPreset")
    return SHIFT_PRESETS[preset]


def input_resolution(model: torch.nn.Module, default: int = 224) -> int:
    """The side, in pixels, of the images ``model`` expects (from open_clip's ``visual.preprocess_cfg``).

    Scenes are rendered at this size so that a real CLIP sees sharp shapes rather than an upscaled
    64-pixel image. Models without the attribute (hand-made ones in tests) get ``default``.
    """
    cfg = getattr(getattr(model, "visual", None), "preprocess_cfg", None) or {}
    size = cfg.get("size", default)
    size = size[0] if isinstance(size, (tuple, list)) else size
    return int(min(max(int(size), data.render.MIN_RESOLUTION), data.render.MAX_RESOLUTION))


def make_shifted_scenes(preset: str | ShiftPreset, n: int, seed: int = 0, split: str = "test") -> list[data.Scene]:
    """``n`` scenes of one preset's world (for figures; :func:`make_shift_test_set` adds labels)."""
    p = get_preset(preset)
    return data.make_scenes(n, seed=seed, n_objects=p.n_objects, split=split, world=p.world)


def make_shift_test_set(
    preset: str | ShiftPreset,
    attribute: str,
    n: int,
    seed: int = 0,
    split: str = "test",
    resolution: int = 64,
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Labelled scenes for zero-shot classification of ``attribute`` under a shift.

    Classes are balanced (scene ``i`` has class ``i % C``) and every object of a scene has that class's
    value, so a label stays unambiguous when a preset puts several objects in one scene ("six red
    things": the answer is red). The other attributes are random.

    Args:
        preset: a preset name from :data:`SHIFT_PRESETS` or a :class:`ShiftPreset`.
        attribute: "colour", "shape" or "size".
        n: number of scenes.
        seed, split: which scenes (the same seed gives the same layouts under every preset).
        resolution: pixels per side of the rendered images.

    Returns:
        ``(images, labels, class_names)``: uint8 ``(H, W, 3)`` arrays, one class name per image, and the classes.
    """
    p = get_preset(preset)
    if attribute not in _ATTRIBUTE_FIELD:
        raise ValueError(f"attribute must be one of {list(_ATTRIBUTE_FIELD)}, got {attribute!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    class_names = list(data.class_prompts(attribute))
    worlds = {c: dataclasses.replace(p.world, **{_ATTRIBUTE_FIELD[attribute]: (c,)}) for c in class_names}
    images, labels = [], []
    for i in range(n):
        label = class_names[i % len(class_names)]
        scene = data.make_scene(scene_rng(seed, split, i), p.n_objects, split, worlds[label])
        images.append(data.render_image(scene, resolution))
        labels.append(label)
    return images, labels, class_names


@dataclass
class ShiftTable:
    """Zero-shot accuracy per preset (rows) and attribute (columns), with the chance level per attribute.

    Attributes:
        accuracy: ``{preset: {attribute: accuracy}}``, presets in the order measured.
        chance: ``{attribute: 1 / number of classes}``.
        n: scenes per (preset, attribute) cell.
    """

    accuracy: dict[str, dict[str, float]]
    chance: dict[str, float]
    n: int

    @property
    def presets(self) -> list[str]:
        return list(self.accuracy)

    @property
    def attributes(self) -> list[str]:
        return list(self.chance)

    def drop(self, baseline: str = BASELINE) -> dict[str, dict[str, float]]:
        """Accuracy lost under each preset: ``baseline accuracy - shifted accuracy``, per attribute."""
        if baseline not in self.accuracy:
            raise ValueError(f"baseline {baseline!r} was not measured; measured presets: {self.presets}")
        base = self.accuracy[baseline]
        return {p: {a: base[a] - row[a] for a in self.attributes} for p, row in self.accuracy.items() if p != baseline}

    def __str__(self) -> str:
        width = max(len(p) for p in self.presets + ["chance"]) + 2
        lines = ["".ljust(width) + "".join(a.rjust(9) for a in self.attributes)]
        for p, row in self.accuracy.items():
            lines.append(p.ljust(width) + "".join(f"{row[a]:9.3f}" for a in self.attributes))
        lines.append("chance".ljust(width) + "".join(f"{self.chance[a]:9.3f}" for a in self.attributes))
        return "\n".join(lines)


def shift_zero_shot(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    presets: Sequence[str | ShiftPreset] | None = None,
    attributes: Sequence[str] = evaluate.ATTRIBUTES,
    n: int = 120,
    seed: int = 0,
    split: str = "test",
    resolution: int | None = None,
) -> ShiftTable:
    """Zero-shot accuracy per attribute under each shift preset.

    Uses :func:`mmlens.evaluate.zero_shot_predict` with ``evaluate.ATTRIBUTE_TEMPLATES``, on the test sets
    of :func:`make_shift_test_set`.

    Args:
        model, preprocess, tokenizer: from :func:`mmlens.load_model`.
        presets: names or presets to measure (default: all of :data:`SHIFT_PRESETS`, baseline first).
        attributes: which attributes to classify.
        n: scenes per (preset, attribute).
        seed, split: which scenes.
        resolution: render size; default :func:`input_resolution` of the model.

    Returns:
        A :class:`ShiftTable`; ``print(table)`` gives an aligned text table.
    """
    presets = [get_preset(p) for p in (presets if presets is not None else SHIFT_PRESETS)]
    if not presets:
        raise ValueError("presets is empty; pass preset names such as ['none', 'background']")
    attributes = list(attributes)
    for a in attributes:
        if a not in evaluate.ATTRIBUTE_TEMPLATES:
            raise ValueError(f"attribute must be one of {list(evaluate.ATTRIBUTE_TEMPLATES)}, got {a!r}")
    resolution = resolution or input_resolution(model)
    accuracy: dict[str, dict[str, float]] = {}
    for p in presets:
        accuracy[p.name] = {}
        for a in attributes:
            images, labels, class_names = make_shift_test_set(p, a, n, seed, split, resolution)
            out = evaluate.zero_shot_predict(
                model, tokenizer, preprocess, images, labels, class_names, evaluate.ATTRIBUTE_TEMPLATES[a]
            )
            accuracy[p.name][a] = out["accuracy"]
    chance = {a: 1.0 / len(data.class_prompts(a)) for a in attributes}
    return ShiftTable(accuracy, chance, n)


def photo_prompts(template: str = "a photo of a {} {}") -> list[str]:
    """Every (colour, shape) pair of the world as a prompt: "a photo of a red circle", ... (36 prompts)."""
    if template.count("{}") != 2:
        raise ValueError(f"template {template!r} needs two '{{}}': colour then shape")
    return [evaluate.fix_article(template.format(c, s)) for c in data.COLOURS for s in data.SHAPES]


@torch.no_grad()
def predict_photos(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    photos: Mapping[str, object] | None = None,
    prompts: Sequence[str] | None = None,
    k: int = 3,
) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` prompts a model finds most probable for each photograph.

    Probabilities are CLIP's: a softmax over ``logit_scale * cosine`` across ``prompts``, so they only say
    which of *these* texts fits best, never whether any of them is true.

    Args:
        model, preprocess, tokenizer: from :func:`mmlens.load_model`.
        photos: name -> PIL image (default: :func:`mmlens.data.load_sample_photos`).
        prompts: candidate texts (default: :func:`photo_prompts`, every colour-shape pair).
        k: how many to keep per photo.

    Returns:
        ``{name: [(prompt, probability), ...]}``, most probable first.
    """
    photos = data.load_sample_photos() if photos is None else dict(photos)
    prompts = photo_prompts() if prompts is None else list(prompts)
    if not photos:
        raise ValueError("photos is empty; pass name -> PIL image, e.g. mmlens.data.load_sample_photos()")
    if not 1 <= k <= len(prompts):
        raise ValueError(f"k={k} must be between 1 and the number of prompts ({len(prompts)})")
    image_emb = evaluate.encode_images(model, torch.stack([preprocess(im) for im in photos.values()]))  # (P, D)
    text_emb = evaluate.encode_texts(model, tokenizer, prompts)  # (T, D)
    scale = model.logit_scale.exp().item() if hasattr(model, "logit_scale") else 100.0
    probs = (scale * image_emb @ text_emb.T).softmax(dim=-1)  # (P, T)
    top = probs.topk(k, dim=-1)
    return {
        name: [(prompts[j], float(p)) for p, j in zip(top.values[i].tolist(), top.indices[i].tolist())]
        for i, name in enumerate(photos)
    }


def unknown_words(tokenizer: Callable, text: str) -> list[str]:
    """Words of ``text`` the tokenizer cannot represent (mapped to "<unk>").

    The embedded word-level tokenizer knows only :data:`mmlens.data.VOCAB`; "cat" becomes "<unk>". A real
    CLIP's byte-pair tokenizer can spell any word, so it returns ``[]``.
    """
    vocab = getattr(tokenizer, "vocab", None)
    if not isinstance(vocab, (tuple, list)) or "<unk>" not in vocab:
        return []
    from mmlens.data.grammar import normalise

    known = set(vocab)
    return [w for w in normalise(text) if w not in known]


def shift_predict(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    preset: str | ShiftPreset,
    attribute: str,
    n: int = 60,
    seed: int = 0,
    split: str = "test",
    resolution: int | None = None,
) -> dict:
    """:func:`mmlens.evaluate.zero_shot_predict` on one preset's test set (predictions, confusion matrix, ...)."""
    images, labels, class_names = make_shift_test_set(preset, attribute, n, seed, split,
                                                      resolution or input_resolution(model))
    return evaluate.zero_shot_predict(model, tokenizer, preprocess, images, labels, class_names,
                                      evaluate.ATTRIBUTE_TEMPLATES[attribute])


def format_confusion(result: Mapping) -> str:
    """A confusion matrix as aligned text: one row per true class, one column per predicted class.

    Args:
        result: a dict with ``"confusion"`` (C, C) and ``"class_names"``, as from :func:`shift_predict`.
    """
    names, confusion = list(result["class_names"]), np.asarray(result["confusion"])
    if confusion.shape != (len(names), len(names)):
        raise ValueError(f"confusion has shape {confusion.shape} for {len(names)} class names")
    width = max(len(c) for c in names + ["true \\ said"]) + 1
    lines = ["true \\ said".ljust(width) + "".join(c.rjust(width) for c in names)]
    lines += [t.ljust(width) + "".join(str(int(v)).rjust(width) for v in row) for t, row in zip(names, confusion)]
    return "\n".join(lines)
