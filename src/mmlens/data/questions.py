"""Questions and answers for VQA over a closed answer vocabulary.

Kinds: exists ("is there a red circle" -> yes/no), count ("how many circles are there" -> "two"),
colour ("what colour is the small circle" -> "red"), shape ("what shape is the blue object" -> "star"),
relation ("is the red circle to the left of the blue square" -> yes/no). "the ..." phrases always pick
out exactly one object; relation questions are only asked where the relation or its inverse clearly holds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmlens.data.captions import _identifying_subsets, _pick, _rng, _SUBSETS, describe
from mmlens.data.grammar import (
    PLURAL,
    RELATION_PHRASES,
    CaptionParseError,
    NounPhrase,
    NUMBER_WORDS,
    _parse_np,
    _parse_relation,
    normalise,
)
from mmlens.data.world import COLOURS, INVERSE_RELATION, SHAPES, SIZES, Scene, relation_holds

QUESTION_KINDS: tuple[str, ...] = ("exists", "count", "colour", "shape", "relation")
ANSWERS: tuple[str, ...] = ("no", "yes") + NUMBER_WORDS + COLOURS + SHAPES


@dataclass(frozen=True)
class Question:
    """A question about a scene, its answer (one of :data:`ANSWERS`) and its kind."""

    text: str
    answer: str
    kind: str

    @property
    def answer_id(self) -> int:
        """Index of the answer in :data:`ANSWERS` (the class label for a VQA head)."""
        return ANSWERS.index(self.answer)


def _bare(phrase: NounPhrase) -> list[str]:
    """Attribute words and noun, without a determiner: "small red circle"."""
    return [a for a in (phrase.size, phrase.colour) if a] + [phrase.shape or phrase.noun]


def _random_phrase(rng) -> NounPhrase:
    sub = _pick(rng, _SUBSETS)
    return NounPhrase(
        size=_pick(rng, SIZES) if "size" in sub else None,
        colour=_pick(rng, COLOURS) if "colour" in sub else None,
        shape=_pick(rng, SHAPES) if "shape" in sub else None,
    )


def _exists(scene: Scene, rng) -> str | None:
    if rng.random() < 0.5:
        phrase = describe(_pick(rng, scene.objects), _pick(rng, _SUBSETS))
    else:
        for _ in range(20):
            phrase = _random_phrase(rng)
            if not any(phrase.matches(o) for o in scene.objects):
                break
    return "is there " + phrase.text()


def _count(scene: Scene, rng) -> str | None:
    if rng.random() < 0.7:
        sub = _pick(rng, [frozenset()] + _SUBSETS)
        phrase = describe(_pick(rng, scene.objects), sub)
    else:
        phrase = _random_phrase(rng)
    words = _bare(phrase)
    words[-1] = PLURAL[words[-1]]
    return "how many " + " ".join(words) + " are there"


def _which(scene: Scene, rng, without: str) -> str | None:
    for k in rng.permutation(len(scene.objects)):
        subs = [s for s in _identifying_subsets(scene, int(k)) if without not in s]
        if subs:
            return " ".join(_bare(describe(scene.objects[int(k)], _pick(rng, subs))))
    return None


def _colour(scene: Scene, rng) -> str | None:
    phrase = _which(scene, rng, "colour")
    return None if phrase is None else f"what {_pick(rng, ('colour', 'color'))} is the {phrase}"


def _shape(scene: Scene, rng) -> str | None:
    phrase = _which(scene, rng, "shape")
    return None if phrase is None else f"what shape is the {phrase}"


def _relation(scene: Scene, rng) -> str | None:
    n = len(scene.objects)
    pairs = []
    for i in range(n):
        for j in range(n):
            if i != j and scene.relations(i, j):
                si, sj = _identifying_subsets(scene, i), _identifying_subsets(scene, j)
                if si and sj:
                    pairs.append((i, j, si, sj))
    if not pairs:
        return None
    i, j, si, sj = _pick(rng, pairs)
    relation = _pick(rng, scene.relations(i, j))
    if rng.random() < 0.5:
        relation = INVERSE_RELATION[relation]  # clearly false: its inverse clearly holds
    a = " ".join(_bare(describe(scene.objects[i], _pick(rng, si))))
    b = " ".join(_bare(describe(scene.objects[j], _pick(rng, sj))))
    return f"is the {a} {RELATION_PHRASES[relation]} the {b}"


_MAKERS = {"exists": _exists, "count": _count, "colour": _colour, "shape": _shape, "relation": _relation}


def _the(words: list[str], i: int):
    """Parse a definite phrase "the [size] [colour] noun" at ``words[i]``."""
    if words[i : i + 1] != ["the"]:
        raise CaptionParseError(f"expected 'the' at {' '.join(words[i:])!r}")
    phrase, j = _parse_np(["a"] + words[i + 1 :], 0)
    return phrase, i + j


def _unique(phrase: NounPhrase, scene: Scene):
    hits = [o for o in scene.objects if phrase.matches(o)]
    if len(hits) != 1:
        raise ValueError(f"'the {' '.join(_bare(phrase))}' matches {len(hits)} objects; it must match exactly one")
    return hits[0]


def answer_question(text: str, scene: Scene) -> str:
    """Answer a question in the question grammar by reading the scene's object list.

    Args:
        text: e.g. "how many red circles are there".
        scene: the scene.

    Returns:
        One of :data:`ANSWERS`. Raises ValueError for text outside the grammar or an ambiguous "the".
    """
    w = normalise(text)
    if w[:2] == ["is", "there"]:
        phrase, j = _parse_np(w, 2)
        if j != len(w) or phrase.count is not None:
            raise CaptionParseError(f"cannot parse question {text!r}")
        return "yes" if any(phrase.matches(o) for o in scene.objects) else "no"
    if w[:2] == ["how", "many"] and w[-2:] == ["are", "there"]:
        phrase, j = _parse_np(["two"] + w[2:-2], 0)  # reuse the plural-agreement rules
        if j != len(w) - 3:
            raise CaptionParseError(f"cannot parse question {text!r}")
        return NUMBER_WORDS[sum(phrase.matches(o) for o in scene.objects)]
    if w[:1] == ["what"] and len(w) > 3 and w[1] in ("colour", "color", "shape") and w[2] == "is":
        phrase, j = _the(w, 3)
        if j != len(w):
            raise CaptionParseError(f"cannot parse question {text!r}")
        obj = _unique(phrase, scene)
        return obj.shape if w[1] == "shape" else obj.colour
    if w[:2] == ["is", "the"]:
        a, j = _the(w, 1)
        rel = _parse_relation(w, j)
        if rel is None:
            raise CaptionParseError(f"cannot parse question {text!r}")
        relation, j = rel
        b, j = _the(w, j)
        if j != len(w):
            raise CaptionParseError(f"cannot parse question {text!r}")
        return "yes" if relation_holds(_unique(a, scene), _unique(b, scene), relation) else "no"
    raise CaptionParseError(f"cannot parse question {text!r}; see mmlens.data.questions for the grammar")


def make_questions(
    scene: Scene, seed: int | np.random.Generator | None = None, kinds: tuple[str, ...] | None = None
) -> list[Question]:
    """One question per kind the scene supports, with answers from :func:`answer_question`.

    Args:
        scene: the scene.
        seed: seed or Generator (None means 0).
        kinds: subset of :data:`QUESTION_KINDS` (default all, in that order).

    Returns:
        A list of :class:`Question`; colour/shape/relation questions are skipped when no object can be
        singled out without naming the asked attribute.
    """
    rng = _rng(seed)
    kinds = QUESTION_KINDS if kinds is None else tuple(kinds)
    for k in kinds:
        if k not in QUESTION_KINDS:
            raise ValueError(f"unknown question kind {k!r}; use some of {QUESTION_KINDS}")
    out = []
    for k in kinds:
        text = _MAKERS[k](scene, rng)
        if text is not None:
            out.append(Question(text, answer_question(text, scene), k))
    return out


__all__ = ["ANSWERS", "QUESTION_KINDS", "Question", "answer_question", "make_questions"]
