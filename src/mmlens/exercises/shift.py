"""Checkers for *When the world changes*."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function


def check_uniform_scene(fn: Callable[[str, str, int, int], object]) -> Verdict:
    """Check ``fn(attribute, value, n_objects, seed) -> Scene`` whose objects all have ``attribute == value``."""
    from mmlens.applications import _fits
    from mmlens.data import Scene, WorldConfig

    cases = [("colour", "red", 1, 0), ("colour", "blue", 4, 1), ("shape", "heart", 3, 2), ("size", "large", 4, 3),
             ("size", "small", 2, 4), ("shape", "cross", 2, 5)]
    seen = []
    for attribute, value, n, seed in cases:
        scene, failure = run_reader_function(fn, attribute, value, n, seed)
        if failure is not None:
            return failure
        if not isinstance(scene, Scene):
            return Verdict(False, f"fn{(attribute, value, n, seed)} returned a {type(scene).__name__}, expected a "
                                  "Scene (build it with mmlens.data.make_scene)")
        if len(scene) != n:
            return Verdict(False, f"fn{(attribute, value, n, seed)} gave {len(scene)} objects, expected {n}")
        wrong = [getattr(o, attribute) for o in scene.objects if getattr(o, attribute) != value]
        if wrong:
            return Verdict(False, f"fn{(attribute, value, n, seed)} has an object whose {attribute} is "
                                  f"{wrong[0]!r}: restrict the world, e.g. WorldConfig({attribute}s=({value!r},))")
        if not _fits(scene.objects, WorldConfig()):
            return Verdict(False, f"fn{(attribute, value, n, seed)} has overlapping objects or objects outside "
                                  "the image: let make_scene place them")
        seen.append(scene)
    others = {a: {getattr(o, a) for s in seen for o in s.objects} for a in ("colour", "shape")}
    if min(len(v) for v in others.values()) < 2:
        return Verdict(False, "the attributes you did not fix never vary: leave them random")
    return Verdict(True, "every object has the asked value, the scenes are valid and the rest stays random")


def check_top_k_classes(fn: Callable[[torch.Tensor, torch.Tensor, Sequence[str], int], list]) -> Verdict:
    """Check ``fn(image_emb (D,), class_emb (C, D), class_names, k) -> k names, most similar first``."""
    gen = torch.Generator().manual_seed(0)
    names = [f"class{c}" for c in range(7)]
    for trial, k in enumerate((1, 3, 7)):
        image_emb = F.normalize(torch.randn(16, generator=gen), dim=0)
        class_emb = F.normalize(torch.randn(7, 16, generator=gen), dim=-1)
        expected = [names[j] for j in (class_emb @ image_emb).topk(k).indices.tolist()]
        out, failure = run_reader_function(fn, image_emb.clone(), class_emb.clone(), list(names), k)
        if failure is not None:
            return failure
        if not isinstance(out, (list, tuple)) or len(out) != k:
            return Verdict(False, f"for k={k} expected a list of {k} names, got {out!r}")
        if list(out) != expected:
            if sorted(out) == sorted(expected):
                return Verdict(False, f"right classes, wrong order for k={k}: most similar first")
            return Verdict(False, f"for k={k} expected {expected}, got {list(out)}: score classes by the dot "
                                  "product class_emb @ image_emb")
    return Verdict(True, "your top_k_classes matches the reference for k = 1, 3 and 7")
