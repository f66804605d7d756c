"""Hard negatives: minimal edits of a caption that make it false for its scene.

- ``attribute_swap``: exchange one attribute (colour, size or shape) between two phrases
  ("a red circle and a blue square" -> "a blue circle and a red square"): same bag of words.
- ``relation_swap``: exchange the two phrases around the relation ("A left of B" -> "B left of A").
- ``object_replacement``: replace one phrase's noun by another shape ("a red circle" -> "a red star").

Each candidate is checked with the independent checker and kept only if false; a kind with no false
candidate (e.g. attribute swap in a one-phrase caption) is left out, never faked.
"""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from mmlens.data.checker import evaluate_caption
from mmlens.data.grammar import Caption, parse_caption
from mmlens.data.world import SHAPES, Scene

NEGATIVE_KINDS: tuple[str, ...] = ("attribute_swap", "relation_swap", "object_replacement")


def _attribute_swaps(cap: Caption) -> list[Caption]:
    out = []
    nps = cap.nps
    for i in range(len(nps)):
        for j in range(i + 1, len(nps)):
            for attr in ("colour", "size", "shape"):
                a, b = getattr(nps[i], attr), getattr(nps[j], attr)
                if a is None or b is None or a == b:
                    continue
                new = list(nps)
                new[i], new[j] = replace(nps[i], **{attr: b}), replace(nps[j], **{attr: a})
                out.append(cap.with_nps(new))
    return out


def _relation_swaps(cap: Caption) -> list[Caption]:
    if cap.relation is None or cap.nps[0] == cap.nps[1]:
        return []
    return [cap.with_nps(cap.nps[::-1])]


def _object_replacements(cap: Caption) -> list[Caption]:
    out = []
    for i, np_ in enumerate(cap.nps):
        if np_.noun == "something":
            continue  # no noun slot to replace
        for shape in SHAPES:
            if shape != np_.shape:
                new = list(cap.nps)
                new[i] = replace(np_, shape=shape, noun="object")
                out.append(cap.with_nps(new))
    return out


_CANDIDATES = {
    "attribute_swap": _attribute_swaps,
    "relation_swap": _relation_swaps,
    "object_replacement": _object_replacements,
}


def make_hard_negatives(scene: Scene, caption: str, seed: int | None = 0) -> dict[str, str]:
    """False variants of ``caption`` for ``scene``, one per kind that exists.

    Args:
        scene: the scene the negatives must be false for.
        caption: a caption in the grammar (usually a true one from :func:`make_caption`).
        seed: picks among several valid edits (None means 0).

    Returns:
        A dict with keys among "attribute_swap", "relation_swap", "object_replacement"; each value is
        false for ``scene`` according to :func:`caption_is_true`.
    """
    cap = parse_caption(caption)  # raises CaptionParseError (a ValueError) naming the text
    rng = np.random.default_rng((0 if seed is None else seed, zlib.crc32(caption.encode())))  # varies per caption
    out = {}
    for kind in NEGATIVE_KINDS:
        candidates = [c for c in _CANDIDATES[kind](cap) if not evaluate_caption(c, scene)]
        texts = sorted({c.text() for c in candidates} - {caption})
        if texts:
            out[kind] = texts[int(rng.integers(len(texts)))]
    return out
