import torch
import torch.nn.functional as F

from mmlens.exercises.prompts import (check_ensemble_classifier, check_make_prompts, reference_ensemble)
from mmlens.exercises.zeroshot import (check_confusion_matrix, check_zero_shot_probs, reference_confusion_matrix,
                                       reference_zero_shot_probs)
from mmlens.prompts import make_prompts


def _unfinished(*args):
    raise NotImplementedError


def test_check_zero_shot_probs():
    assert check_zero_shot_probs(reference_zero_shot_probs)
    v = check_zero_shot_probs(_unfinished)
    assert not v and "NotImplementedError" in repr(v)
    v = check_zero_shot_probs(lambda i, t, s: (s * i @ t.T).softmax(-1))
    assert not v and "normalise" in repr(v)
    v = check_zero_shot_probs(lambda i, t, s: (F.normalize(i, dim=-1) @ F.normalize(t, dim=-1).T).softmax(-1))
    assert not v and "logit_scale" in repr(v)
    v = check_zero_shot_probs(lambda i, t, s: s * F.normalize(i, dim=-1) @ F.normalize(t, dim=-1).T)
    assert not v and "sum to 1" in repr(v)
    assert not check_zero_shot_probs(lambda i, t, s: reference_zero_shot_probs(i, t, s).T)


def test_reference_zero_shot_probs_is_the_softmax_of_scaled_cosines():
    i, t = torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = reference_zero_shot_probs(i, t, 10.0)
    assert torch.allclose(p, torch.tensor([[6.0, 8.0]]).softmax(-1))


def test_check_confusion_matrix():
    assert check_confusion_matrix(reference_confusion_matrix)
    assert not check_confusion_matrix(_unfinished)
    v = check_confusion_matrix(lambda y, p, c: reference_confusion_matrix(p, y, c))
    assert not v and "swapped" in repr(v)
    v = check_confusion_matrix(lambda y, p, c: torch.zeros(c, c, dtype=torch.long))
    assert not v and "add up" in repr(v)
    v = check_confusion_matrix(lambda y, p, c: torch.zeros(c, c + 1))
    assert not v and "shape" in repr(v)


def test_reference_confusion_matrix_counts():
    m = reference_confusion_matrix(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 0]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_check_ensemble_classifier():
    assert check_ensemble_classifier(reference_ensemble)
    assert not check_ensemble_classifier(_unfinished)
    v = check_ensemble_classifier(lambda e: F.normalize(e.mean(dim=1), dim=-1))
    assert not v and "before averaging" in repr(v)
    v = check_ensemble_classifier(lambda e: F.normalize(e, dim=-1).mean(dim=1))
    assert not v and "unit length" in repr(v)
    v = check_ensemble_classifier(lambda e: F.normalize(e.mean(dim=0), dim=-1))
    assert not v and "dim=1" in repr(v)


def test_check_make_prompts():
    assert check_make_prompts(make_prompts)
    assert not check_make_prompts(_unfinished)
    v = check_make_prompts(lambda names, t: [t.format(n) for n in names])
    assert not v and "an orange" in repr(v)
    assert not check_make_prompts(lambda names, t: [t.format(n) for n in names][:1])
