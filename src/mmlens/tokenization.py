"""Looking at tokens: which piece of text each token id stands for."""
from __future__ import annotations

from typing import Any


def token_pieces(text: str, tokenizer: Any) -> list[tuple[str, int]]:
    """Split ``text`` into ``(piece, id)`` pairs as a tokenizer sees it, start and end tokens included.

    Works with open_clip's BPE tokenizer (``open_clip.get_tokenizer(...)``) and with the word-level
    tokenizer of the synthetic world (:class:`mmlens.data.WordTokenizer`). Padding is not returned.

    Args:
        text: one string.
        tokenizer: an open_clip ``SimpleTokenizer`` or an ``mmlens`` ``WordTokenizer``.

    Returns:
        List of (piece, id); BPE pieces keep their ``</w>`` end-of-word marker.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if hasattr(tokenizer, "decoder") and hasattr(tokenizer, "encode"):  # open_clip SimpleTokenizer
        ids = [tokenizer.sot_token_id, *tokenizer.encode(text), tokenizer.eot_token_id]
        return [(tokenizer.decoder[i], i) for i in ids]
    if hasattr(tokenizer, "encode") and hasattr(tokenizer, "vocab"):  # mmlens WordTokenizer
        ids = [tokenizer.sot_token_id, *tokenizer.encode(text), tokenizer.eot_token_id]
        return [(tokenizer.vocab[i], i) for i in ids]
    raise TypeError(f"unsupported tokenizer {type(tokenizer).__name__}: pass open_clip.get_tokenizer(...) "
                    "or mmlens.data.WordTokenizer()")
