"""Checkers for *Where does the model look?*: attention rollout, the pointing game, a map's AUC."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.inspect.localisation import map_auc, pointing_game
from mmlens.inspect.maps import attention_rollout


def _random_patterns(gen: torch.Generator, layers: int, batch: int, heads: int, pos: int) -> torch.Tensor:
    """``[layer, batch, head, pos, pos]`` softmax rows, peaked enough that layer order matters."""
    return (3 * torch.randn(layers, batch, heads, pos, pos, generator=gen)).softmax(dim=-1)


def _rollout_without_renorm(patterns: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(patterns.shape[-1])
    out = None
    for A in patterns:
        fused = A.mean(dim=1) + eye
        out = fused if out is None else fused @ out
    return out


def _rollout_reversed(patterns: torch.Tensor) -> torch.Tensor:
    return attention_rollout(list(patterns)[::-1])


def check_rollout(fn: Callable[[torch.Tensor], torch.Tensor]) -> Verdict:
    """Check ``fn(patterns) -> rollout``: ``patterns`` ``[layer, batch, head, pos, pos]``, result ``[batch, pos, pos]``.

    The reference is :func:`mmlens.inspect.maps.attention_rollout` with mean head fusion and the
    residual identity, as in Abnar & Zuidema (2020).
    """
    gen = torch.Generator().manual_seed(0)
    cases = [_random_patterns(gen, 3, 2, 2, 5), _random_patterns(gen, 4, 1, 3, 10), _random_patterns(gen, 1, 2, 4, 5)]
    for patterns in cases:
        shape = tuple(patterns.shape)
        out, failure = run_reader_function(fn, patterns.clone())
        if failure is not None:
            return failure
        expected = attention_rollout(patterns)
        if not isinstance(out, torch.Tensor):
            return Verdict(False, f"expected a torch.Tensor, got {type(out).__name__}")
        if tuple(out.shape) != tuple(expected.shape):
            return Verdict(False, f"for patterns of shape {shape} (layer, batch, head, pos, pos) expected "
                                  f"{tuple(expected.shape)} (batch, pos, pos), got {tuple(out.shape)}: "
                                  "average over heads and multiply the layers together")
        out = out.detach().float()
        if torch.allclose(out, expected, atol=1e-5):
            continue
        if torch.allclose(out, attention_rollout(patterns, residual=False), atol=1e-5):
            return Verdict(False, "this is rollout without the residual connection: each block adds its input "
                                  "back, so use 0.5 * (A + I) (A + I with rows renormalised) before multiplying")
        if torch.allclose(out, _rollout_without_renorm(patterns), atol=1e-4):
            return Verdict(False, "A + I has rows summing to 2: divide each row by its sum so the rollout's "
                                  "rows stay probability distributions")
        if shape[0] > 1 and torch.allclose(out, _rollout_reversed(patterns), atol=1e-5):
            return Verdict(False, "the layers are multiplied in the wrong order: a later layer acts on the "
                                  "mixture the earlier layers made, so rollout = A_L @ ... @ A_2 @ A_1")
        for fusion in ("max", "min"):
            if torch.allclose(out, attention_rollout(patterns, head_fusion=fusion), atol=1e-5):
                return Verdict(False, f"you fused the heads with {fusion}; the paper averages them (mean over dim 1)")
        if not torch.allclose(out.sum(-1), torch.ones(out.shape[:-1]), atol=1e-4):
            return Verdict(False, "the rows of your rollout do not sum to 1; every factor should be row-stochastic")
        return Verdict(False, f"shape is right but the values differ for patterns of shape {shape}: average the "
                              "heads, add the identity, renormalise rows, then multiply later layers on the left")
    eye = torch.eye(5).expand(2, 1, 2, 5, 5).clone()  # identity attention in two layers
    out, failure = run_reader_function(fn, eye)
    if failure is not None:
        return failure
    if not torch.allclose(torch.as_tensor(out).float(), torch.eye(5).expand(1, 5, 5)):
        return Verdict(False, "identity attention (every token looks only at itself) should roll out to the identity")
    return Verdict(True, "your rollout matches mmlens.inspect.maps.attention_rollout on 3 stacks of patterns")


def _as_bool(value) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if torch.is_tensor(value) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    return None


def _pointing_cases(rng: np.random.Generator):
    """(saliency, mask, what) cases: hits, misses, an off-diagonal peak, several objects."""
    cases = []
    for _ in range(4):
        saliency = rng.random((12, 16))
        mask = np.zeros((12, 16), dtype=bool)
        r, c = rng.integers(0, 12), rng.integers(0, 16)
        mask[max(r - 1, 0) : r + 2, max(c - 2, 0) : c + 1] = True
        cases.append((saliency, mask, "a rectangular (12, 16) map"))
    saliency = rng.random((12, 16)) * 0.5
    saliency[2, 11] = 1.0  # the peak at row 2, column 11: a transposed index would land elsewhere
    hit = np.zeros((12, 16), dtype=bool)
    hit[1:4, 10:13] = True
    cases.append((saliency, hit, "a peak at row 2, column 11 inside the mask"))
    transposed = np.zeros((12, 16), dtype=bool)
    transposed[10:12, 1:4] = True
    cases.append((saliency, transposed, "a peak at row 2, column 11 outside the mask"))
    masks = np.zeros((2, 12, 16), dtype=bool)
    masks[0, 0:3, 0:3] = True
    masks[1, 1:4, 10:13] = True
    cases.append((saliency, masks, "a (2, 12, 16) mask whose second object holds the peak"))
    low = saliency.copy()
    low[hit] = 0.0  # lowest values inside the mask: argmin would "hit"
    cases.append((low, hit, "a map whose smallest values are inside the mask"))
    return cases


def check_pointing_game(fn: Callable[[np.ndarray, np.ndarray], bool]) -> Verdict:
    """Check ``fn(saliency, mask) -> bool``: is the map's maximum inside the mask?

    ``saliency`` is ``(H, W)`` floats, ``mask`` ``(H, W)`` bools or ``(K, H, W)`` (any object counts).
    """
    rng = np.random.default_rng(0)
    cases = _pointing_cases(rng)
    for saliency, mask, what in cases:
        out, failure = run_reader_function(fn, saliency.copy(), mask.copy())
        if failure is not None:
            return failure
        got = _as_bool(out)
        if got is None:
            return Verdict(False, f"expected True or False, got {out!r:.60}")
        expected = pointing_game(saliency, mask)
        if got != expected:
            hint = "use np.unravel_index(np.argmax(saliency), saliency.shape) to get (row, column)"
            if mask.ndim == 3:
                hint = "a (K, H, W) mask holds K objects: the peak counts if it is inside any of them (mask.any(0))"
            elif "smallest" in what:
                hint = "look for the largest value (argmax), not the smallest"
            return Verdict(False, f"for {what} expected {expected}, got {got}: {hint}")
    return Verdict(True, f"your pointing game agrees with mmlens.inspect.pointing_game on {len(cases)} cases")


def _auc_cases(rng: np.random.Generator):
    mask = np.zeros((16, 16), dtype=bool)
    mask[4:9, 6:12] = True
    good = rng.random((16, 16)) + 0.8 * mask  # separates well but not perfectly
    ties = np.round(good * 3) / 3  # few distinct values: many ties between object and background
    blobs = np.zeros((2, 16, 16), dtype=bool)
    blobs[0, 0:4, 0:4] = True
    blobs[1, 10:15, 2:6] = True
    return [(good, mask, "a noisy map"), (ties, mask, "a map with many tied values"),
            (rng.random((16, 16)), blobs, "a random map and a (2, 16, 16) mask"),
            (1.0 - good, mask, "an inverted map")]


def check_map_auc(fn: Callable[[np.ndarray, np.ndarray], float]) -> Verdict:
    """Check ``fn(saliency, mask) -> float``: the chance that an object pixel outscores a background pixel.

    ``saliency`` is ``(H, W)`` floats, ``mask`` ``(H, W)`` or ``(K, H, W)`` bools (the union counts);
    ties count one half. The reference is :func:`mmlens.inspect.map_auc` (ROC-AUC).
    """
    rng = np.random.default_rng(1)
    cases = _auc_cases(rng)
    for saliency, mask, what in cases:
        out, failure = run_reader_function(fn, saliency.copy(), mask.copy())
        if failure is not None:
            return failure
        try:
            got = float(out)
        except (TypeError, ValueError):
            return Verdict(False, f"expected one number, got {out!r:.60}")
        expected = map_auc(saliency, mask)
        if abs(got - expected) < 1e-6:
            continue
        if abs(got - (1 - expected)) < 1e-6:
            return Verdict(False, f"for {what} you got {got:.3f}, expected {expected:.3f}: that is 1 - AUC; "
                                  "count pairs where the *object* pixel has the larger value")
        if "tied" in what:
            return Verdict(False, f"for {what} you got {got:.3f}, expected {expected:.3f}: "
                                  "a tie between an object and a background pixel counts one half")
        if mask.ndim == 3:
            return Verdict(False, f"for {what} you got {got:.3f}, expected {expected:.3f}: "
                                  "merge a (K, H, W) mask into one with mask.any(0)")
        return Verdict(False, f"for {what} you got {got:.3f}, expected {expected:.3f}: compare every object pixel "
                              "with every background pixel and average (1 if larger, 1/2 if equal, 0 if smaller)")
    return Verdict(True, f"your AUC matches mmlens.inspect.map_auc on {len(cases)} maps, ties included")


__all__ = ["check_map_auc", "check_pointing_game", "check_rollout"]
