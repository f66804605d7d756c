"""Tests for mmlens.inspect.space (summary of a shared space, shifting the modality gap)."""
import pytest
import torch
import torch.nn.functional as F

from mmlens.inspect.embedding import modality_gap
from mmlens.inspect.space import gap_shift_sweep, shift_modalities, space_summary

torch.set_num_threads(1)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def gapped_pairs(n=120, d=16, gap=3.0, noise=0.3, seed=0):
    """Matched pairs: text = image + noise, then each modality pushed to its own side."""
    base = randn(n, d, seed=seed)
    direction = F.normalize(randn(d, seed=seed + 1), dim=0)
    image = F.normalize(base, dim=-1) + gap / 2 * direction
    text = F.normalize(base + noise * randn(n, d, seed=seed + 2), dim=-1) - gap / 2 * direction
    return F.normalize(image, dim=-1), F.normalize(text, dim=-1)


def test_space_summary_separates_gapped_from_mixed_modalities():
    image, text = gapped_pairs()
    gapped = space_summary(image, text)
    assert set(gapped) == {"gap", "separability", "alignment", "uniformity_image", "uniformity_text",
                           "mean_pair_cosine", "mean_cross_cosine"}
    assert gapped["gap"] > 1.0 and gapped["separability"] == 1.0
    mixed = space_summary(image, image)  # the same points twice: no gap, perfect alignment
    assert mixed["gap"] == pytest.approx(0.0, abs=1e-6)
    assert mixed["alignment"] == pytest.approx(0.0, abs=1e-6)
    assert mixed["mean_pair_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert gapped["mean_pair_cosine"] > gapped["mean_cross_cosine"]


def test_space_summary_rejects_unmatched_shapes():
    with pytest.raises(ValueError, match="matched pairs"):
        space_summary(randn(10, 4), randn(12, 4))


def test_shift_modalities_closes_and_widens_the_gap():
    image, text = gapped_pairs()
    before = modality_gap(image, text)
    same = shift_modalities(image, text, amount=0.0)
    assert torch.allclose(same[0], image, atol=1e-6) and torch.allclose(same[1], text, atol=1e-6)
    closed = modality_gap(*shift_modalities(image, text, amount=1.0))
    wider = modality_gap(*shift_modalities(image, text, amount=-0.5))
    assert closed < 0.2 * before < before < wider
    shifted_image, shifted_text = shift_modalities(image, text, amount=0.7)
    assert torch.allclose(shifted_image.norm(dim=1), torch.ones(len(image)), atol=1e-5)
    assert torch.allclose(shifted_text.norm(dim=1), torch.ones(len(text)), atol=1e-5)


def test_shift_modalities_uses_a_given_gap_vector():
    image, text = gapped_pairs()
    gap = torch.zeros(image.shape[1])
    gap[0] = 2.0
    shifted_image, _ = shift_modalities(image, text, amount=1.0, gap=gap)
    expected = F.normalize(image - torch.tensor([1.0] + [0.0] * (image.shape[1] - 1)), dim=-1)
    assert torch.allclose(shifted_image, expected, atol=1e-6)
    with pytest.raises(ValueError, match="gap must have shape"):
        shift_modalities(image, text, gap=torch.zeros(3))
    with pytest.raises(ValueError, match="widths"):
        shift_modalities(image, randn(5, 3))


def test_gap_shift_sweep_reports_gap_retrieval_and_zero_shot():
    image, text = gapped_pairs(n=90, d=12)
    classes = F.normalize(randn(3, 12, seed=7), dim=-1)
    labels = (image @ classes.T).argmax(1)  # classes the unshifted images get right by construction
    sweep = gap_shift_sweep(image, text, [0.0, 0.5, 1.0], class_emb=classes, labels=labels)
    assert sweep["amount"] == [0.0, 0.5, 1.0]
    assert sweep["gap"][0] == pytest.approx(modality_gap(image, text), abs=1e-5)
    assert sweep["gap"][0] > sweep["gap"][1] > sweep["gap"][2]
    assert sweep["zero_shot"][0] == 1.0
    assert all(0.0 <= r <= 1.0 for r in sweep["retrieval@1"] + sweep["zero_shot"])
    # Retrieval of matched pairs: a shift along one shared vector changes little when pairs are close.
    assert sweep["retrieval@1"][0] > 0.5
    assert "zero_shot" not in gap_shift_sweep(image, text, [0.0])


def test_gap_shift_sweep_validates_inputs():
    image, text = gapped_pairs(n=20, d=6)
    with pytest.raises(ValueError, match="together"):
        gap_shift_sweep(image, text, [0.0], class_emb=randn(3, 6))
    with pytest.raises(ValueError, match="one per image"):
        gap_shift_sweep(image, text, [0.0], class_emb=randn(3, 6), labels=torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="index the 3 classes"):
        gap_shift_sweep(image, text, [0.0], class_emb=randn(3, 6), labels=torch.full((20,), 3))
    with pytest.raises(ValueError, match="empty"):
        gap_shift_sweep(image, text, [])


def test_make_untrained_model_is_seeded_and_leaves_the_global_generator_alone():
    from mmlens.inspect.space import make_untrained_model

    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    model_a, preprocess, tokenizer = make_untrained_model("tiny-clip", seed=0)
    assert torch.equal(torch.rand(1), expected_next)  # global generator untouched
    model_b, _, _ = make_untrained_model("mmlens-tiny-clip", seed=0)
    model_c, _, _ = make_untrained_model("tiny-clip", seed=1)
    w_a, w_b, w_c = (m.visual.conv1.weight for m in (model_a, model_b, model_c))
    assert torch.equal(w_a, w_b) and not torch.equal(w_a, w_c)
    assert not model_a.training
    from mmlens.data import make_scene, render_scene

    image = preprocess(render_scene(make_scene(0)).pil())[None]  # (1, 3, H, W)
    with torch.no_grad():
        assert model_a.encode_image(image).shape == model_a.encode_text(tokenizer(["a red circle"])).shape
