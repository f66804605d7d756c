"""Checkers for *A world with ground truth*: each tries the reader's function on many scenes of the
synthetic world and compares it with the library's own answer."""
from __future__ import annotations

from typing import Callable

from mmlens.data.world import COLOURS, Scene, SceneObject, WorldConfig, make_scenes, relation_holds
from mmlens.exercises._check import Verdict, run_reader_function

N_SCENES = 300


def _describe(scene: Scene) -> str:
    return ", ".join(f"{o.colour} {o.shape}" for o in scene.objects) or "no objects"


def check_count_objects(fn: Callable[[Scene, str], int]) -> Verdict:
    """Check ``fn(scene, colour) -> int``, the number of objects of that colour in the scene.

    Tried on 300 scenes of 1 to 4 objects, asking for every colour.
    """
    scenes = make_scenes(N_SCENES, seed=11, n_objects=(1, 4), world=WorldConfig(max_objects=4))
    for scene in scenes:
        for colour in COLOURS:
            got, failure = run_reader_function(fn, scene, colour)
            if failure is not None:
                return failure
            expected = sum(o.colour == colour for o in scene.objects)
            if hasattr(got, "item"):
                got = got.item()  # accept NumPy / torch scalars
            if isinstance(got, bool) or not isinstance(got, int):
                return Verdict(False, f"expected an int, got {type(got).__name__} ({got!r})")
            if got != expected:
                return Verdict(False, f"in a scene with [{_describe(scene)}] there are {expected} {colour} "
                                      f"object(s), your function says {got}: loop over scene.objects "
                                      "and compare each object's .colour")
    return Verdict(True, f"your count matches the scene's object list on {N_SCENES} scenes × {len(COLOURS)} colours")


def _pairs() -> list[tuple[SceneObject, SceneObject]]:
    """Ordered pairs of distinct objects from many scenes, including near-ties along x."""
    pairs = []
    for scene in make_scenes(N_SCENES, seed=12, n_objects=(2, 4), world=WorldConfig(max_objects=4)):
        objs = scene.objects
        pairs += [(a, b) for i, a in enumerate(objs) for j, b in enumerate(objs) if i != j]
    # hand-made near-ties: just inside and just outside the threshold, for both sizes
    for size_a, size_b in (("small", "small"), ("small", "large"), ("large", "large")):
        for gap in (0.0, 0.05, 0.09, 0.14, 0.16, 0.3):
            a = SceneObject("circle", "red", size_a, 0.3, 0.5)
            b = SceneObject("square", "blue", size_b, 0.3 + gap, 0.5)
            pairs += [(a, b), (b, a)]
    return pairs


def check_relation(fn: Callable[[SceneObject, SceneObject], bool]) -> Verdict:
    """Check ``fn(a, b) -> bool``: is object ``a`` clearly to the left of object ``b``?

    The world's rule (:func:`mmlens.data.relation_holds`): ``b``'s centre lies to the right of ``a``'s by more
    than the larger of the two radii (``obj.radius``). Tried on every ordered pair of objects in 300
    scenes, plus near-ties.
    """
    pairs = _pairs()
    answers = []
    for a, b in pairs:
        got, failure = run_reader_function(fn, a, b)
        if failure is not None:
            return failure
        if hasattr(got, "item"):
            got = got.item()  # accept NumPy / torch booleans
        if not isinstance(got, bool):
            return Verdict(False, f"expected True or False, got {type(got).__name__} ({got!r})")
        answers.append(got)
    wrong = [(a, b, got) for (a, b), got in zip(pairs, answers) if got != relation_holds(a, b, "left of")]
    if not wrong:
        return Verdict(True, f"your rule agrees with the world's on all {len(pairs)} ordered pairs")
    a, b, got = wrong[0]
    where = (f"for a {a.size} {a.shape} at x={a.x:.3f} and a {b.size} {b.shape} at x={b.x:.3f} "
             f"(radii {a.radius:.3f} and {b.radius:.3f}) the answer is {not got}, you said {got}")
    near_misses = {
        "you test 'right of': x grows to the right, so a is left of b when b.x - a.x is large":
            lambda a, b: relation_holds(a, b, "right of"),
        "you compare y (above/below); left and right are about x":
            lambda a, b: relation_holds(a, b, "above"),
        "you test b.x > a.x; the world also asks for a clear gap, more than the larger radius":
            lambda a, b: b.x > a.x,
        "use the larger of the two radii, not the smaller":
            lambda a, b: b.x - a.x > min(a.radius, b.radius),
    }
    hint = "compare b.x - a.x with max(a.radius, b.radius)"
    for text, rule in near_misses.items():
        if all(rule(a, b) == got for (a, b), got in zip(pairs, answers)):
            hint = text
            break
    return Verdict(False, f"{len(wrong)} of {len(pairs)} pairs differ; {where}. Hint: {hint}")


def check_colour_frequencies(fn: Callable[[list, str], dict]) -> Verdict:
    """Check ``fn(scenes, shape) -> dict colour -> frequency``: P(colour | shape) measured over the objects
    of that shape in ``scenes`` (frequencies sum to 1; colours never seen may be left out or 0)."""
    world = WorldConfig(colour_given_shape={"circle": {"red": 0.7}, "star": {"blue": 0.5, "green": 0.5}})
    scenes = make_scenes(400, seed=13, n_objects=(1, 3), world=world)
    for shape in ("circle", "star", "heart"):
        got, failure = run_reader_function(fn, list(scenes), shape)
        if failure is not None:
            return failure
        if not isinstance(got, dict):
            return Verdict(False, f"expected a dict colour -> frequency, got {type(got).__name__}")
        of_shape = [o.colour for s in scenes for o in s.objects if o.shape == shape]
        for colour in COLOURS:
            expected = of_shape.count(colour) / len(of_shape)
            try:
                value = float(got.get(colour, 0.0))
            except (TypeError, ValueError):
                return Verdict(False, f"the value for {colour!r} is {got.get(colour)!r}, not a number")
            if abs(value - expected) > 1e-6:
                total = sum(float(v) for v in got.values() if isinstance(v, (int, float)))
                hint = ("your values do not sum to 1: divide by the number of objects of that shape, "
                        "not by the number of scenes or objects") if abs(total - 1) > 1e-6 else (
                        "count only objects whose .shape is the given shape")
                return Verdict(False, f"for shape {shape!r}, P({colour} | {shape}) should be {expected:.3f}, "
                                      f"you gave {value:.3f}. Hint: {hint}")
        extra = [k for k in got if k not in COLOURS]
        if extra:
            return Verdict(False, f"unexpected key {extra[0]!r}; keys are colour names from mmlens.data.COLOURS")
    return Verdict(True, "your frequencies match on a biased world (circle, star) and an unbiased shape (heart)")


__all__ = ["check_count_objects", "check_relation", "check_colour_frequencies"]
