"""mmlens.data.render: masks agree with pixels, boxes, id map, resolutions."""
import numpy as np
import pytest
from PIL import Image

from mmlens.data import Scene, SceneObject, SHAPES, WorldConfig, make_scene, make_scenes, render_image, render_scene


def _check_consistent(scene, r):
    h = r.image.shape[0]
    assert r.image.dtype == np.uint8 and r.image.shape == (h, h, 3)
    assert r.masks.dtype == bool and r.masks.shape == (len(scene), h, h)
    assert r.id_map.dtype == np.int16 and r.boxes.shape == (len(scene), 4)
    assert (r.masks.sum(0) <= 1).all()  # disjoint
    background = np.all(r.image == np.array(scene.background, np.uint8), axis=-1)
    assert np.array_equal(r.masks.any(0), ~background)  # union of masks = non-background pixels
    for k, obj in enumerate(scene.objects):
        m = r.masks[k]
        assert m.sum() > 0
        assert np.all(r.image[m] == np.array(obj.fill, np.uint8))  # pixels inside a mask have the object's colour
        assert np.array_equal(r.id_map == k, m)
        ys, xs = np.nonzero(m)
        assert tuple(r.boxes[k]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        # the mask sits where the object is: its centroid is near the object's centre
        assert abs(xs.mean() + 0.5 - obj.x * h) < obj.radius * h * 0.5
        assert abs(ys.mean() + 0.5 - obj.y * h) < obj.radius * h * 0.5
    assert np.array_equal(r.id_map == -1, background)


@pytest.mark.parametrize("resolution", [32, 64, 224])
def test_masks_match_rendered_pixels(resolution):
    for scene in make_scenes(60, seed=resolution, n_objects=(1, 4)):
        _check_consistent(scene, render_scene(scene, resolution))


def test_masks_match_pixels_with_shift_knobs():
    world = WorldConfig(background=(30, 30, 30), colour_jitter=0.15, size_scale=0.8)
    for scene in make_scenes(40, seed=1, n_objects=(1, 4), world=world):
        _check_consistent(scene, render_scene(scene, 64))


def test_sizes_differ_clearly_and_every_shape_draws_distinctly():
    areas = {}
    for shape in SHAPES:
        for size in ("small", "large"):
            r = render_scene(Scene((SceneObject(shape, "red", size, 0.5, 0.5),)), 64)
            areas[shape, size] = r.masks[0].sum()
        assert areas[shape, "large"] > 2.5 * areas[shape, "small"]
    large = {s: render_scene(Scene((SceneObject(s, "red", "large", 0.5, 0.5),)), 64).masks[0] for s in SHAPES}
    for a in SHAPES:
        for b in SHAPES:
            if a < b:
                assert (large[a] ^ large[b]).sum() > 40, (a, b)  # shapes differ by many pixels


def test_render_image_equals_render_scene_image_and_is_deterministic():
    scene = make_scene(7, 3)
    assert np.array_equal(render_image(scene, 64), render_scene(scene, 64).image)
    assert np.array_equal(scene.render(64).image, render_scene(scene, 64).image)


def test_antialias_and_pil():
    scene = make_scene(1, 3)
    r = render_scene(scene, 64, antialias=True)
    hard = render_scene(scene, 64)
    assert r.image.shape == (64, 64, 3) and np.array_equal(r.masks, hard.masks)
    changed = (r.image != hard.image).any(-1)
    ids = np.pad(hard.id_map, 2, mode="edge")
    edge = np.zeros_like(changed)
    for dy in (-2, -1, 0, 1, 2):  # within two pixels of an edge: a thin tip may miss every pixel centre
        for dx in (-2, -1, 0, 1, 2):
            edge |= ids[2 + dy : 66 + dy, 2 + dx : 66 + dx] != hard.id_map
    assert changed.sum() > 0 and not (changed & ~edge).any()  # only pixels near an edge blend
    pil = hard.pil()
    assert isinstance(pil, Image.Image) and pil.size == (64, 64) and pil.mode == "RGB"


def test_object_crossing_the_border_is_clipped():
    r = render_scene(Scene((SceneObject("square", "blue", "large", 0.02, 0.98),)), 64)
    assert r.masks[0].sum() > 0 and r.boxes[0][0] == 0 and r.boxes[0][3] == 64


@pytest.mark.parametrize("resolution", [16, 0, 31, 64.0, "64"])
def test_bad_resolution_raises(resolution):
    with pytest.raises(ValueError, match=repr(resolution) if isinstance(resolution, str) else str(resolution)):
        render_scene(make_scene(0), resolution)
