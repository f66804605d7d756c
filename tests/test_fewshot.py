"""Tests of mmlens.fewshot: class-balanced sampling, linear probes, few-shot curves, zero-shot worth."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmlens.fewshot import (
    FewShotCurve,
    classifier_accuracy,
    few_shot_curve,
    fit_linear_probe,
    fit_zero_shot_init_probe,
    sample_few_shot,
    zero_shot_worth,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small problems run fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _task(n_per_class=40, n_classes=4, d=12, noise=0.8, seed=0):
    """Gaussian classes around unit prototypes: (features, labels, prototypes)."""
    gen = torch.Generator().manual_seed(seed)
    protos = F.normalize(torch.randn(n_classes, d, generator=gen), dim=-1)
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    x = protos[y] + noise / d**0.5 * torch.randn(len(y), d, generator=gen)
    return x, y, protos


def test_sample_few_shot_is_balanced_distinct_and_seeded():
    y = torch.tensor([0, 1, 2] * 10)
    idx = sample_few_shot(y, 4, seed=1)
    assert len(idx) == 12 and len(set(idx.tolist())) == 12
    assert torch.bincount(y[idx]).tolist() == [4, 4, 4]
    assert torch.equal(idx, sample_few_shot(y, 4, seed=1))
    assert not torch.equal(idx, sample_few_shot(y, 4, seed=2))
    with pytest.raises(ValueError, match="class 2 has only 0"):
        sample_few_shot(torch.tensor([0, 1, 0, 1]), 1, n_classes=3)
    with pytest.raises(ValueError, match="k must"):
        sample_few_shot(y, 0)
    with pytest.raises(ValueError, match="class indices"):
        sample_few_shot(torch.tensor([0.5, 1.0]), 1)


def test_classifier_accuracy_of_prototypes():
    x, y, protos = _task(noise=0.3)
    assert classifier_accuracy(x, y, protos) > 0.95
    assert classifier_accuracy(x, y, protos.roll(1, dims=0)) < 0.1  # every class predicted as another
    bias = torch.tensor([100.0, 0, 0, 0])
    assert classifier_accuracy(x, y, protos, bias) == pytest.approx(0.25)  # always class 0
    with pytest.raises(ValueError, match="weights must be"):
        classifier_accuracy(x, y, protos[:, :5])


def test_linear_probe_learns_and_handles_two_classes():
    x, y, _ = _task(noise=0.5)
    w, b = fit_linear_probe(x, y, C=10)
    assert w.shape == (4, 12) and b.shape == (4,)
    assert classifier_accuracy(x, y, w, b) > 0.95
    # two classes: scikit-learn keeps one row; we return a proper (2, D) classifier
    mask = y < 2
    w2, b2 = fit_linear_probe(x[mask], y[mask])
    assert w2.shape == (2, 12)
    from sklearn.linear_model import LogisticRegression

    ref = LogisticRegression(C=10.0, max_iter=1000).fit(F.normalize(x[mask], dim=-1).numpy(), y[mask].numpy())
    logits = F.normalize(x[mask], dim=-1) @ w2.T + b2
    assert np.array_equal(logits.argmax(1).numpy(), ref.predict(F.normalize(x[mask], dim=-1).numpy()))
    with pytest.raises(ValueError, match="single class"):
        fit_linear_probe(x[:5], y[:5])


def test_linear_probe_leaves_unseen_classes_unpredictable():
    x, y, _ = _task()
    keep = (y == 0) | (y == 2)
    w, b = fit_linear_probe(x[keep], y[keep])
    assert w.shape[0] == 3 and torch.isinf(b[1]) and (w[1] == 0).all()
    logits = F.normalize(x, dim=-1) @ w.T + b
    assert set(logits.argmax(1).tolist()) <= {0, 2}


def test_zero_shot_init_probe_starts_from_and_stays_near_zero_shot():
    x, y, protos = _task(n_per_class=10, noise=1.0, seed=1)
    w0 = F.normalize(protos + 0.3 * torch.randn(protos.shape, generator=torch.Generator().manual_seed(9)), dim=-1)
    idx = sample_few_shot(y, 1, seed=0)
    # a modest logit scale leaves the one-shot examples with a loss worth reducing
    strong, _ = fit_zero_shot_init_probe(x[idx], y[idx], w0, logit_scale=10.0, strength=100.0)
    weak, _ = fit_zero_shot_init_probe(x[idx], y[idx], w0, logit_scale=10.0, strength=0.001)
    assert (strong - w0).norm() < (weak - w0).norm()
    assert (strong - w0).norm() < 0.05
    with pytest.raises(ValueError, match="zero_shot_weights"):
        fit_zero_shot_init_probe(x, y, w0[:, :3])


def test_few_shot_curve_improves_with_k_and_is_deterministic():
    x, y, _ = _task(n_per_class=60, noise=1.2, seed=2)
    test_x, test_y, _ = _task(n_per_class=50, noise=1.2, seed=2)
    curve = few_shot_curve(x, y, test_x[::1], test_y, ks=(1, 4, 16), seeds=range(4))
    assert curve.accuracy.shape == (3, 4) and curve.ks == [1, 4, 16]
    assert curve.mean[0] < curve.mean[2]
    assert curve.std[0] > 0  # different draws of one example per class disagree
    again = few_shot_curve(x, y, test_x, test_y, ks=(1, 4, 16), seeds=range(4))
    assert np.array_equal(curve.accuracy, again.accuracy)
    with pytest.raises(ValueError, match="zero_shot_weights"):
        few_shot_curve(x, y, test_x, test_y, method="zero-shot-init")
    with pytest.raises(ValueError, match="method"):
        few_shot_curve(x, y, test_x, test_y, method="knn")


def test_zero_shot_init_curve_beats_plain_probe_at_one_shot_with_good_prior():
    x, y, protos = _task(n_per_class=60, noise=1.5, seed=4)
    test_x, test_y, _ = _task(n_per_class=50, noise=1.5, seed=4)
    plain = few_shot_curve(x, y, test_x, test_y, ks=(1,), seeds=range(3))
    init = few_shot_curve(x, y, test_x, test_y, ks=(1,), seeds=range(3), method="zero-shot-init",
                          zero_shot_weights=protos)
    assert init.mean[0] > plain.mean[0]
    assert init.mean[0] >= classifier_accuracy(test_x, test_y, protos) - 0.05


def test_zero_shot_worth_interpolates_in_log_k():
    curve = FewShotCurve(ks=[1, 2, 4, 8], accuracy=np.array([[0.2], [0.4], [0.6], [0.8]]))
    assert zero_shot_worth(curve, 0.5) == pytest.approx(2**1.5)
    assert zero_shot_worth(curve, 0.6) == pytest.approx(4.0)
    assert zero_shot_worth(curve, 0.1) == 1.0
    assert zero_shot_worth(curve, 0.9) == float("inf")


def test_exercise_checkers_accept_solutions_and_reject_mistakes():
    from mmlens.exercises.fewshot import check_few_shot_indices, check_nearest_centroid

    assert check_few_shot_indices(lambda labels, k, seed: sample_few_shot(labels, k, seed))
    fixed = check_few_shot_indices(lambda labels, k, seed: sample_few_shot(labels, k, 0))
    assert not fixed and "same examples" in repr(fixed)
    first_k = check_few_shot_indices(lambda labels, k, seed: torch.arange(4 * k))
    assert not first_k

    def prototypes(features, labels):
        return F.normalize(torch.stack([features[labels == c].mean(0) for c in range(int(labels.max()) + 1)]), dim=-1)

    assert check_nearest_centroid(prototypes)
    unnormalised = check_nearest_centroid(lambda f, y: 3 * prototypes(f, y))
    assert not unnormalised and "normalise" in repr(unnormalised)
    assert not check_nearest_centroid(lambda f, y: prototypes(f, y).flip(0))
