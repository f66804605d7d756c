"""mmlens.data.world: determinism, geometry, splits, held-out pairs, the bias knob, bad arguments."""
import json
from collections import Counter

import numpy as np
import pytest

from mmlens.data import (
    COLOUR_RGB,
    COLOURS,
    SHAPES,
    Scene,
    SceneObject,
    WorldConfig,
    colour_distribution,
    make_scene,
    make_scenes,
    relation_holds,
)
from mmlens.data.world import scene_rng


def test_same_seed_same_scenes_and_different_seeds_differ():
    a = make_scenes(50, seed=3, n_objects=(1, 4))
    assert a == make_scenes(50, seed=3, n_objects=(1, 4))
    assert make_scenes(20, seed=3, n_objects=(1, 4)) == a[:20]  # scene i depends only on (seed, split, i)
    b = make_scenes(50, seed=4, n_objects=(1, 4))
    assert sum(x != y for x, y in zip(a, b)) >= 49
    assert make_scene(3, (1, 4)) == a[0]
    assert make_scene(scene_rng(3, "train", 7), (1, 4)) == a[7]


def test_splits_are_different_streams():
    train, val, test = (make_scenes(100, seed=0, split=s) for s in ("train", "val", "test"))
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)


def test_object_counts_geometry_and_no_overlap():
    world = WorldConfig()
    counts = Counter()
    for scene in make_scenes(400, seed=1, n_objects=(1, 4)):
        counts[len(scene)] += 1
        objs = scene.objects
        for o in objs:
            assert world.margin - 1e-9 <= o.x - o.radius and o.x + o.radius <= 1 - world.margin + 1e-9
            assert world.margin - 1e-9 <= o.y - o.radius and o.y + o.radius <= 1 - world.margin + 1e-9
        for i in range(len(objs)):
            for j in range(i + 1, len(objs)):
                d = np.hypot(objs[i].x - objs[j].x, objs[i].y - objs[j].y)
                assert d >= objs[i].radius + objs[j].radius + world.gap - 1e-9
    assert set(counts) == {1, 2, 3, 4}


def test_four_large_objects_fit():
    world = WorldConfig(sizes=("large",))
    for scene in make_scenes(50, seed=2, n_objects=4, world=world):
        assert len(scene) == 4 and all(o.size == "large" for o in scene.objects)


def test_every_pair_has_a_clear_relation_and_relation_is_consistent():
    for scene in make_scenes(100, seed=5, n_objects=(2, 4)):
        for i in range(len(scene)):
            for j in range(len(scene)):
                if i != j:
                    rel = scene.relation(i, j)
                    assert rel is not None and rel in scene.relations(i, j)
                    assert relation_holds(scene.objects[i], scene.objects[j], rel)
                    inverse = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}[rel]
                    assert scene.relation(j, i) == inverse


def test_relation_rule_needs_a_clear_gap():
    a = SceneObject("circle", "red", "small", 0.30, 0.5)
    b = SceneObject("square", "blue", "large", 0.40, 0.9)  # dx = 0.10 < large radius 0.15: not left of
    assert not relation_holds(a, b, "left of") and not relation_holds(b, a, "right of")
    assert relation_holds(a, b, "above") and relation_holds(b, a, "below")
    c = SceneObject("square", "blue", "large", 0.50, 0.5)  # dx = 0.20 > 0.15
    assert relation_holds(a, c, "left of") and not relation_holds(a, c, "above")


def test_held_out_pairs_never_in_train_but_in_test():
    world = WorldConfig(held_out={("red", "triangle"), ("circle", "blue")})  # either order is accepted
    assert world.held_out == frozenset({("red", "triangle"), ("blue", "circle")})
    pairs = lambda split: Counter((o.colour, o.shape) for s in make_scenes(1500, 0, (1, 3), split, world) for o in s.objects)
    train, test = pairs("train"), pairs("test")
    assert train[("red", "triangle")] == 0 and train[("blue", "circle")] == 0
    assert test[("red", "triangle")] > 10 and test[("blue", "circle")] > 10
    assert train[("red", "circle")] > 10  # only the pair is held out, not its parts
    assert colour_distribution(world, "triangle", "train")["red"] == 0.0


