"""Checkers for *Zero-shot versus few-shot*."""
from __future__ import annotations

from typing import Callable

import torch

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.fewshot import classifier_accuracy


def check_few_shot_indices(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> Verdict:
    """Check ``fn(labels, k, seed) -> indices``: ``k`` distinct examples of every class, different per seed."""
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 3, 3, 3, 0, 1, 2, 0, 1, 2, 3] * 3)
    draws = []
    for k, seed in [(1, 0), (3, 0), (3, 1), (5, 2)]:
        out, failure = run_reader_function(fn, labels.clone(), k, seed)
        if failure is not None:
            return failure
        idx = torch.as_tensor(out).flatten().long()
        if len(idx) != 4 * k:
            return Verdict(False, f"with 4 classes and k={k} expected {4 * k} indices, got {len(idx)}")
        if len(set(idx.tolist())) != len(idx):
            return Verdict(False, f"k={k}: some example was picked twice; sample without replacement")
        if idx.min() < 0 or idx.max() >= len(labels):
            return Verdict(False, f"k={k}: indices must lie in 0..{len(labels) - 1}")
        counts = torch.bincount(labels[idx], minlength=4).tolist()
        if counts != [k] * 4:
            return Verdict(False, f"k={k}: expected {k} examples of each class, got counts {counts} for classes 0-3")
        if k == 3:
            draws.append(sorted(idx.tolist()))
    if draws[0] == draws[1]:
        return Verdict(False, "seeds 0 and 1 picked the same examples: use the seed to draw them at random")
    return Verdict(True, "k examples per class, distinct, and a new draw for each seed")


def check_nearest_centroid(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Verdict:
    """Check ``fn(features, labels) -> weights (C, D)``: one normalised mean embedding per class (a prototype
    classifier, the zero-shot classifier's shape with image prototypes instead of text)."""
    gen = torch.Generator().manual_seed(3)
    features = torch.nn.functional.normalize(torch.randn(30, 6, generator=gen), dim=-1)
    labels = torch.arange(3).repeat(10)
    out, failure = run_reader_function(fn, features.clone(), labels.clone())
    if failure is not None:
        return failure
    w = torch.as_tensor(out).float() if out is not None else None
    if w is None or w.shape != (3, 6):
        return Verdict(False, f"expected weights of shape (3, 6), one row per class, got "
                              f"{None if w is None else tuple(w.shape)}")
    expected = torch.stack([features[labels == c].mean(0) for c in range(3)])
    expected = torch.nn.functional.normalize(expected, dim=-1)
    if not torch.allclose(torch.nn.functional.normalize(w, dim=-1), expected, atol=1e-5):
        return Verdict(False, "row c should be the mean of the embeddings labelled c (normalised)")
    if not torch.allclose(w.norm(dim=1), torch.ones(3), atol=1e-4):
        return Verdict(False, "right directions; now normalise each row to unit length, like zero-shot weights")
    acc = classifier_accuracy(features, labels, w)
    return Verdict(True, f"your prototype classifier fits its own examples with accuracy {acc:.2f}")
