"""Checkers for *The shared embedding space*: the modality gap, alignment and uniformity."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.inspect.embedding import alignment, modality_gap, uniformity

__all__ = ["check_modality_gap", "check_alignment", "check_uniformity"]


def _as_float(out) -> float | None:
    """The reader's answer as a float (a Python number or a one-element tensor), else None."""
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        return float(out)
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out)
    return None


def _cases(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Unnormalised embeddings with a real gap and unequal lengths, so forgetting to normalise shows."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n, d, shift in [(40, 8, 1.5), (25, 16, 0.5), (60, 4, 3.0)]:
        direction = F.normalize(torch.randn(d, generator=gen), dim=0)
        scale = 0.5 + 3 * torch.rand(n, 1, generator=gen)  # rows of different lengths
        image_emb = scale * (torch.randn(n, d, generator=gen) + shift * direction)
        text_emb = 2 * (image_emb / scale + 0.7 * torch.randn(n, d, generator=gen) - 2 * shift * direction)
        out.append((image_emb, text_emb))
    return out


def _got(out) -> str:
    return type(out).__name__ if not isinstance(out, torch.Tensor) else f"a tensor of shape {tuple(out.shape)}"


def check_modality_gap(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """Check ``fn(image_emb (N, D), text_emb (M, D)) -> float``, the distance between the centroids of the
    unit-normalised embeddings (:func:`mmlens.inspect.embedding.modality_gap`)."""
    for image_emb, text_emb in _cases(0):
        out, failure = run_reader_function(fn, image_emb.clone(), text_emb.clone())
        if failure is not None:
            return failure
        value = _as_float(out)
        if value is None:
            return Verdict(False, f"return one number (a float or a 0-d tensor), got {_got(out)}")
        expected = modality_gap(image_emb, text_emb)
        if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-5):
            continue
        if math.isclose(value, modality_gap(image_emb, text_emb, normalize=False), rel_tol=1e-4):
            return Verdict(False, "normalise every embedding to unit length first: CLIP compares directions")
        if math.isclose(value, expected**2, rel_tol=1e-4):
            return Verdict(False, "that is the squared distance; take the square root (the norm of the difference)")
        unit_i, unit_t = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
        if math.isclose(value, float((unit_i.mean(0) - unit_t.mean(0)).abs().sum()), rel_tol=1e-4):
            return Verdict(False, "use the Euclidean (L2) norm of the centroid difference, not the sum of absolute values")
        return Verdict(False, f"for {len(image_emb)} images and {len(text_emb)} texts of width {image_emb.shape[1]} "
                              f"expected {expected:.4f}, got {value:.4f}: normalise, average each modality, "
                              "then take the length of the difference")
    return Verdict(True, "your modality gap matches mmlens.inspect.embedding.modality_gap on 3 cases")


def check_alignment(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> Verdict:
    """Check ``fn(x (N, D), y (N, D)) -> float``, Wang & Isola's alignment ``mean ||x_i - y_i||^2`` of unit
    vectors (:func:`mmlens.inspect.embedding.alignment`)."""
    for image_emb, text_emb in _cases(1):
        out, failure = run_reader_function(fn, image_emb.clone(), text_emb.clone())
        if failure is not None:
            return failure
        value = _as_float(out)
        if value is None:
            return Verdict(False, f"return one number (a float or a 0-d tensor), got {_got(out)}")
        expected = alignment(image_emb, text_emb)
        if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
            continue
        if math.isclose(value, alignment(image_emb, text_emb, normalize=False), rel_tol=1e-4):
            return Verdict(False, "normalise both x and y to unit length first")
        if math.isclose(value, alignment(image_emb, text_emb, alpha=1.0), rel_tol=1e-4):
            return Verdict(False, "square each pair's distance before averaging (alpha = 2)")
        if math.isclose(value, expected**0.5, rel_tol=1e-4):
            return Verdict(False, "average the squared distances; do not take a square root at the end")
        unit_x, unit_y = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
        if math.isclose(value, float(torch.cdist(unit_x, unit_y).pow(2).mean()), rel_tol=1e-4):
            return Verdict(False, "compare each x_i with its own partner y_i only, not with every y_j")
        return Verdict(False, f"for {len(image_emb)} pairs of width {image_emb.shape[1]} expected {expected:.4f}, "
                              f"got {value:.4f}")
    return Verdict(True, "your alignment matches mmlens.inspect.embedding.alignment on 3 cases")


def check_uniformity(fn: Callable[[torch.Tensor], float]) -> Verdict:
    """Check ``fn(x (N, D)) -> float``, Wang & Isola's uniformity ``log mean_{i<j} exp(-2 ||x_i - x_j||^2)``
    of unit vectors (:func:`mmlens.inspect.embedding.uniformity`)."""
    for image_emb, _ in _cases(2):
        out, failure = run_reader_function(fn, image_emb.clone())
        if failure is not None:
            return failure
        value = _as_float(out)
        if value is None:
            return Verdict(False, f"return one number (a float or a 0-d tensor), got {_got(out)}")
        expected = uniformity(image_emb)
        if math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-5):
            continue
        unit = F.normalize(image_emb.double(), dim=-1)
        all_pairs = torch.cdist(unit, unit).pow(2)  # (N, N), diagonal zero
        if math.isclose(value, float(torch.exp(-2 * all_pairs).mean().log()), rel_tol=1e-4):
            return Verdict(False, "leave out the pairs of a point with itself (i == j): use distinct pairs only, "
                                  "e.g. torch.pdist")
        if math.isclose(value, uniformity(image_emb, normalize=False), rel_tol=1e-4):
            return Verdict(False, "normalise every embedding to unit length first")
        if math.isclose(value, math.exp(expected), rel_tol=1e-4):
            return Verdict(False, "take the log of the mean at the end")
        pdist = torch.pdist(unit)
        if math.isclose(value, float(torch.exp(-2 * pdist).mean().log()), rel_tol=1e-4):
            return Verdict(False, "square the distances inside the exponential: exp(-2 ||x_i - x_j||^2)")
        return Verdict(False, f"for {len(image_emb)} points of width {image_emb.shape[1]} expected {expected:.4f}, "
                              f"got {value:.4f}")
    return Verdict(True, "your uniformity matches mmlens.inspect.embedding.uniformity on 3 cases")
