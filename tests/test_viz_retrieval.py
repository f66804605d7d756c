"""Tests of mmlens.viz.retrieval: each figure draws what it is given, and bad input raises."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmlens import data  # noqa: E402
from mmlens.fewshot import FewShotCurve  # noqa: E402
from mmlens.retrieval import Gallery, SearchCost  # noqa: E402
from mmlens.viz import retrieval as rviz  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _image(colour):
    img = np.full((8, 8, 3), 255, np.uint8)
    img[2:6, 2:6] = colour
    return img


def test_search_results_frame_true_and_valid_matches():
    fig = rviz.plot_search_results(
        ["a red square", _image((0, 0, 255))],
        [[_image((255, 0, 0)), _image((0, 255, 0))], ["a blue square", "a green square"]],
        is_true=[[True, False], [False, False]], is_valid=[[False, True], [True, False]],
        row_titles=["rank 0", "rank 5"])
    axes = np.array(fig.axes).reshape(2, 3)
    colour = lambda ax: matplotlib.colors.to_hex(ax.spines["top"].get_edgecolor())  # noqa: E731
    assert colour(axes[0, 1]) == rviz.TRUE_COLOUR and colour(axes[0, 2]) == rviz.VALID_COLOUR
    assert colour(axes[1, 1]) == rviz.VALID_COLOUR and colour(axes[1, 2]) == rviz.OTHER_COLOUR
    assert axes[0, 0].texts[0].get_text() == "a red square" and axes[1, 0].images  # caption vs image query
    assert axes[1, 0].get_title() == "rank 5"
    assert len(fig.legends[0].get_texts()) == 2
    with pytest.raises(ValueError, match="one results row"):
        rviz.plot_search_results(["q"], [], [[True]])


def test_search_results_without_matches_have_no_legend():
    fig = rviz.plot_search_results([_image((0, 0, 0))], [[_image((1, 1, 1))]], [[False]])
    assert not fig.legends


def test_gallery_search_marks_the_pair_and_true_captions():
    def obj(colour, x):
        return data.SceneObject("circle", colour, "small", x, 0.5)

    scenes = [data.Scene((obj("red", 0.3),)), data.Scene((obj("red", 0.7),)), data.Scene((obj("blue", 0.5),))]
    emb = torch.eye(3)
    text_emb = torch.tensor([[0.1, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    g = Gallery(scenes, ["a red circle", "a red circle", "a blue circle"],
                np.stack([_image((255, 0, 0))] * 2 + [_image((0, 0, 255))]), emb, text_emb)
    fig = rviz.plot_gallery_search(g, [0], "text_to_image", k=2)
    axes = fig.axes
    # caption 0 retrieves scene 1 first (true of it, orange), then its own scene 0 (green)
    assert matplotlib.colors.to_hex(axes[1].spines["top"].get_edgecolor()) == rviz.VALID_COLOUR
    assert matplotlib.colors.to_hex(axes[2].spines["top"].get_edgecolor()) == rviz.TRUE_COLOUR
    fig = rviz.plot_gallery_search(g, [2], "image_to_image", k=2)
    assert not fig.legends
    with pytest.raises(ValueError, match="direction"):
        rviz.plot_gallery_search(g, [0], "audio_to_text")


def test_recall_bars_draw_every_value():
    rec = {"text_to_image@1": 0.2, "image_to_text@1": 0.4}
    ax = rviz.plot_recall_bars({"strict": rec, "caption-true": {k: v + 0.3 for k, v in rec.items()}})
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.2, 0.4, 0.5, 0.7]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["strict", "caption-true"]
    with pytest.raises(ValueError, match="keys"):
        rviz.plot_recall_bars({"a": rec, "b": {"text_to_image@1": 0.1}})


def test_search_cost_plots_both_methods_on_log_axes():
    cost = SearchCost(sizes=[100, 1000], exact_seconds=[1e-4, 1e-3], ivf_seconds=[2e-4, 3e-4],
                      exact_scored=[100, 1000], ivf_scored=[40, 120], ivf_recall=[1, 0.9], n_lists=[10, 32], nprobe=2)
    axes = rviz.plot_search_cost(cost)
    assert axes[0].get_xscale() == "log" and axes[1].get_yscale() == "log"
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), [0.1, 1.0])  # milliseconds
    np.testing.assert_allclose(axes[1].lines[1].get_ydata(), [40, 120])


def test_index_tradeoff_uses_share_of_gallery():
    ax = rviz.plot_index_tradeoff([1, 4], [0.5, 0.9], [100, 400], 1000)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.1, 0.4])
    with pytest.raises(ValueError, match="one entry each"):
        rviz.plot_index_tradeoff([1], [0.5, 0.9], [100], 1000)


def test_few_shot_curves_one_panel_per_task_with_zero_shot_line():
    curve = FewShotCurve([1, 2, 4], np.array([[0.5, 0.7], [0.6, 0.8], [0.9, 0.9]]))
    axes = rviz.plot_few_shot_curves({"colour": curve, "size": curve}, {"colour": 0.95, "size": 0.6},
                                     {"colour": 1 / 6, "size": 0.5}, extra={"size": curve})
    assert len(axes) == 2 and "0.95" in axes[0].get_title()
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), [0.6, 0.7, 0.9])
    assert any(np.allclose(line.get_ydata(), 0.95) for line in axes[0].lines)
    assert len(axes[1].lines) == len(axes[0].lines) + 1  # the extra curve
    with pytest.raises(ValueError, match="zero-shot accuracy for every task"):
        rviz.plot_few_shot_curves({"colour": curve}, {})
