"""Few-shot linear probes on frozen image embeddings, and what zero-shot is worth in labelled examples.

A *linear probe* keeps the image encoder frozen and fits a linear classifier on its embeddings from ``k``
labelled examples per class. Zero-shot classification is also a linear classifier on the same embeddings,
whose weights are text embeddings of the class prompts (:func:`mmlens.evaluate.zero_shot_classifier`), so the
two compare like for like: the CLIP paper does exactly this in its Fig. 6.

>>> import torch
>>> from mmlens.fewshot import few_shot_curve
>>> train_emb, test_emb = torch.randn(200, 8), torch.randn(100, 8)
>>> train_y, test_y = torch.arange(200) % 4, torch.arange(100) % 4
>>> curve = few_shot_curve(train_emb, train_y, test_emb, test_y, ks=(1, 2, 4), seeds=range(3))
>>> curve.mean.shape
(3,)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "sample_few_shot",
    "classifier_accuracy",
    "fit_linear_probe",
    "fit_zero_shot_init_probe",
    "FewShotCurve",
    "few_shot_curve",
    "zero_shot_worth",
]

PROBE_METHODS = ("logistic", "zero-shot-init")


def _labels(labels, name: str = "labels") -> torch.Tensor:
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"{name} must be a 1-D tensor of class indices, got dtype {y.dtype} shape {tuple(y.shape)}; "
                         "map class names to indices first (e.g. mmlens.inspect.probes.scene_labels)")
    return y.long()


def _features(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D) embeddings, got shape {tuple(x.shape)}")
    return F.normalize(x.float(), dim=-1)


def sample_few_shot(labels, k: int, seed: int = 0, n_classes: int | None = None) -> torch.Tensor:
    """Indices of ``k`` randomly chosen examples of every class (class by class, in class order).

    Args:
        labels: ``(N,)`` class indices of a pool of labelled examples.
        k: examples per class.
        seed: which examples.
        n_classes: number of classes (default ``labels.max() + 1``); every class needs ``k`` examples.

    Returns:
        LongTensor ``(n_classes * k,)``.
    """
    y = _labels(labels)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int (examples per class), got {k!r}")
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    gen = torch.Generator().manual_seed(seed)
    out = []
    for c in range(n_classes):
        members = torch.nonzero(y == c).flatten()
        if len(members) < k:
            raise ValueError(f"class {c} has only {len(members)} examples in the pool but k={k}; "
                             "use a larger pool or a smaller k")
        out.append(members[torch.randperm(len(members), generator=gen)[:k]])
    return torch.cat(out)


def classifier_accuracy(image_emb, labels, weights: torch.Tensor, bias: torch.Tensor | None = None) -> float:
    """Accuracy of the linear classifier ``argmax(image_emb @ weights.T + bias)``.

    With ``weights = zero_shot_classifier(...)`` (class text embeddings, ``(C, D)``) this is zero-shot accuracy
    computed from cached image embeddings.
    """
    x, y = _features(image_emb, "image_emb"), _labels(labels)
    if weights.ndim != 2 or weights.shape[1] != x.shape[1]:
        raise ValueError(f"weights must be (C, {x.shape[1]}), got {tuple(weights.shape)}")
    logits = x @ weights.float().T + (0 if bias is None else bias.float())  # (N, C)
    return (logits.argmax(dim=1) == y).float().mean().item()


def fit_linear_probe(features, labels, C: float = 10.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression (scikit-learn, L-BFGS, deterministic) on L2-normalised features.

    Args:
        features: ``(N, D)`` embeddings.
        labels: ``(N,)`` class indices; at least two classes.
        C: inverse L2 penalty (larger = weaker regularisation).
        seed: solver seed (L-BFGS is deterministic; kept for the record).

    Returns:
        ``(weights (C_seen, D), bias (C_seen,))`` for the classes present, in sorted class order; classes
        missing from ``labels`` are filled in with weight 0 and bias ``-inf`` up to ``labels.max() + 1``.
    """
    from sklearn.linear_model import LogisticRegression

    x, y = _features(features, "features"), _labels(labels)
    if len(x) != len(y):
        raise ValueError(f"got {len(x)} feature rows but {len(y)} labels")
    classes = torch.unique(y)
    if len(classes) < 2:
        raise ValueError(f"labels hold a single class {classes.tolist()}; a probe needs at least two")
    if C <= 0:
        raise ValueError(f"C must be positive, got {C}")
    clf = LogisticRegression(C=C, max_iter=1000, random_state=seed)
    clf.fit(x.numpy(), y.numpy())
    coef, intercept = torch.from_numpy(clf.coef_).float(), torch.from_numpy(clf.intercept_).float()
    if len(classes) == 2:  # scikit-learn stores one row for two classes: logit of class 1 minus class 0
        coef, intercept = torch.cat([-coef / 2, coef / 2]), torch.cat([-intercept / 2, intercept / 2])
    n = int(classes.max()) + 1
    weights, bias = torch.zeros(n, x.shape[1]), torch.full((n,), -torch.inf)
    weights[classes], bias[classes] = coef, intercept
    return weights, bias


