import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmlens.viz import classification as vc  # noqa: E402

NAMES = ["circle", "square", "triangle"]


def teardown_function():
    plt.close("all")


def test_confusion_matrix_normalises_rows_and_labels_axes():
    confusion = torch.tensor([[8, 2, 0], [0, 5, 5], [1, 0, 9]])
    ax = vc.plot_confusion_matrix(confusion, NAMES, title="shape")
    shown = ax.images[0].get_array()
    assert np.allclose(shown.sum(axis=1), 1.0)
    assert shown[1, 2] == pytest.approx(0.5)
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "0.80" and len(texts) == 9
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    ax = vc.plot_confusion_matrix(confusion, NAMES, ax=plt.figure().gca(), normalize=False)
    assert [t.get_text() for t in ax.texts][:3] == ["8", "2", "0"]
    with pytest.raises(ValueError, match="len\\(class_names\\)"):
        vc.plot_confusion_matrix(confusion, NAMES[:2])


def test_class_probabilities_draws_one_bar_per_class_and_marks_the_true_one():
    image = np.full((16, 16, 3), 255, np.uint8)
    fig = vc.plot_class_probabilities(image, torch.tensor([0.7, 0.2, 0.1]), NAMES, true="square")
    bars = fig.axes[1].patches
    assert len(bars) == 3
    widths = sorted(b.get_width() for b in bars)
    assert widths == pytest.approx([0.1, 0.2, 0.7])
    colours = {b.get_facecolor() for b in bars}
    assert len(colours) == 2  # the true class stands out
    with pytest.raises(ValueError, match="2 probabilities"):
        vc.plot_class_probabilities(image, [0.5, 0.5], NAMES)
    with pytest.raises(ValueError, match="not one of"):
        vc.plot_class_probabilities(image, [0.5, 0.3, 0.2], NAMES, true="star")


def test_template_accuracy_groups_bars_by_attribute():
    table = {"{}": {"colour": 0.5, "shape": 0.9}, "a photo of a {}": {"colour": 0.8, "shape": 1.0},
             "ensemble": {"colour": 0.85, "shape": 1.0}}
    ax = vc.plot_template_accuracy(table, chance={"colour": 1 / 6, "shape": 1 / 6}, highlight=["ensemble"])
    assert len(ax.patches) == 6
    assert sorted(round(p.get_width(), 2) for p in ax.patches) == [0.5, 0.8, 0.85, 0.9, 1.0, 1.0]
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == ["{ }", "a photo of a { }", "ensemble"]
    assert labels[2].get_fontweight() == "bold"
    assert len(ax.lines) == 2  # chance lines
    with pytest.raises(ValueError, match="empty"):
        vc.plot_template_accuracy({})


def test_softmax_temperature_one_panel_per_scale_with_probabilities():
    cosines = torch.tensor([0.3, 0.2, 0.1])
    fig = vc.plot_softmax_temperature(cosines, NAMES, [1.0, 10.0, 100.0], learned=10.0, true="circle")
    assert len(fig.axes) == 3
    heights = [[p.get_height() for p in ax.patches] for ax in fig.axes]
    assert all(sum(h) == pytest.approx(1.0) for h in heights)
    assert heights[2][0] > heights[1][0] > heights[0][0]
    assert "learned" in fig.axes[1].get_title() and "learned" not in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="positive"):
        vc.plot_softmax_temperature(cosines, NAMES, [0.0])
    with pytest.raises(ValueError, match="3 cosines"):
        vc.plot_softmax_temperature(cosines, NAMES[:2], [1.0])


def test_class_name_accuracy_one_panel_per_attribute():
    results = {"shape": {"standard": 0.9, "plural": 0.7}, "size": {"standard": 1.0, "big": 0.5}}
    fig = vc.plot_class_name_accuracy(results, chance={"shape": 1 / 6, "size": 0.5})
    assert [ax.get_title() for ax in fig.axes] == ["shape", "size"]
    assert [p.get_height() for p in fig.axes[0].patches] == [0.9, 0.7]
    with pytest.raises(ValueError, match="empty"):
        vc.plot_class_name_accuracy({})


def test_ensemble_curve_one_line_per_attribute():
    ax = vc.plot_ensemble_curve({"colour": [0.5, 0.7, 0.8], "size": [0.6, 0.6, 0.9]}, chance={"size": 0.5})
    lines = [l for l in ax.lines if l.get_marker() == "o"]
    assert [list(l.get_xdata()) for l in lines] == [[1, 2, 3], [1, 2, 3]]
    assert list(lines[1].get_ydata()) == [0.6, 0.6, 0.9]
    with pytest.raises(ValueError, match="empty"):
        vc.plot_ensemble_curve({})
