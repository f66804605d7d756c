"""mmlens.viz.scenes: each helper returns a Figure with the panels and texts it promises, and rejects bad input."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmlens.data import (  # noqa: E402
    COLOURS,
    WorldConfig,
    caption_is_true,
    colour_distribution,
    make_caption,
    make_hard_negatives,
    make_questions,
    make_scene,
    make_scenes,
    render_scene,
)
from mmlens.viz.scenes import (  # noqa: E402
    FALSE_COLOUR,
    TRUE_COLOUR,
    plot_colour_given_shape,
    plot_hard_negatives,
    plot_masks,
    plot_pair_counts,
    plot_questions,
    plot_scenes,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_plot_scenes_one_axes_per_scene_with_its_caption():
    scenes = make_scenes(5, seed=0, n_objects=(2, 3))
    captions = [make_caption(s, k) for k, s in enumerate(scenes)]
    fig = plot_scenes(scenes, captions, ncols=3, titles=[f"t{k}" for k in range(5)])
    assert len(fig.axes) == 5  # the sixth grid cell is removed
    for ax, caption, k in zip(fig.axes, captions, range(5)):
        assert len(ax.images) == 1 and ax.images[0].get_array().shape == (128, 128, 3)
        (text,) = _texts(ax)
        assert text.replace("\n", " ") == caption  # wrapped, not changed
        assert ax.get_title() == f"t{k}"
    assert len(plot_scenes(scenes[:2]).axes[0].texts) == 0  # captions are optional


def test_plot_scenes_accepts_rendered_scenes_as_they_are():
    rendered = render_scene(make_scene(1), resolution=64)
    fig = plot_scenes([rendered], ["x"])
    assert fig.axes[0].images[0].get_array().shape == (64, 64, 3)


def test_plot_scenes_rejects_bad_input():
    scenes = make_scenes(2)
    with pytest.raises(ValueError, match="empty"):
        plot_scenes([])
    with pytest.raises(ValueError, match="captions has 1 entries for 2 scenes"):
        plot_scenes(scenes, ["only one"])
    with pytest.raises(ValueError, match="ncols=0"):
        plot_scenes(scenes, ncols=0)
    with pytest.raises(TypeError, match=r"scenes\[1\] must be a Scene"):
        plot_scenes([scenes[0], "a red circle"])


def test_plot_masks_panels_and_labels():
    scene = make_scene(15, n_objects=3)
    rendered = render_scene(scene, resolution=96)
    fig = plot_masks(rendered, ncols=3)
    assert len(fig.axes) == 2 + 3  # image, id map, one mask per object (6th cell removed)
    image_ax, id_ax, *mask_axes = fig.axes
    assert len(image_ax.patches) == 3 and _texts(image_ax) == ["0", "1", "2"]  # one box and label each
    assert sorted(_texts(id_ax)) == ["0", "1", "2"]
    for k, ax in enumerate(mask_axes):
        obj = scene.objects[k]
        assert ax.get_title() == f"mask {k}: {obj.size} {obj.colour} {obj.shape}"
        assert (ax.images[0].get_array() == rendered.masks[k]).all()
    with pytest.raises(TypeError, match="RenderedScene"):
        plot_masks(scene)


def test_plot_hard_negatives_marks_each_caption_with_the_checker():
    scene = make_scene(15, n_objects=3)
    caption = make_caption(scene, 15, kind="relation")
    negatives = make_hard_negatives(scene, caption)
    fig = plot_hard_negatives(scene, caption, negatives)
    assert len(fig.axes) == 2
    texts = fig.axes[1].texts
    assert len(texts) == 2 * (1 + len(negatives))  # a label and a caption per line
    captions = texts[1::2]
    assert captions[0].get_text().replace("\n", " ") == caption
    assert captions[0].get_color() == TRUE_COLOUR
    assert all(t.get_color() == FALSE_COLOUR for t in captions[1:])
    # a "negative" that is in fact true is shown as true: the figure asks the checker, not the caller
    fig = plot_hard_negatives(scene, caption, {"not really": caption})
    assert "checker: true" in fig.axes[1].texts[2].get_text()
    assert caption_is_true(caption, scene)
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_hard_negatives(scene, caption, {})
    with pytest.raises(ValueError, match="non-empty string"):
        plot_hard_negatives(scene, "", negatives)


def test_plot_questions_lists_every_question_and_answer():
    scene = make_scene(15, n_objects=3)
    questions = make_questions(scene, seed=3)
    fig = plot_questions(scene, questions)
    lines = fig.axes[1].texts[1::2]
    assert len(lines) == len(questions)
    for line, q in zip(lines, questions):
        assert line.get_text().replace("\n", " ").endswith(f"→  {q.answer}")
    fig = plot_questions(scene, [("is there a star", "no")])
    assert fig.axes[1].texts[1].get_text() == "is there a star?  →  no"
    with pytest.raises(ValueError, match="empty"):
        plot_questions(scene, [])
    with pytest.raises(ValueError, match="cannot read question"):
        plot_questions(scene, ["just a string"])


def test_plot_colour_given_shape_bar_heights():
    world = WorldConfig(colour_given_shape={"circle": {"red": 0.8}})
    requested = colour_distribution(world, "circle")
    measured = {c: (0.7 if c == "red" else 0.06) for c in COLOURS}
    fig = plot_colour_given_shape(measured, requested, shape="circle")
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 2 * len(COLOURS)
    assert heights[: len(COLOURS)] == pytest.approx([measured[c] for c in COLOURS])
    assert heights[len(COLOURS):] == pytest.approx([requested[c] for c in COLOURS])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(COLOURS)
    assert ax.get_ylabel() == "P(colour | circle)"
    assert len(plot_colour_given_shape(measured).axes[0].patches) == len(COLOURS)
    with pytest.raises(ValueError, match="'teal'"):
        plot_colour_given_shape({"teal": 1.0})
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_colour_given_shape({})


def test_plot_pair_counts_shows_a_held_out_pair_as_zero():
    world = WorldConfig(held_out={("red", "triangle")})
    scenes = make_scenes(300, seed=0, n_objects=(1, 4), world=world)
    fig = plot_pair_counts(scenes, highlight=("red", "triangle"))
    ax = fig.axes[0]
    counts = [int(t) for t in _texts(ax)]
    assert len(counts) == 36
    assert sum(counts) == sum(len(s) for s in scenes)
    assert counts[2] == 0  # row red, column triangle
    assert len(ax.patches) == 1  # the highlight
    with pytest.raises(ValueError, match="highlight"):
        plot_pair_counts(scenes, highlight=("triangle", "red"))
    with pytest.raises(ValueError, match="non-empty list of Scene"):
        plot_pair_counts([])
