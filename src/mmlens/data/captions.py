"""Caption generation: four kinds (attribute, objects, relation, count), several templates each.

Every caption is built as a :class:`~mmlens.data.grammar.Caption` and written out as text; the tests
check each one with the independent parser and checker.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from mmlens.data.grammar import GENERIC_NOUNS, Caption, NounPhrase, fix_articles
from mmlens.data.world import COLOURS, INVERSE_RELATION, SHAPES, SIZES, Scene, SceneObject

CAPTION_KINDS: tuple[str, ...] = ("attribute", "objects", "relation", "count")
ATTRIBUTES: tuple[str, ...] = ("size", "colour", "shape")
_SUBSETS = [frozenset(c) for n in (1, 2, 3) for c in combinations(ATTRIBUTES, n)]  # nonempty attribute subsets

_PREFIXES = {
    "attribute": ("", "", "there is", "a picture of", "a photo of", "an image with", "a scene with", "a drawing of"),
    "objects": ("", "", "there is", "a picture of", "a scene with", "an image of"),
    "relation": ("", "there is", "a picture of"),
    "count": ("", "", "there are", "a picture of", "an image with"),
}


def _rng(seed_or_rng) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(0 if seed_or_rng is None else seed_or_rng)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def describe(obj: SceneObject, attributes, noun: str = "object", count: int | None = None) -> NounPhrase:
    """A noun phrase naming the given ``attributes`` (subset of size/colour/shape) of ``obj``."""
    attributes = set(attributes)
    return NounPhrase(
        size=obj.size if "size" in attributes else None,
        colour=obj.colour if "colour" in attributes else None,
        shape=obj.shape if "shape" in attributes else None,
        count=count,
        noun=noun,
    )


def _noun(rng, attributes, allow_something: bool = True) -> str:
    if "shape" in attributes:
        return "object"  # unused: the shape is the noun
    options = GENERIC_NOUNS + (("something",) if allow_something else ())
    return _pick(rng, options)


def _identifying_subsets(scene: Scene, i: int) -> list[frozenset]:
    """Attribute subsets that single out object ``i`` in the scene."""
    obj = scene.objects[i]
    out = []
    for sub in _SUBSETS:
        phrase = describe(obj, sub)
        if sum(phrase.matches(o) for o in scene.objects) == 1:
            out.append(sub)
    return out


def _attribute(scene: Scene, rng) -> Caption:
    obj = _pick(rng, scene.objects)
    sub = _pick(rng, _SUBSETS)
    return Caption((describe(obj, sub, _noun(rng, sub)),), None, _pick(rng, _PREFIXES["attribute"]))


def _objects(scene: Scene, rng) -> Caption:
    n = len(scene.objects)
    m = int(rng.integers(2, n + 1))
    chosen = rng.permutation(n)[:m]
    nps = []
    for k in chosen:
        sub = _pick(rng, _SUBSETS)
        nps.append(describe(scene.objects[k], sub, _noun(rng, sub)))
    return Caption(tuple(nps), None, _pick(rng, _PREFIXES["objects"]))


def _relation(scene: Scene, rng) -> Caption:
    n = len(scene.objects)
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and scene.relations(i, j)]
    if not pairs:  # only possible for hand-built scenes with objects closer than the world allows
        raise ValueError("no pair of objects in this scene is clearly apart; a relation caption would be ambiguous")
    i, j = _pick(rng, pairs)
    relation = _pick(rng, scene.relations(i, j))
    nps = []
    for k in (i, j):
        subs = _identifying_subsets(scene, k) or [frozenset(ATTRIBUTES)]
        sub = _pick(rng, subs)
        nps.append(describe(scene.objects[k], sub, _noun(rng, sub)))
    if rng.random() < 0.3:  # converse paraphrase: "B is below A" for "A above B"
        nps, relation = nps[::-1], INVERSE_RELATION[relation]
    prefix = _pick(rng, _PREFIXES["relation"])
    copula = "" if prefix else _pick(rng, ("", "is"))
    return Caption(tuple(nps), relation, prefix, copula)


def _count(scene: Scene, rng) -> Caption:
    obj = _pick(rng, scene.objects)
    sub = _pick(rng, [frozenset()] + _SUBSETS)
    probe = describe(obj, sub)
    count = sum(probe.matches(o) for o in scene.objects)
    phrase = describe(obj, sub, _noun(rng, sub, allow_something=False), count=count)
    prefix = _pick(rng, _PREFIXES["count"])
    if prefix == "there are" and count == 1:
        prefix = "there is"
    return Caption((phrase,), None, prefix)


_MAKERS = {"attribute": _attribute, "objects": _objects, "relation": _relation, "count": _count}


def caption_kinds_for(scene: Scene) -> tuple[str, ...]:
    """The caption kinds a scene supports ("objects" and "relation" need two objects or more)."""
    if len(scene.objects) >= 2:
        return CAPTION_KINDS
    return ("attribute", "count")


def make_caption(scene: Scene, seed_or_rng: int | np.random.Generator | None = None, kind: str | None = None) -> str:
    """A true caption of ``scene``.

    Args:
        scene: the scene.
        seed_or_rng: seed or Generator (None means seed 0, so captions are reproducible).
        kind: "attribute", "objects", "relation", "count", or None for a random kind the scene supports.

    Returns:
        Lower-case words separated by spaces, e.g. "a small red circle to the left of a blue square".
    """
    if not isinstance(scene, Scene) or not scene.objects:
        raise ValueError(f"scene must be a Scene with at least one object, got {scene!r}")
    rng = _rng(seed_or_rng)
    kinds = caption_kinds_for(scene)
    if kind is None:
        kind = _pick(rng, kinds)
    elif kind not in CAPTION_KINDS:
        raise ValueError(f"unknown caption kind {kind!r}; use one of {CAPTION_KINDS}")
    elif kind not in kinds:
        raise ValueError(f"caption kind {kind!r} needs at least 2 objects; this scene has {len(scene.objects)}")
    return _MAKERS[kind](scene, rng).text()


def make_captions(scene: Scene, n: int, seed: int | np.random.Generator | None = 0, kind: str | None = None) -> list[str]:
    """``n`` true captions of ``scene`` (distinct while the grammar allows)."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative int")
    rng = _rng(seed)
    out: list[str] = []
    for _ in range(20 * n):
        if len(out) == n:
            break
        c = make_caption(scene, rng, kind)
        if c not in out:
            out.append(c)
    while len(out) < n:
        out.append(make_caption(scene, rng, kind))
    return out


def class_prompts(attribute: str) -> list[str]:
    """Class names of one attribute, in the world's order: "colour" -> ["red", ...], "shape", "size"."""
    table = {"colour": COLOURS, "color": COLOURS, "shape": SHAPES, "size": SIZES}
    if attribute not in table:
        raise ValueError(f"unknown attribute {attribute!r}; use 'colour', 'shape' or 'size'")
    return list(table[attribute])


def class_captions(attribute: str, template: str = "a photo of {}") -> list[str]:
    """Zero-shot prompts, one per class: "a photo of a red object", "a photo of a circle", ...

    Args:
        attribute: "colour", "shape" or "size".
        template: text with one ``{}`` for the noun phrase ("a red object", "a circle", "a small object").

    Returns:
        One prompt per class, parseable by the checker when the template's opening is a known prefix.
    """
    if "{}" not in template:
        raise ValueError(f"template {template!r} needs one '{{}}' where the noun phrase goes")
    out = []
    for name in class_prompts(attribute):
        phrase = NounPhrase(shape=name) if name in SHAPES else NounPhrase(
            size=name if name in SIZES else None, colour=name if name in COLOURS else None
        )
        out.append(fix_articles(template.format(phrase.text())))
    return out
