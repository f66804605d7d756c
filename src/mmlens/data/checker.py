"""Truth of a caption for a scene, decided by parsing the text and reading the object list.

Semantics: "a"/"an" phrases need distinct matching objects ("a circle and a red object" needs two
objects); a number means exactly that many matching objects; a relation holds if some pair of distinct
objects matching the two phrases satisfies :func:`mmlens.data.world.relation_holds`.
"""
from __future__ import annotations

from itertools import permutations

from mmlens.data.grammar import Caption, CaptionParseError, parse_caption
from mmlens.data.world import Scene, relation_holds


def evaluate_caption(caption: Caption, scene: Scene) -> bool:
    """Truth value of a parsed caption over ``scene.objects``."""
    objects = scene.objects
    if caption.relation is not None:
        a_np, b_np = caption.nps
        return any(
            a_np.matches(a) and b_np.matches(b) and relation_holds(a, b, caption.relation)
            for i, a in enumerate(objects)
            for j, b in enumerate(objects)
            if i != j
        )
    existential = []
    for np_ in caption.nps:
        if np_.count is None:
            existential.append(np_)
        elif sum(np_.matches(o) for o in objects) != np_.count:
            return False
    if len(existential) > len(objects):
        return False
    # injective assignment of existential phrases to objects (scenes hold a handful of objects)
    return any(
        all(np_.matches(objects[k]) for np_, k in zip(existential, assignment))
        for assignment in permutations(range(len(objects)), len(existential))
    )


def check_caption(caption: str, scene: Scene) -> bool:
    """Strict checker: like :func:`caption_is_true` but raises CaptionParseError (a ValueError) for text
    outside the grammar."""
    return evaluate_caption(parse_caption(caption), scene)


def caption_is_true(caption: str, scene: Scene) -> bool:
    """Is ``caption`` true of ``scene``? Text the grammar cannot parse is False (see :func:`check_caption`).

    Args:
        caption: e.g. "two red circles" or "a blue square is below a red circle".
        scene: the scene to check against (only its object list is read).

    Returns:
        True if the caption parses and holds for the scene.
    """
    try:
        return check_caption(caption, scene)
    except CaptionParseError:
        return False
