"""Checkers for *Prompt engineering*."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.prompts import make_prompts


def reference_ensemble(text_emb: torch.Tensor) -> torch.Tensor:
    """``(C, T, D) -> (C, D)``: normalise each prompt embedding, average over templates, normalise again."""
    return F.normalize(F.normalize(text_emb, dim=-1).mean(dim=1), dim=-1)


def check_ensemble_classifier(fn: Callable[[torch.Tensor], torch.Tensor]) -> Verdict:
    """Check ``fn(text_emb (C, T, D)) -> (C, D)``, the prompt-ensemble classifier."""
    gen = torch.Generator().manual_seed(0)
    for c, t, d in [(6, 4, 8), (2, 7, 16), (3, 1, 5)]:
        # prompts of very different lengths: an unnormalised mean is dominated by the longest
        text_emb = torch.randn(c, t, d, generator=gen) * torch.rand(1, t, 1, generator=gen).mul(5).add(0.1)
        out, failure = run_reader_function(fn, text_emb.clone())
        if failure is not None:
            return failure
        expected = reference_ensemble(text_emb)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (c, d):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return Verdict(False, f"for text_emb of shape {(c, t, d)} expected ({c}, {d}), got {got}: "
                                  "average over the template axis (dim=1)")
        if torch.allclose(out, expected, atol=1e-5):
            continue
        if not torch.allclose(out.norm(dim=-1), torch.ones(c), atol=1e-4):
            return Verdict(False, "each class vector should have unit length: normalise the average")
        if torch.allclose(out, F.normalize(text_emb.mean(dim=1), dim=-1), atol=1e-5):
            return Verdict(False, "normalise each prompt's embedding before averaging, so every template "
                                  "counts equally")
        return Verdict(False, f"values differ from the normalised mean of normalised embeddings for {(c, t, d)}")
    return Verdict(True, "your ensemble matches on 3 shapes, including a single template")


def check_make_prompts(fn: Callable[[Sequence[str], str], list]) -> Verdict:
    """Check ``fn(class_names, template) -> list[str]`` fills the template and fixes "a" before a vowel."""
    cases = [
        (["red", "orange", "green"], "a photo of a {} object"),
        (["circle", "star"], "{}"),
        (["small", "large"], "this is a {} shape"),
        (["orange", "blue"], "a {} thing"),
    ]
    for names, template in cases:
        out, failure = run_reader_function(fn, list(names), template)
        if failure is not None:
            return failure
        expected = make_prompts(names, template)
        if not isinstance(out, (list, tuple)) or len(out) != len(names):
            return Verdict(False, f"expected a list of {len(names)} prompts for {names}, got {out!r}")
        out = [str(o) for o in out]
        if out != expected:
            bad = next(k for k in range(len(out)) if out[k] != expected[k])
            return Verdict(False, f"for {names[bad]!r} and {template!r} expected {expected[bad]!r}, got {out[bad]!r}")
    return Verdict(True, "your prompts match, articles included")
