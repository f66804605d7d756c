"""The caption grammar: words, noun phrases, and a parser from text back to structure.

Grammar (lower-case words, no punctuation)::

    caption  := [prefix] body
    body     := np ("and" np)*  |  np ["is" | "are"] relation np
    np       := det [size] [colour] noun  |  "something" adj ["and" adj]
    det      := "a" | "an" | number | "exactly" number        (a/an: at least one; number: exactly)
    noun     := shape | "object" | "shape" | "thing"          (plural after numbers above one)
    relation := ["to" "the"] ("left" | "right") "of"  |  "above"  |  "below"

The parser knows nothing about how captions are generated; :mod:`mmlens.data.checker` evaluates its
output against a scene's object list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mmlens.data.world import COLOURS, SHAPES, SIZES

NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GENERIC_NOUNS: tuple[str, ...] = ("object", "shape", "thing")
PLURAL: dict[str, str] = {w: (w + "es" if w.endswith(("s", "x", "sh", "ch")) else w + "s") for w in SHAPES + GENERIC_NOUNS}
SINGULAR: dict[str, str] = {p: s for s, p in PLURAL.items()}
RELATION_PHRASES: dict[str, str] = {
    "left of": "to the left of",
    "right of": "to the right of",
    "above": "above",
    "below": "below",
}
#: Openings the parser skips; the rest of the caption is the body.
PREFIXES: tuple[str, ...] = (
    "there is", "there are", "this is", "this is a photo of", "this is a picture of", "this is an image of",
    "a photo of", "a picture of", "an image of", "an image with", "a drawing of", "a scene with",
    "a rendering of", "the image shows", "the picture shows", "a photo with", "a picture with",
)
_PREFIX_TOKENS = sorted((tuple(p.split()) for p in PREFIXES), key=len, reverse=True)
_ARTICLES = ("a", "an")
_VOWELS = "aeiou"


class CaptionParseError(ValueError):
    """Raised by :func:`parse_caption` for text outside the grammar."""


@dataclass(frozen=True)
class NounPhrase:
    """A described group: optional attributes, and a count (None = "a": at least one)."""

    size: str | None = None
    colour: str | None = None
    shape: str | None = None
    count: int | None = None
    noun: str = "object"  # the generic noun used when shape is None ("object", "shape", "thing", "something")

    def matches(self, obj) -> bool:
        """Does a SceneObject have every attribute this phrase names?"""
        return (
            (self.size is None or obj.size == self.size)
            and (self.colour is None or obj.colour == self.colour)
            and (self.shape is None or obj.shape == self.shape)
        )

    def words(self) -> list[str]:
        """The phrase as words (articles chosen by the next word)."""
        if self.noun == "something":
            adjs = [a for a in (self.size, self.colour) if a]
            return ["something"] + (adjs if len(adjs) < 2 else [adjs[0], "and", adjs[1]])
        head = self.shape or self.noun
        plural = self.count is not None and self.count != 1
        body = [a for a in (self.size, self.colour) if a] + [PLURAL[head] if plural else head]
        if self.count is None:
            return [article(body[0])] + body
        return [NUMBER_WORDS[self.count]] + body

    def text(self) -> str:
        return " ".join(self.words())


@dataclass(frozen=True)
class Caption:
    """A parsed caption: noun phrases, an optional relation between the first two, and the prefix."""

    nps: tuple[NounPhrase, ...]
    relation: str | None = None
    prefix: str = ""
    copula: str = ""  # "is"/"are" before a relation, or ""

    def text(self) -> str:
        """Back to text (same words the parser read, modulo article agreement)."""
        if self.relation is not None:
            mid = ([self.copula] if self.copula else []) + RELATION_PHRASES[self.relation].split()
            words = self.nps[0].words() + mid + self.nps[1].words()
        else:
            words = []
            for k, np_ in enumerate(self.nps):
                words += (["and"] if k else []) + np_.words()
        return fix_articles(" ".join(([self.prefix] if self.prefix else []) + words))

    def with_nps(self, nps) -> "Caption":
        return replace(self, nps=tuple(nps))


def article(word: str) -> str:
    return "an" if word[:1] in _VOWELS else "a"


def fix_articles(text: str) -> str:
    """Make every "a"/"an" agree with the word after it."""
    words = text.split()
    for k in range(len(words) - 1):
        if words[k] in _ARTICLES:
            words[k] = article(words[k + 1])
    return " ".join(words)


def normalise(text: str) -> list[str]:
    """Lower-case, turn punctuation into spaces, split into words."""
    if not isinstance(text, str):
        raise TypeError(f"caption must be a str, got {type(text).__name__}")
    return re.sub(r"[^a-z0-9<>]+", " ", text.lower()).split()


def _parse_np(words: list[str], i: int) -> tuple[NounPhrase, int]:
    """Parse one noun phrase starting at ``words[i]``; return it and the next index."""
    if i >= len(words):
        raise CaptionParseError("expected a noun phrase, found the end of the caption")
    w = words[i]
    if w == "something":
        i += 1
        adjs = []
        while i < len(words) and words[i] in SIZES + COLOURS:
            adjs.append(words[i])
            i += 1
            if i + 1 < len(words) and words[i] == "and" and words[i + 1] in SIZES + COLOURS and len(adjs) == 1:
                i += 1
        if not adjs:
            raise CaptionParseError("'something' must be followed by a size or colour")
        size = [a for a in adjs if a in SIZES]
        colour = [a for a in adjs if a in COLOURS]
        if len(size) > 1 or len(colour) > 1:
            raise CaptionParseError(f"conflicting adjectives {adjs}")
        return NounPhrase(size[0] if size else None, colour[0] if colour else None, None, None, "something"), i
    if w in _ARTICLES:
        count, i = None, i + 1
    else:
        if w == "exactly":
            i += 1
            w = words[i] if i < len(words) else ""
        if w not in NUMBER_WORDS or w == "zero":
            raise CaptionParseError(f"expected 'a', 'an', a number or 'something', found {w!r}")
        count, i = NUMBER_WORDS.index(w), i + 1
    size = colour = None
    if i < len(words) and words[i] in SIZES:
        size, i = words[i], i + 1
    if i < len(words) and words[i] in COLOURS:
        colour, i = words[i], i + 1
    if i >= len(words):
        raise CaptionParseError("noun phrase ends without a noun")
    noun = words[i]
    plural = count is not None and count != 1
    if plural:
        if noun not in SINGULAR:
            raise CaptionParseError(f"expected a plural noun after {NUMBER_WORDS[count]!r}, found {noun!r}")
        noun = SINGULAR[noun]
    elif noun not in PLURAL:
        raise CaptionParseError(f"expected a singular noun, found {noun!r}")
    shape = noun if noun in SHAPES else None
    return NounPhrase(size, colour, shape, count, noun if shape is None else "object"), i + 1


def _parse_relation(words: list[str], i: int) -> tuple[str, int] | None:
    """Relation phrase at ``words[i]`` (with optional "to the"), or None."""
    j = i + 2 if words[i : i + 2] == ["to", "the"] else i
    if words[j : j + 2] in (["left", "of"], ["right", "of"]):
        return words[j] + " of", j + 2
    if j == i and i < len(words) and words[i] in ("above", "below"):
        return words[i], i + 1
    return None


def parse_caption(text: str) -> Caption:
    """Parse a caption into a :class:`Caption`, or raise :class:`CaptionParseError` (a ValueError).

    Args:
        text: a caption such as "a small red circle to the left of a blue square".

    Returns:
        The parsed :class:`Caption`.
    """
    words = normalise(text)
    if not words:
        raise CaptionParseError(f"empty caption {text!r}")
    prefix = ""
    for p in _PREFIX_TOKENS:
        # skip an opening only if a phrase follows (so "a photo" alone is not silently accepted)
        if tuple(words[: len(p)]) == p and len(words) > len(p):
            prefix, words = " ".join(p), words[len(p) :]
            break
    try:
        first, i = _parse_np(words, 0)
        nps = [first]
        if i < len(words) and words[i] != "and":
            copula = ""
            if words[i] in ("is", "are"):
                copula, i = words[i], i + 1
            rel = _parse_relation(words, i) if i < len(words) else None
            if rel is None:
                raise CaptionParseError(f"expected 'and' or a relation at {' '.join(words[i:])!r}")
            relation, i = rel
            second, i = _parse_np(words, i)
            if i != len(words):
                raise CaptionParseError(f"unexpected words after the relation: {' '.join(words[i:])!r}")
            if first.count not in (None, 1) or second.count not in (None, 1):
                raise CaptionParseError("relations are stated between single objects, not counted groups")
            return Caption((first, second), relation, prefix, copula)
        while i < len(words):
            if words[i] != "and":
                raise CaptionParseError(f"expected 'and' at {' '.join(words[i:])!r}")
            np_, i = _parse_np(words, i + 1)
            nps.append(np_)
        return Caption(tuple(nps), None, prefix, "")
    except IndexError as e:  # pragma: no cover - defensive; the parser checks bounds
        raise CaptionParseError(f"caption {text!r} ends early") from e
