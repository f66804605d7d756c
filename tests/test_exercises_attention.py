"""Tests for the checkers of *Where does the model look?* (mmlens.exercises.attention)."""
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from mmlens.exercises.attention import check_map_auc, check_pointing_game, check_rollout
from mmlens.inspect.localisation import map_auc, pointing_game
from mmlens.inspect.maps import attention_rollout

torch.set_num_threads(1)


def _unfinished(*args):
    raise NotImplementedError


# ---- rollout


def _rollout(patterns):  # a reader's correct answer, written from scratch
    result = torch.eye(patterns.shape[-1]).expand(patterns.shape[1], -1, -1)
    for A in patterns:
        fused = A.mean(dim=1) + torch.eye(A.shape[-1])
        fused = fused / fused.sum(-1, keepdim=True)
        result = fused @ result
    return result


def test_check_rollout_accepts_correct_answers():
    assert check_rollout(_rollout)
    assert check_rollout(attention_rollout)


def test_check_rollout_explains_common_mistakes():
    v = check_rollout(_unfinished)
    assert not v and "NotImplementedError" in repr(v)
    v = check_rollout(lambda p: attention_rollout(p, residual=False))
    assert not v and "residual" in repr(v)
    v = check_rollout(lambda p: attention_rollout(list(p)[::-1]))
    assert not v and "wrong order" in repr(v)
    v = check_rollout(lambda p: attention_rollout(p, head_fusion="max"))
    assert not v and "max" in repr(v)

    def no_renorm(p):
        out = None
        for A in p:
            fused = A.mean(1) + torch.eye(A.shape[-1])
            out = fused if out is None else fused @ out
        return out

    v = check_rollout(no_renorm)
    assert not v and "divide each row" in repr(v)
    v = check_rollout(lambda p: p.mean(2).prod(0))  # right shape, nonsense values
    assert not v and ("values differ" in repr(v) or "sum to 1" in repr(v))
    v = check_rollout(lambda p: p.mean(2))  # forgot to multiply the layers
    assert not v and "expected" in repr(v)
    v = check_rollout(lambda p: p.mean(2).numpy())
    assert not v and "torch.Tensor" in repr(v)


# ---- pointing game


def _pointing(saliency, mask):
    mask = mask.any(0) if mask.ndim == 3 else mask
    r, c = np.unravel_index(np.argmax(saliency), saliency.shape)
    return bool(mask[r, c])


def test_check_pointing_game_accepts_correct_answers():
    assert check_pointing_game(_pointing)
    assert check_pointing_game(pointing_game)
    assert check_pointing_game(lambda s, m: np.int64(_pointing(s, m)))  # 0/1 counts as an answer


def test_check_pointing_game_explains_common_mistakes():
    v = check_pointing_game(_unfinished)
    assert not v and "NotImplementedError" in repr(v)

    def transposed(s, m):
        m = m.any(0) if m.ndim == 3 else m
        r, c = np.unravel_index(np.argmax(s), s.shape)
        return bool(m.T[r, c]) if c < m.shape[0] and r < m.shape[1] else False

    v = check_pointing_game(transposed)
    assert not v and "unravel_index" in repr(v)

    def argmin(s, m):
        m = m.any(0) if m.ndim == 3 else m
        return bool(m.flat[np.argmin(s)])

    v = check_pointing_game(argmin)
    assert not v and ("largest" in repr(v) or "expected" in repr(v))

    def first_object_only(s, m):
        return _pointing(s, m[0] if m.ndim == 3 else m)

    v = check_pointing_game(first_object_only)
    assert not v and "any of them" in repr(v)
    v = check_pointing_game(lambda s, m: "yes")
    assert not v and "True or False" in repr(v)


# ---- AUC


def _auc(saliency, mask):
    mask = mask.any(0) if mask.ndim == 3 else mask
    obj, bg = saliency[mask], saliency[~mask]
    diff = obj[:, None] - bg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_check_map_auc_accepts_correct_answers():
    assert check_map_auc(_auc)
    assert check_map_auc(map_auc)
    assert check_map_auc(lambda s, m: roc_auc_score((m.any(0) if m.ndim == 3 else m).ravel(), s.ravel()))


def test_check_map_auc_explains_common_mistakes():
    v = check_map_auc(_unfinished)
    assert not v and "NotImplementedError" in repr(v)
    v = check_map_auc(lambda s, m: 1 - _auc(s, m))
    assert not v and "1 - AUC" in repr(v)

    def ignores_ties(s, m):
        m = m.any(0) if m.ndim == 3 else m
        return float((s[m][:, None] > s[~m][None, :]).mean())

    v = check_map_auc(ignores_ties)
    assert not v and "one half" in repr(v)

    def first_object_only(s, m):
        return _auc(s, m[0] if m.ndim == 3 else m)

    v = check_map_auc(first_object_only)
    assert not v and "mask.any(0)" in repr(v)
    v = check_map_auc(lambda s, m: float(s[m.any(0) if m.ndim == 3 else m].mean()))  # mean inside, not AUC
    assert not v and "expected" in repr(v)
    v = check_map_auc(lambda s, m: [0.5])
    assert not v
