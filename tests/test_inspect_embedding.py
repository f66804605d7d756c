"""Tests for mmlens.inspect.embedding (gap, separability, alignment/uniformity, projections, neighbours, CKA)
and the embedding figures of mmlens.viz.embedding."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmlens.inspect.embedding import (
    alignment,
    cka_matrix,
    linear_cka,
    modality_gap,
    modality_gap_vector,
    modality_separability,
    nearest_neighbours,
    pca,
    project_2d,
    similarity_matrix,
    uniformity,
)

torch.set_num_threads(1)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_modality_gap_zero_for_identical_and_grows_with_shift():
    x = randn(200, 16)
    assert modality_gap(x, x) == 0.0
    direction = F.normalize(randn(16, seed=1), dim=0)
    gaps = [modality_gap(x, x + s * direction, normalize=False) for s in (0.5, 1.0, 2.0)]
    assert gaps == pytest.approx([0.5, 1.0, 2.0], abs=1e-9)  # unnormalised: the gap is the shift
    gaps_norm = [modality_gap(x + 0.1, x + s * direction) for s in (0.5, 2.0, 8.0)]
    assert gaps_norm[0] < gaps_norm[1] < gaps_norm[2] <= 2.0


def test_modality_gap_vector_points_from_text_to_image():
    text = randn(100, 8)
    shift = torch.zeros(8, dtype=torch.float64)
    shift[3] = 5.0
    v = modality_gap_vector(text + shift, text, normalize=False)
    assert torch.allclose(v.double(), shift, atol=1e-5)


def test_separability_chance_for_same_distribution_and_one_for_shifted():
    a, b = randn(300, 16, seed=1), randn(300, 16, seed=2)
    assert abs(modality_separability(a, b) - 0.5) < 0.12
    shifted = b + 10.0 * F.normalize(randn(16, seed=3), dim=0)
    assert modality_separability(a, shifted, normalize=False) == 1.0


def test_alignment_zero_for_identical_pairs_and_positive_otherwise():
    x = randn(50, 8)
    assert alignment(x, x) == pytest.approx(0.0, abs=1e-12)
    assert alignment(x, -x) == pytest.approx(4.0)  # antipodal unit vectors are distance 2 apart
    assert 0 < alignment(x, x + 0.3 * randn(50, 8, seed=1)) < alignment(x, randn(50, 8, seed=2))


def test_uniformity_lower_for_spread_than_clustered():
    spread = randn(400, 3)
    clustered = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64) + 0.05 * randn(400, 3, seed=1)
    u_spread, u_clustered = uniformity(spread), uniformity(clustered)
    assert u_spread < u_clustered < 0
    # On the 2-sphere, uniform points give log E exp(-2 |x-y|^2) = log((1 - e^-8) / 8), about -2.08.
    assert u_spread == pytest.approx(np.log((1 - np.exp(-8)) / 8), abs=0.08)
    assert uniformity(torch.ones(5, 3)) == pytest.approx(0.0, abs=1e-12)  # a single point


def test_pca_keeps_all_variance_of_rank_two_data_and_is_deterministic():
    basis = randn(2, 10, seed=1)
    x = randn(100, 2) @ basis + 3.0  # (100, 10) rank 2 after centring
    result = pca(x, 2)
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-10)
    centred = (x - x.mean(0)).numpy()
    assert np.sum(result.coords**2) == pytest.approx(np.sum(centred**2), rel=1e-10)  # distances preserved
    reconstructed = result.coords @ result.components + result.mean
    assert np.allclose(reconstructed, x.numpy(), atol=1e-8)
    assert np.allclose(project_2d(x), result.coords)
    assert np.array_equal(pca(x, 2).coords, result.coords)


def test_tsne_is_seeded_and_separates_clusters():
    x = torch.cat([randn(20, 5, seed=1), randn(20, 5, seed=2) + 20])
    a, b = project_2d(x, "tsne", seed=3), project_2d(x, "tsne", seed=3)
    assert a.shape == (40, 2) and np.allclose(a, b)
    centre_gap = np.linalg.norm(a[:20].mean(0) - a[20:].mean(0))
    assert centre_gap > 3 * max(a[:20].std(0).max(), a[20:].std(0).max())
    with pytest.raises(ValueError, match="umap"):
        project_2d(x, "umap")


def test_similarity_matrix_is_cosine():
    a, b = randn(4, 6, seed=1), randn(5, 6, seed=2)
    sim = similarity_matrix(a, b)
    assert sim.shape == (4, 5)
    assert torch.allclose(sim.double(), F.normalize(a, dim=1) @ F.normalize(b, dim=1).T, atol=1e-6)
    assert torch.allclose(torch.diagonal(similarity_matrix(a)), torch.ones(4), atol=1e-6)


def test_nearest_neighbours_recover_known_neighbours():
    keys = randn(30, 8, seed=1)
    queries = keys[[5, 17, 2]] + 0.01 * randn(3, 8, seed=2)
    idx, scores = nearest_neighbours(queries, keys, k=3)
    assert idx[:, 0].tolist() == [5, 17, 2]
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first
    idx_e, dist = nearest_neighbours(queries, keys, k=2, metric="euclidean")
    assert idx_e[:, 0].tolist() == [5, 17, 2] and (dist[:, 0] <= dist[:, 1]).all()
    # Searching a set in itself skips each point; pairs of twins find each other.
    twins = torch.cat([keys, keys + 0.001])
    idx_self, _ = nearest_neighbours(twins, k=1)
    assert idx_self[:, 0].tolist() == list(range(30, 60)) + list(range(30))
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(keys, k=30)


def test_cka_identity_invariances_and_independence():
    x = randn(500, 20)
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _ = torch.linalg.qr(randn(20, 20, seed=1))
    assert linear_cka(x, 3.7 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, x + 5.0) == pytest.approx(1.0)  # centring removes offsets
    assert linear_cka(x, randn(500, 20, seed=2)) < 0.1
    # Sharing half of 20 isotropic directions: ||A^T A||^2 / ||X^T X|| ||Y^T Y|| = 10 / 20.
    assert linear_cka(x, torch.cat([x[:, :10], randn(500, 10, seed=3)], 1)) == pytest.approx(0.5, abs=0.05)
    # Not invariant to arbitrary invertible maps (unlike CCA): stretching one axis changes it.
    stretch = torch.ones(20, dtype=torch.float64)
    stretch[0] = 30.0
    assert linear_cka(x, x * stretch) < 0.9


def test_cka_matrix_symmetric_with_unit_diagonal():
    x = randn(200, 8)
    layers = {"a": x, "b": x @ randn(8, 8, seed=1), "c": randn(200, 4, seed=2)}
    m = cka_matrix(layers)
    assert m.shape == (3, 3)
    assert torch.allclose(torch.diagonal(m), torch.ones(3), atol=1e-6)
    assert torch.allclose(m, m.T)
    assert m[0, 2] < 0.2 < m[0, 1]
    assert cka_matrix(layers, [x]).shape == (3, 1)


def test_bad_inputs_raise_with_shapes():
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        modality_gap(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="widths"):
        modality_gap(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="matched pairs"):
        alignment(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="same inputs"):
        linear_cka(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="constant"):
        linear_cka(torch.ones(10, 4), randn(10, 4))


# --- figures -----------------------------------------------------------------------------------------------------


def test_plot_embeddings_draws_points_and_pair_lines():
    from mmlens.viz.embedding import plot_embeddings

    image, text = randn(12, 8), randn(12, 8, seed=1) + 2
    fig, axes = plt.subplots(1, 2)
    plot_embeddings(image, text, ax=axes[0])
    assert sum(len(c.get_offsets()) for c in axes[0].collections if hasattr(c, "get_offsets") and
               c.__class__.__name__ == "PathCollection") == 24
    assert any(c.__class__.__name__ == "LineCollection" and len(c.get_segments()) == 12 for c in axes[0].collections)
    plot_embeddings(image, text, labels=["red", "blue"] * 6, pairs=False, ax=axes[1])
    assert not any(c.__class__.__name__ == "LineCollection" for c in axes[1].collections)
    labels = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert labels == ["red", "blue", "image", "text"]
    with pytest.raises(ValueError, match="labels has 5"):
        plot_embeddings(image, text, labels=["a"] * 5)
    plt.close(fig)


def test_plot_similarity_marks_row_maxima():
    from mmlens.viz.embedding import plot_similarity

    sim = torch.eye(3) + 0.1
    ax = plot_similarity(sim, ["a", "b", "c"], ["x", "y", "z"])
    boxes = [p for p in ax.patches]
    assert [(b.get_x() + 0.5, b.get_y() + 0.5) for b in boxes] == [(0, 0), (1, 1), (2, 2)]
    assert len(ax.texts) == 9
    plt.close(ax.figure)


def test_interactive_scatter_is_plotly_and_offline():
    from mmlens.viz.embedding import plot_embeddings_interactive, plotly_html, show_plotly

    image, text = randn(10, 8), randn(10, 8, seed=1)
    fig = plot_embeddings_interactive(image, text, labels=["red", "blue"] * 5, text_hover=[f"cap {i}" for i in range(10)])
    assert type(fig).__name__ == "Figure" and type(fig).__module__.startswith("plotly")
    names = [t.name for t in fig.data]
    assert names == ["pairs", "red (image)", "blue (image)", "red (text)", "blue (text)"]
    assert sum(len(t.x) for t in fig.data[1:]) == 20
    html = plotly_html(fig, div_id="fixed")
    small = show_plotly(fig, div_id="fig-a").data
    assert 'id="fig-a"' in small and show_plotly(fig, div_id="fig-a").data == small  # reproducible output
    assert "plotly.js v" in html and len(html) > 1_000_000  # the library itself is inlined
    assert "plotly.js v" not in small and "Plotly.newPlot" in small and 'id="fixed"' in html
    # The page part (everything but the inlined library) loads nothing from the network.
    assert "src=" not in small and "http" not in small.replace("http://www.w3.org", "")
    with pytest.raises(ValueError, match="offline"):
        plotly_html(fig, include_plotlyjs="cdn")


def test_layer_head_explorer_constructs_without_kernel_and_redraws():
    from mmlens.viz.embedding import make_layer_head_explorer

    calls = []

    def draw(layer, head):
        calls.append((layer, head))
        fig, ax = plt.subplots()
        ax.plot([layer, head])
        return fig

    box = make_layer_head_explorer(draw, n_layers=4, n_heads=2)
    layer_slider, head_slider = box.children[1].children
    assert (layer_slider.max, head_slider.max) == (3, 1)
    layer_slider.value = 2
    head_slider.value = 1
    assert calls == [(0, 0), (2, 0), (2, 1)]  # the first view is drawn at construction
    assert box.children[2].value[:8] == b"\x89PNG\r\n\x1a\n"  # each view is a PNG image
    assert plt.get_fignums() == []  # each drawn figure is closed after rendering
    only_layers = make_layer_head_explorer(lambda layer: plt.subplots()[0], n_layers=3)
    assert len(only_layers.children[1].children) == 1
    with pytest.raises(ValueError, match="no matplotlib figure"):
        make_layer_head_explorer(lambda layer: None, n_layers=3)
    with pytest.raises(ValueError, match="n_layers"):
        make_layer_head_explorer(draw, n_layers=0)
