"""mmlens.losses: equal to open_clip's losses, and the hard-negative loss does what its docstring says."""
from __future__ import annotations

import math

import open_clip
from open_clip.loss import SigLipLoss as OpenClipSigLipLoss
import pytest
import torch
import torch.nn.functional as F

from mmlens.losses import ClipLoss, SigLipLoss, clip_loss, hard_negative_clip_loss, siglip_loss


def _emb(B: int = 8, D: int = 16, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(B, D, generator=g, dtype=dtype), dim=-1)
    text = F.normalize(image + 0.8 * torch.randn(B, D, generator=g, dtype=dtype), dim=-1)  # paired, noisy
    return image, text


@pytest.mark.parametrize("B", [1, 5, 8])
def test_clip_loss_equals_open_clip(B):
    image, text = _emb(B)
    scale = torch.tensor(1 / 0.07, dtype=torch.float64)
    expected = open_clip.ClipLoss()(image, text, scale)
    torch.testing.assert_close(clip_loss(image, text, scale), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ClipLoss()(image, text, scale), expected, atol=1e-6, rtol=1e-6)
    bias = torch.tensor(-2.0, dtype=torch.float64)
    torch.testing.assert_close(
        clip_loss(image, text, scale, bias), open_clip.ClipLoss()(image, text, scale, bias), atol=1e-6, rtol=1e-6
    )


def test_clip_loss_float32_and_known_values():
    image, text = (t.float() for t in _emb())
    scale = torch.tensor(10.0)
    torch.testing.assert_close(clip_loss(image, text, scale), open_clip.ClipLoss()(image, text, scale))
    # identical, orthogonal pairs: image->text logits are `scale` on the diagonal and 0 elsewhere
    eye = torch.eye(4, dtype=torch.float64)
    expected = -math.log(math.exp(10.0) / (math.exp(10.0) + 3))
    assert clip_loss(eye, eye, 10.0).item() == pytest.approx(expected, rel=1e-6)
    # a scale of 0 knows nothing: log(B)
    assert clip_loss(image, text, 0.0).item() == pytest.approx(math.log(8), rel=1e-6)


@pytest.mark.parametrize("B", [1, 6])
def test_siglip_loss_equals_open_clip(B):
    image, text = _emb(B, seed=1)
    scale, bias = torch.tensor(10.0, dtype=torch.float64), torch.tensor(-10.0, dtype=torch.float64)
    expected = OpenClipSigLipLoss()(image, text, scale, bias)
    torch.testing.assert_close(siglip_loss(image, text, scale, bias), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(SigLipLoss()(image, text, scale, bias), expected, atol=1e-6, rtol=1e-6)


def test_siglip_loss_known_value():
    # logits all 0: every one of the B*B pairs costs log 2, divided by B
    image, text = _emb(4)
    assert siglip_loss(image, text, 0.0, 0.0).item() == pytest.approx(4 * math.log(2), rel=1e-9)


def test_hard_negative_loss_reduces_to_clip_loss_without_negatives():
    image, text = _emb()
    expected = clip_loss(image, text, 20.0)
    torch.testing.assert_close(hard_negative_clip_loss(image, text, None, 20.0), expected)
    torch.testing.assert_close(hard_negative_clip_loss(image, text, image.new_zeros(8, 0, 16), 20.0), expected)
    torch.testing.assert_close(
        hard_negative_clip_loss(image, text, image.new_zeros(8, 0, 16), 20.0, share_negatives=True), expected
    )


def test_hard_negative_loss_matches_explicit_formula():
    image, text = _emb(B=4, D=8, seed=2)
    g = torch.Generator().manual_seed(3)
    neg = F.normalize(torch.randn(4, 3, 8, generator=g, dtype=torch.float64), dim=-1)
    scale = 5.0
    i2t, t2i = [], []
    for i in range(4):
        candidates = torch.cat([text, neg[i]])  # the batch's texts, then image i's own negatives
        logits = scale * candidates @ image[i]
        i2t.append(-torch.log_softmax(logits, 0)[i])
        t2i.append(-torch.log_softmax(scale * image @ text[i], 0)[i])
    expected = (torch.stack(i2t).mean() + torch.stack(t2i).mean()) / 2
    torch.testing.assert_close(hard_negative_clip_loss(image, text, neg, scale), expected)
    # NegCLIP-style: every image sees all 12 negatives
    shared = []
    for i in range(4):
        logits = scale * torch.cat([text, neg.reshape(12, 8)]) @ image[i]
        shared.append(-torch.log_softmax(logits, 0)[i])
    expected_shared = (torch.stack(shared).mean() + torch.stack(t2i).mean()) / 2
    torch.testing.assert_close(hard_negative_clip_loss(image, text, neg, scale, share_negatives=True), expected_shared)
    # a single negative per image may be given as (B, D)
    torch.testing.assert_close(
        hard_negative_clip_loss(image, text, neg[:, 0], scale), hard_negative_clip_loss(image, text, neg[:, :1], scale)
    )


def test_hard_negative_loss_grows_as_a_negative_approaches_its_image():
    image, text = _emb(seed=4)
    g = torch.Generator().manual_seed(5)
    far = F.normalize(torch.randn(8, 1, 16, generator=g, dtype=torch.float64), dim=-1)
    base = clip_loss(image, text, 20.0)
    losses = []
    for t in (0.0, 0.5, 0.9):
        neg = F.normalize((1 - t) * far + t * image[:, None], dim=-1)  # slide negatives towards their images
        losses.append(hard_negative_clip_loss(image, text, neg, 20.0).item())
    assert base.item() < losses[0] < losses[1] < losses[2]


def test_gradients_flow_to_embeddings_and_scale():
    image, text = _emb()
    image, text = image.clone().requires_grad_(), text.clone().requires_grad_()
    neg = text.detach().flip(0).clone().requires_grad_()
    log_scale = torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-5.0, dtype=torch.float64, requires_grad=True)
    total = (
        clip_loss(image, text, log_scale.exp())
        + siglip_loss(image, text, log_scale.exp(), bias)
        + hard_negative_clip_loss(image, text, neg, log_scale.exp())
    )
    total.backward()
    for name, tensor in [("image", image), ("text", text), ("neg", neg), ("scale", log_scale), ("bias", bias)]:
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all(), name
        assert tensor.grad.abs().sum() > 0, name


def test_shape_errors_are_clear():
    image, text = _emb()
    with pytest.raises(ValueError, match=r"same shape"):
        clip_loss(image, text[:5], 10.0)
    with pytest.raises(ValueError, match=r"2-D"):
        siglip_loss(image[None], text[None], 10.0, -10.0)
    with pytest.raises(ValueError, match=r"scalar"):
        clip_loss(image, text, torch.ones(8))
    with pytest.raises(ValueError, match=r"logit_bias must be a scalar"):
        siglip_loss(image, text, 10.0, torch.zeros(2))
    with pytest.raises(ValueError, match=r"neg_text_emb must have shape \(B=8, K, D=16\)"):
        hard_negative_clip_loss(image, text, torch.zeros(7, 2, 16, dtype=torch.float64), 10.0)
    with pytest.raises(ValueError, match=r"neg_text_emb"):
        hard_negative_clip_loss(image, text, torch.zeros(8, 2, 15, dtype=torch.float64), 10.0)