def fit_zero_shot_init_probe(
    features, labels, zero_shot_weights: torch.Tensor, logit_scale: float = 100.0, strength: float = 1.0,
    steps: int = 100, lr: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A softmax classifier that starts at the zero-shot weights and is pulled back towards them.

    Minimises ``cross_entropy(logit_scale * x @ W.T + b) + strength * (||W - W0||^2 + ||b / logit_scale||^2)``
    from ``W = W0`` (the class
    text embeddings), full batch with L-BFGS, so with few examples it stays near zero-shot and with many it is
    free to move. Deterministic on the CPU.

    Args:
        features: ``(N, D)`` embeddings.
        labels: ``(N,)`` class indices below ``len(zero_shot_weights)``.
        zero_shot_weights: ``(C, D)``, e.g. :func:`mmlens.evaluate.zero_shot_classifier`.
        logit_scale: temperature of the logits (CLIP's learned scale is about 100).
        strength: weight of the pull towards ``W0``.
        steps: L-BFGS iterations.
        lr: L-BFGS step size.

    Returns:
        ``(weights (C, D), bias (C,))`` with the bias divided by ``logit_scale``, so that
        :func:`classifier_accuracy` reads them like the zero-shot weights.
    """
    x, y = _features(features, "features"), _labels(labels)
    w0 = zero_shot_weights.detach().float()
    if w0.ndim != 2 or w0.shape[1] != x.shape[1]:
        raise ValueError(f"zero_shot_weights must be (C, {x.shape[1]}), got {tuple(w0.shape)}")
    if int(y.max()) >= len(w0):
        raise ValueError(f"label {int(y.max())} has no zero-shot weight ({len(w0)} classes)")
    w = w0.clone().requires_grad_(True)
    b = torch.zeros(len(w0), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=lr, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        penalty = (w - w0).pow(2).sum() + (b / logit_scale).pow(2).sum()
        loss = F.cross_entropy(logit_scale * (x @ w.T) + b, y) + strength * penalty
        loss.backward()
        return loss

    opt.step(closure)
    # report on the scale of the zero-shot classifier: argmax(x @ W.T + b / logit_scale) is the same decision
    return w.detach(), b.detach() / logit_scale


@dataclass
class FewShotCurve:
    """Test accuracy of few-shot probes: one row per ``k``, one column per seed."""

    ks: list[int]
    accuracy: np.ndarray  # (len(ks), n_seeds)
    method: str = "logistic"

    @property
    def mean(self) -> np.ndarray:
        return self.accuracy.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.accuracy.std(axis=1)


def few_shot_curve(
    train_emb,
    train_labels,
    test_emb,
    test_labels,
    ks: Sequence[int] = (1, 2, 4, 8, 16),
    seeds: Sequence[int] = range(5),
    method: str = "logistic",
    C: float = 10.0,
    zero_shot_weights: torch.Tensor | None = None,
    n_classes: int | None = None,
) -> FewShotCurve:
    """Probe accuracy on a fixed test set for ``k`` labelled examples per class, several random draws each.

    Args:
        train_emb, train_labels: the labelled pool ``(N, D)``, ``(N,)`` the ``k`` examples are drawn from.
        test_emb, test_labels: the test set, the same for every ``k`` and seed.
        ks: examples per class.
        seeds: one random draw of the examples per seed.
        method: ``"logistic"`` (:func:`fit_linear_probe`) or ``"zero-shot-init"``
            (:func:`fit_zero_shot_init_probe`, needs ``zero_shot_weights``).
        C: inverse penalty of the logistic probe.
        zero_shot_weights: ``(C, D)`` class text embeddings for ``"zero-shot-init"``.
        n_classes: number of classes (default: from the labels).

    Returns:
        A :class:`FewShotCurve`.
    """
    if method not in PROBE_METHODS:
        raise ValueError(f"method must be one of {PROBE_METHODS}, got {method!r}")
    if method == "zero-shot-init" and zero_shot_weights is None:
        raise ValueError("method='zero-shot-init' needs zero_shot_weights, e.g. from zero_shot_classifier")
    train_x, train_y = _features(train_emb, "train_emb"), _labels(train_labels, "train_labels")
    test_x, test_y = _features(test_emb, "test_emb"), _labels(test_labels, "test_labels")
    n_classes = n_classes or int(max(train_y.max(), test_y.max())) + 1
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass at least one seed, e.g. range(5)")
    acc = np.zeros((len(ks), len(seeds)))
    for i, k in enumerate(ks):
        for j, seed in enumerate(seeds):
            idx = sample_few_shot(train_y, k, seed=seed, n_classes=n_classes)
            if method == "logistic":
                w, b = fit_linear_probe(train_x[idx], train_y[idx], C=C, seed=seed)
            else:
                w, b = fit_zero_shot_init_probe(train_x[idx], train_y[idx], zero_shot_weights)
            acc[i, j] = classifier_accuracy(test_x, test_y, w, b)
    return FewShotCurve(ks=[int(k) for k in ks], accuracy=acc, method=method)


def zero_shot_worth(curve: FewShotCurve, zero_shot_accuracy: float) -> float:
    """Labelled examples per class at which the probe's mean accuracy reaches zero-shot accuracy.

    Interpolates linearly in ``log2(k)`` between measured points. Smaller ``k`` are not measured, so when the
    first point already reaches zero-shot the answer is "at most ``ks[0]``" and ``ks[0]`` is returned; when no
    measured ``k`` reaches it, ``inf`` ("more than ``ks[-1]``").
    """
    mean = curve.mean
    ks = np.asarray(curve.ks, dtype=float)
    if mean[0] >= zero_shot_accuracy:
        return float(ks[0])
    for i in range(1, len(ks)):
        if mean[i] >= zero_shot_accuracy:
            lo, hi = np.log2(ks[i - 1]), np.log2(ks[i])
            t = (zero_shot_accuracy - mean[i - 1]) / (mean[i] - mean[i - 1])
            return float(2 ** (lo + t * (hi - lo)))
    return float("inf")
