"""Checkers for *A tour of applications*."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function


def check_retrieve(fn: Callable[[torch.Tensor, torch.Tensor, int], list]) -> Verdict:
    """Check ``fn(image_emb (N, D), text_emb (D,), k) -> k image indices, most similar first``."""
    gen = torch.Generator().manual_seed(0)
    for n, k in ((10, 1), (50, 5), (8, 8)):
        image_emb = F.normalize(torch.randn(n, 12, generator=gen), dim=-1)
        text_emb = F.normalize(torch.randn(12, generator=gen), dim=0)
        expected = (image_emb @ text_emb).topk(k).indices.tolist()
        out, failure = run_reader_function(fn, image_emb.clone(), text_emb.clone(), k)
        if failure is not None:
            return failure
        if isinstance(out, torch.Tensor):
            out = out.tolist()
        if not isinstance(out, (list, tuple)) or len(out) != k:
            return Verdict(False, f"for {n} images and k={k} expected a list of {k} indices, got {out!r}")
        out = [int(i) for i in out]
        if out != expected:
            if sorted(out) == sorted(expected):
                return Verdict(False, f"right images, wrong order for k={k}: most similar first")
            return Verdict(False, f"for {n} images and k={k} expected {expected}, got {out}: rank images by "
                                  "image_emb @ text_emb")
    return Verdict(True, "your retrieve returns the same images in the same order as the reference")


def check_colour_statements(fn: Callable[[str], dict]) -> Verdict:
    """Check ``fn(question) -> {colour: statement}`` for "what colour is the ..." questions."""
    from mmlens.applications import question_statements

    questions = ["what colour is the small circle", "what colour is the large object",
                 "what color is the heart", "what colour is the small star"]
    for q in questions:
        out, failure = run_reader_function(fn, q)
        if failure is not None:
            return failure
        expected = question_statements(q)
        if not isinstance(out, dict) or set(out) != set(expected):
            return Verdict(False, f"for {q!r} expected one entry per colour {sorted(expected)}, got {out!r}")
        for colour, text in expected.items():
            if " ".join(str(out[colour]).split()) != text:
                return Verdict(False, f"for {q!r} and {colour!r} expected {text!r}, got {out[colour]!r}")
    return Verdict(True, "your statements match the library's on four questions")
