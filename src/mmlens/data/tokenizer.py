"""A word-level tokenizer with a closed, fixed vocabulary (ids never change between versions).

Layout: 0 = "<pad>", 1 = "<unk>", then words, then "<start>" and "<end>" as the two largest ids, so a
CLIP-style text tower that pools at ``tokens.argmax(-1)`` (open_clip's convention) finds "<end>".
"""
from __future__ import annotations

from mmlens.data.grammar import normalise

_WORDS: tuple[str, ...] = (
    # determiners, numbers
    "a", "an", "the", "some", "any", "something", "exactly", "no",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    # shapes and generic nouns, singular and plural
    "circle", "circles", "square", "squares", "triangle", "triangles", "star", "stars",
    "cross", "crosses", "heart", "hearts", "object", "objects", "shape", "shapes", "thing", "things",
    # colours and sizes
    "red", "green", "blue", "yellow", "purple", "orange", "small", "large",
    # relations and glue
    "to", "left", "right", "of", "above", "below", "and", "is", "are", "there", "with", "in", "on",
    # questions and answers
    "how", "many", "what", "which", "where", "colour", "color", "size", "yes",
    # prompt templates
    "photo", "picture", "image", "drawing", "rendering", "sketch", "painting", "scene", "this", "that", "it",
    "containing", "showing", "shows", "background", "plain", "simple", "synthetic", "white", "black",
    "gray", "grey", "pink", "brown", "big", "little", "tiny", "huge", "bright", "dark", "colored", "coloured",
)
VOCAB: tuple[str, ...] = ("<pad>", "<unk>") + _WORDS + ("<start>", "<end>")
assert len(set(VOCAB)) == len(VOCAB), "duplicate word in VOCAB"
_INDEX = {w: i for i, w in enumerate(VOCAB)}


class WordTokenizer:
    """Word-level tokenizer over :data:`VOCAB`, called like open_clip's tokenizer.

    Args:
        context_length: length of every token row (padded with 0, truncated keeping "<end>" last).

    Example:
        >>> tok = WordTokenizer()
        >>> tok.decode(tok.encode("A red circle!"))
        'a red circle'
    """

    pad_token_id = 0
    unk_token_id = 1

    def __init__(self, context_length: int = 32) -> None:
        if not isinstance(context_length, int) or context_length < 2:
            raise ValueError(f"context_length={context_length!r} must be an int >= 2 (room for <start> and <end>)")
        self.context_length = context_length
        self.vocab = VOCAB
        self.vocab_size = len(VOCAB)
        self.sot_token_id = _INDEX["<start>"]
        self.eot_token_id = _INDEX["<end>"]

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text``, without <start>/<end> or padding; unknown words are <unk>."""
        return [_INDEX.get(w, self.unk_token_id) for w in normalise(text)]

    def decode(self, ids) -> str:
        """Words for ``ids`` (list or 1-D tensor), skipping <pad>, <start> and <end>."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        skip = (self.pad_token_id, self.sot_token_id, self.eot_token_id)
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary (0 to {self.vocab_size - 1})")
        return " ".join(VOCAB[int(i)] for i in ids if int(i) not in skip)

    def __call__(self, texts: str | list[str], context_length: int | None = None):
        """Token ids, LongTensor (N, context_length): <start> words <end> then 0-padding."""
        import torch

        if isinstance(texts, str):
            texts = [texts]
        length = context_length or self.context_length
        if length < 2:
            raise ValueError(f"context_length={length!r} must be >= 2")
        out = torch.zeros(len(texts), length, dtype=torch.long)  # (N, L)
        for row, text in enumerate(texts):
            ids = [self.sot_token_id] + self.encode(text)[: length - 2] + [self.eot_token_id]
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    def __repr__(self) -> str:
        return f"WordTokenizer(context_length={self.context_length}, vocab_size={self.vocab_size})"
