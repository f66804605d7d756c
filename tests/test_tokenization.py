import open_clip
import pytest

from mmlens.tokenization import token_pieces


def test_open_clip_pieces_match_tokenizer_ids():
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    text = "a photo of an astronaut"
    pieces = token_pieces(text, tokenizer)
    ids = tokenizer([text])[0]
    n = len(pieces)
    assert [i for _, i in pieces] == ids[:n].tolist()
    assert int(ids[n:].abs().sum()) == 0  # the rest is padding
    assert pieces[0][0] == "<start_of_text>" and pieces[-1][0] == "<end_of_text>"
    assert ("astronaut</w>", 18376) in pieces


def test_rare_word_splits_into_several_pieces():
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    pieces = token_pieces("multimodality", tokenizer)[1:-1]
    assert len(pieces) > 1
    assert "".join(p for p, _ in pieces).replace("</w>", "") == "multimodality"


def test_bad_arguments():
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    with pytest.raises(TypeError, match="text must be a str"):
        token_pieces(["a list"], tokenizer)
    with pytest.raises(TypeError, match="unsupported tokenizer"):
        token_pieces("a photo", object())


def test_word_tokenizer_pieces_match_its_ids():
    from mmlens.data import WordTokenizer

    tokenizer = WordTokenizer()
    text = "a small red circle"
    pieces = token_pieces(text, tokenizer)
    ids = tokenizer([text])[0]
    assert [i for _, i in pieces] == ids[: len(pieces)].tolist()
    assert [p for p, _ in pieces][1:-1] == text.split()
    assert pieces[-1][1] == tokenizer.eot_token_id == tokenizer.vocab_size - 1
