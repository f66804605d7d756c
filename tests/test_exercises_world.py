"""Checkers of *A world with ground truth*: accept right answers, reject typical wrong ones with a hint,
never raise on the reader's bugs."""
from collections import Counter

import numpy as np

from mmlens.data import relation_holds
from mmlens.exercises.world import check_colour_frequencies, check_count_objects, check_relation


def _not_implemented(*args):
    raise NotImplementedError


def test_check_count_objects():
    assert check_count_objects(lambda scene, colour: sum(o.colour == colour for o in scene.objects))
    assert check_count_objects(lambda scene, colour: np.int64(sum(o.colour == colour for o in scene.objects)))
    everything = check_count_objects(lambda scene, colour: len(scene.objects))
    assert not everything and "scene.objects" in repr(everything)
    as_float = check_count_objects(lambda scene, colour: 1.0 * sum(o.colour == colour for o in scene.objects))
    assert not as_float and "expected an int" in repr(as_float)
    unfinished = check_count_objects(_not_implemented)
    assert not unfinished and "NotImplementedError" in repr(unfinished)
    crashing = check_count_objects(lambda scene, colour: scene.colours)
    assert not crashing and "AttributeError" in repr(crashing)


def test_check_relation_accepts_the_world_rule_and_names_the_mistake():
    assert check_relation(lambda a, b: relation_holds(a, b, "left of"))
    assert check_relation(lambda a, b: np.bool_(b.x - a.x > max(a.radius, b.radius)))
    cases = {
        "clear gap": lambda a, b: b.x > a.x,
        "'right of'": lambda a, b: a.x - b.x > max(a.radius, b.radius),
        "compare y": lambda a, b: b.y - a.y > max(a.radius, b.radius),
        "larger of the two radii": lambda a, b: b.x - a.x > min(a.radius, b.radius),
        "max(a.radius, b.radius)": lambda a, b: b.x - a.x > 0.1,
    }
    for hint, fn in cases.items():
        verdict = check_relation(fn)
        assert not verdict and hint in repr(verdict), (hint, repr(verdict))
    not_bool = check_relation(lambda a, b: "yes")
    assert not not_bool and "True or False" in repr(not_bool)
    assert not check_relation(_not_implemented)
    assert not check_relation("not a function")


def _frequencies(scenes, shape):
    colours = [o.colour for s in scenes for o in s.objects if o.shape == shape]
    return {c: n / len(colours) for c, n in Counter(colours).items()}


def test_check_colour_frequencies():
    assert check_colour_frequencies(_frequencies)
    per_scene = check_colour_frequencies(lambda scenes, shape: {c: n * 0.5 for c, n in _frequencies(scenes, shape).items()})
    assert not per_scene and "do not sum to 1" in repr(per_scene)
    all_shapes = check_colour_frequencies(
        lambda scenes, shape: dict(Counter(o.colour for s in scenes for o in s.objects).items())
    )
    assert not all_shapes
    normalised_all_shapes = check_colour_frequencies(
        lambda scenes, shape: {c: n / sum(len(s) for s in scenes)
                               for c, n in Counter(o.colour for s in scenes for o in s.objects).items()}
    )
    assert not normalised_all_shapes and "shape" in repr(normalised_all_shapes)
    extra = check_colour_frequencies(lambda scenes, shape: {**_frequencies(scenes, shape), "teal": 0.0})
    assert not extra and "'teal'" in repr(extra)
    assert not check_colour_frequencies(lambda scenes, shape: [0.5, 0.5])
    assert not check_colour_frequencies(_not_implemented)