def test_bias_knob_gives_requested_conditional_frequencies():
    world = WorldConfig(colour_given_shape={"circle": {"red": 0.8}})
    objs = [o for s in make_scenes(4000, 0, (1, 3), "train", world) for o in s.objects]
    circles = Counter(o.colour for o in objs if o.shape == "circle")
    n = sum(circles.values())
    assert n > 1000
    assert abs(circles["red"] / n - 0.8) < 0.03
    for c in COLOURS[1:]:
        assert abs(circles[c] / n - 0.04) < 0.02
    squares = Counter(o.colour for o in objs if o.shape == "square")
    assert abs(squares["red"] / sum(squares.values()) - 1 / 6) < 0.04  # other shapes stay uniform
    dist = colour_distribution(world, "circle")
    assert dist["red"] == pytest.approx(0.8) and dist["blue"] == pytest.approx(0.04)


def test_bias_limited_to_train_split():
    world = WorldConfig(colour_given_shape={"star": {"blue": 1.0}}, bias_splits=("train",))
    train = [o.colour for s in make_scenes(500, 0, 3, "train", world) for o in s.objects if o.shape == "star"]
    test = Counter(o.colour for s in make_scenes(500, 0, 3, "test", world) for o in s.objects if o.shape == "star")
    assert set(train) == {"blue"} and len(test) == len(COLOURS)


def test_shift_knobs():
    world = WorldConfig(background=(40, 40, 40), colour_jitter=0.1, size_scale=0.7)
    objs = [o for s in make_scenes(30, 0, 3, world=world) for o in s.objects]
    assert make_scene(0, 3, world=world).background == (40, 40, 40)
    for o in objs:
        assert o.radius == pytest.approx({"small": 0.085, "large": 0.15}[o.size] * 0.7)
        diff = np.abs(np.array(o.fill) - np.array(COLOUR_RGB[o.colour]))
        assert diff.max() <= 0.1 * 255 + 1
    assert sum(o.fill != COLOUR_RGB[o.colour] for o in objs) > 0.9 * len(objs)
    assert all(o.rgb is None for s in make_scenes(10) for o in s.objects)  # off by default
    assert WorldConfig(size_scale=0.6).capacity > WorldConfig().capacity == 4


def test_to_dict_round_trip_through_json():
    for scene in make_scenes(20, 0, (1, 4), world=WorldConfig(colour_jitter=0.1)):
        assert Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene


@pytest.mark.parametrize(
    "call, value",
    [
        (lambda: make_scene(0, n_objects=0), "0"),
        (lambda: make_scene(0, n_objects=5), "5"),
        (lambda: make_scenes(3, n_objects=(1, 7)), "7"),
        (lambda: make_scene(0, split="dev"), "'dev'"),
        (lambda: make_scenes(3, split="validation"), "'validation'"),
        (lambda: WorldConfig(colours=("red", "pink")), "'pink'"),
        (lambda: WorldConfig(shapes=("circle", "hexagon")), "'hexagon'"),
        (lambda: WorldConfig(held_out={("red", "oval")}), "oval"),
        (lambda: WorldConfig(colour_given_shape={"circle": {"teal": 0.5}}), "'teal'"),
        (lambda: WorldConfig(colour_given_shape={"circle": {"red": 0.8, "blue": 0.4}}), "1.2"),
        (lambda: WorldConfig(max_objects=6), "6"),
        (lambda: SceneObject("circle", "magenta", "small", 0.5, 0.5), "'magenta'"),
        (lambda: SceneObject("blob", "red", "small", 0.5, 0.5), "'blob'"),
        (lambda: SceneObject("circle", "red", "medium", 0.5, 0.5), "'medium'"),
        (lambda: make_scene(-1), "-1"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(call, value):
    with pytest.raises(ValueError) as info:
        call()
    assert value in str(info.value)


def test_shapes_and_colours_constants():
    assert SHAPES[:4] == ("circle", "square", "triangle", "star") and len(SHAPES) >= 4 and len(COLOURS) >= 6


def test_centres_lie_on_the_position_lattice_unless_continuous():
    import numpy as np

    from mmlens.data import WorldConfig, make_scenes

    scenes = make_scenes(500, seed=3, n_objects=(1, 4))
    coords = np.array([(o.x, o.y) for s in scenes for o in s.objects]) * 16 - 0.5
    assert np.allclose(coords, np.round(coords))  # (k + 0.5) / 16
    free = make_scenes(50, seed=3, n_objects=(1, 4), world=WorldConfig(position_grid=None))
    coords = np.array([(o.x, o.y) for s in free for o in s.objects]) * 16 - 0.5
    assert not np.allclose(coords, np.round(coords))
    with pytest.raises(ValueError, match="position_grid"):
        WorldConfig(position_grid=2)
