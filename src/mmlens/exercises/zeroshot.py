"""Checkers for *Zero-shot classification with CLIP*."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function


def reference_zero_shot_probs(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """``softmax(logit_scale * cos(image, class))`` over classes: ``(N, D), (C, D) -> (N, C)``."""
    logits = logit_scale * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T  # (N, C)
    return logits.softmax(dim=-1)


def check_zero_shot_probs(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> Verdict:
    """Check ``fn(image_emb (N, D), text_emb (C, D), logit_scale) -> (N, C)`` class probabilities."""
    gen = torch.Generator().manual_seed(0)
    for n, c, d, scale in [(5, 6, 8, 10.0), (3, 2, 16, 100.0), (1, 4, 4, 1.0)]:
        image_emb = 3 * torch.randn(n, d, generator=gen)  # not normalised on purpose
        text_emb = 2 * torch.randn(c, d, generator=gen)
        out, failure = run_reader_function(fn, image_emb.clone(), text_emb.clone(), scale)
        if failure is not None:
            return failure
        expected = reference_zero_shot_probs(image_emb, text_emb, scale)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, c):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return Verdict(False, f"for {n} images and {c} classes expected shape ({n}, {c}), got {got}")
        if torch.allclose(out, expected, atol=1e-5):
            continue
        if not torch.allclose(out.sum(dim=-1), torch.ones(n), atol=1e-4):
            return Verdict(False, "each row should sum to 1: take the softmax over the classes (dim=-1)")
        unnormalised = (scale * image_emb @ text_emb.T).softmax(dim=-1)
        if torch.allclose(out, unnormalised, atol=1e-5):
            return Verdict(False, "normalise both embeddings to unit length first, so the dot product is a cosine")
        no_scale = (F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T).softmax(dim=-1)
        if torch.allclose(out, no_scale, atol=1e-5):
            return Verdict(False, "multiply the cosines by logit_scale before the softmax")
        return Verdict(False, f"values differ from softmax(logit_scale * cosine) for N={n}, C={c}, "
                              f"logit_scale={scale}")
    return Verdict(True, "your probabilities match softmax(logit_scale * cosine) on 3 cases")


def reference_confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts ``(C, C)``: entry ``[i, j]`` is how many images of true class ``i`` were predicted ``j``."""
    return torch.bincount(labels * n_classes + preds, minlength=n_classes * n_classes).view(n_classes, n_classes)


def check_confusion_matrix(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> Verdict:
    """Check ``fn(labels (N,), preds (N,), n_classes) -> (C, C)`` counts, rows true, columns predicted."""
    gen = torch.Generator().manual_seed(1)
    for n, c in [(50, 4), (7, 6), (200, 2)]:
        labels = torch.randint(0, c, (n,), generator=gen)
        preds = torch.where(torch.rand(n, generator=gen) < 0.6, labels, torch.randint(0, c, (n,), generator=gen))
        preds[0] = (labels[0] + 1) % c  # at least one mistake, so a transposed answer differs
        out, failure = run_reader_function(fn, labels.clone(), preds.clone(), c)
        if failure is not None:
            return failure
        expected = reference_confusion_matrix(labels, preds, c)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (c, c):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return Verdict(False, f"for {c} classes expected shape ({c}, {c}), got {got}")
        out = out.long() if not out.is_floating_point() else out.round().long()
        if torch.equal(out, expected):
            continue
        if torch.equal(out, expected.T):
            return Verdict(False, "rows and columns are swapped: row = true class, column = predicted class")
        if int(out.sum()) != n:
            return Verdict(False, f"the counts should add up to the number of images ({n}), got {int(out.sum())}")
        return Verdict(False, f"counts differ for {n} images and {c} classes")
    return Verdict(True, "your confusion matrix matches on 3 label sets")
