"""Tests for the checkers of *The shared embedding space* (mmlens.exercises.embedding)."""
import torch
import torch.nn.functional as F

from mmlens.exercises.embedding import check_alignment, check_modality_gap, check_uniformity
from mmlens.inspect.embedding import alignment, modality_gap, uniformity

torch.set_num_threads(1)


def _unfinished(*args):
    raise NotImplementedError


def _gap(image_emb, text_emb):  # a reader's correct answer, written from scratch
    return (F.normalize(image_emb, dim=-1).mean(0) - F.normalize(text_emb, dim=-1).mean(0)).norm()


def test_check_modality_gap_accepts_correct_answers():
    assert check_modality_gap(_gap)
    assert check_modality_gap(modality_gap)
    assert check_modality_gap(lambda i, t: float(_gap(i, t)))


def test_check_modality_gap_explains_common_mistakes():
    v = check_modality_gap(_unfinished)
    assert not v and "NotImplementedError" in repr(v)
    v = check_modality_gap(lambda i, t: (i.mean(0) - t.mean(0)).norm())
    assert not v and "normalise" in repr(v)
    v = check_modality_gap(lambda i, t: _gap(i, t) ** 2)
    assert not v and "square root" in repr(v)
    v = check_modality_gap(lambda i, t: (F.normalize(i, dim=-1).mean(0) - F.normalize(t, dim=-1).mean(0)).abs().sum())
    assert not v and "L2" in repr(v)
    v = check_modality_gap(lambda i, t: F.normalize(i, dim=-1).mean(0) - F.normalize(t, dim=-1).mean(0))
    assert not v and "one number" in repr(v)
    v = check_modality_gap(lambda i, t: 0.0)
    assert not v and "expected" in repr(v)


def test_check_alignment():
    def correct(x, y):
        return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=1).pow(2).mean()

    assert check_alignment(correct)
    assert check_alignment(alignment)
    assert not check_alignment(_unfinished)
    v = check_alignment(lambda x, y: (x - y).norm(dim=1).pow(2).mean())
    assert not v and "unit length" in repr(v)
    v = check_alignment(lambda x, y: (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=1).mean())
    assert not v and "square each" in repr(v)
    v = check_alignment(lambda x, y: correct(x, y).sqrt())
    assert not v and "square root" in repr(v)
    v = check_alignment(lambda x, y: torch.cdist(F.normalize(x, dim=-1), F.normalize(y, dim=-1)).pow(2).mean())
    assert not v and "own partner" in repr(v)
    v = check_alignment(lambda x, y: correct(x, y) + 0.1)
    assert not v and "expected" in repr(v)


def test_check_uniformity():
    def correct(x):
        return torch.pdist(F.normalize(x, dim=-1)).pow(2).mul(-2).exp().mean().log()

    assert check_uniformity(correct)
    assert check_uniformity(uniformity)
    assert not check_uniformity(_unfinished)

    def with_diagonal(x):
        u = F.normalize(x, dim=-1)
        return torch.cdist(u, u).pow(2).mul(-2).exp().mean().log()

    v = check_uniformity(with_diagonal)
    assert not v and "i == j" in repr(v)
    v = check_uniformity(lambda x: torch.pdist(F.normalize(x, dim=-1)).pow(2).mul(-2).exp().mean())
    assert not v and "log" in repr(v)
    v = check_uniformity(lambda x: torch.pdist(F.normalize(x, dim=-1)).mul(-2).exp().mean().log())
    assert not v and "square the distances" in repr(v)
    v = check_uniformity(lambda x: torch.pdist(x.double()).pow(2).mul(-2).exp().mean().log())
    assert not v
    v = check_uniformity(lambda x: "low")
    assert not v and "one number" in repr(v)
