"""Contrastive losses for image-text models: CLIP's InfoNCE, SigLIP's sigmoid loss, hard negatives.

All functions take embeddings that are already L2-normalised (what ``model(images, tokens)``
returns, as in open_clip) and the *exponentiated* ``logit_scale`` (``model.logit_scale.exp()``,
the third output of ``forward``). Row ``i`` of ``image_emb`` and row ``i`` of ``text_emb`` are a
matching pair; every other row of the batch is a negative.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _check_pair(image_emb: torch.Tensor, text_emb: torch.Tensor) -> None:
    if image_emb.ndim != 2 or text_emb.ndim != 2:
        raise ValueError(
            f"image_emb and text_emb must be 2-D (B, D), got shapes {tuple(image_emb.shape)} and "
            f"{tuple(text_emb.shape)}; flatten extra dimensions first"
        )
    if image_emb.shape != text_emb.shape:
        raise ValueError(
            f"image_emb {tuple(image_emb.shape)} and text_emb {tuple(text_emb.shape)} must have the same shape "
            "(B, D): row i of each is a matching pair"
        )


def _check_scalar(name: str, value: torch.Tensor | float) -> None:
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")


def clip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP): cross-entropy over texts for each image and over images for each text.

    ``logits = logit_scale * image_emb @ text_emb.T (+ logit_bias)``; the target of row ``i`` is
    column ``i``; the loss is the mean of the image->text and text->image cross-entropies.
    Equals ``open_clip.ClipLoss()(image_emb, text_emb, logit_scale)`` on one process.

    Args:
        image_emb: ``(B, D)`` normalised image embeddings.
        text_emb: ``(B, D)`` normalised text embeddings, row ``i`` describing image ``i``.
        logit_scale: exponentiated scale (inverse temperature), scalar.
        logit_bias: optional scalar added to every logit.

    Returns:
        Scalar loss.
    """
    _check_pair(image_emb, text_emb)
    _check_scalar("logit_scale", logit_scale)
    logits_per_image = logit_scale * image_emb @ text_emb.T  # (B, B): row i = image i against every text
    if logit_bias is not None:
        logits_per_image = logits_per_image + logit_bias
    labels = torch.arange(image_emb.shape[0], device=image_emb.device)  # (B,) the diagonal
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)) / 2


def siglip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float,
) -> torch.Tensor:
    """Sigmoid loss (SigLIP): every image-text pair is an independent binary "match?" question.

    ``logits = logit_scale * image_emb @ text_emb.T + logit_bias`` and labels are ``+1`` on the
    diagonal, ``-1`` elsewhere; the loss is ``-sum(log sigmoid(labels * logits)) / B`` (summed over
    all ``B*B`` pairs, divided by the batch size), as ``open_clip.SigLipLoss`` on one process.

    Args:
        image_emb: ``(B, D)`` normalised image embeddings.
        text_emb: ``(B, D)`` normalised text embeddings.
        logit_scale: exponentiated scale, scalar.
        logit_bias: scalar bias (SigLIP initialises it at -10 so most pairs start as "no match").

    Returns:
        Scalar loss.
    """
    _check_pair(image_emb, text_emb)
    _check_scalar("logit_scale", logit_scale)
    _check_scalar("logit_bias", logit_bias)
    B = image_emb.shape[0]
    logits = logit_scale * image_emb @ text_emb.T + logit_bias  # (B, B)
    labels = 2 * torch.eye(B, device=logits.device, dtype=logits.dtype) - 1  # (B, B): +1 diagonal, -1 off
    return -F.logsigmoid(labels * logits).sum() / B


def hard_negative_clip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    neg_text_emb: torch.Tensor | None,
    logit_scale: torch.Tensor | float,
    share_negatives: bool = False,
) -> torch.Tensor:
    """CLIP loss whose image->text side also has to reject hard-negative captions.

    What it computes, with ``B`` pairs, ``K`` negatives per image and width ``D``:

    * ``logits_batch = logit_scale * image_emb @ text_emb.T`` — ``(B, B)``, as in :func:`clip_loss`;
    * ``logits_neg[i, k] = logit_scale * image_emb[i] . neg_text_emb[i, k]`` — ``(B, K)``: each
      image against **its own** negatives (e.g. its caption with two words swapped);
      with ``share_negatives=True`` instead every image sees all ``B*K`` negatives,
      ``(B, B*K)``, as in NegCLIP (Yuksekgonul et al., 2023);
    * image->text loss: cross-entropy over the concatenated row ``[logits_batch | logits_neg]``
      (``B + K`` or ``B + B*K`` columns), target column ``i``;
    * text->image loss: the ordinary cross-entropy over ``logits_batch.T`` (a negative caption has
      no image of its own, so it is not a query);
    * result: the mean of the two.

    With ``K = 0`` (``neg_text_emb`` of shape ``(B, 0, D)`` or ``None``) this is exactly
    :func:`clip_loss`. Adding negatives can only raise the image->text term, and raises it more the
    closer a negative is to its image.

    Args:
        image_emb: ``(B, D)`` normalised image embeddings.
        text_emb: ``(B, D)`` normalised embeddings of the true captions.
        neg_text_emb: ``(B, K, D)`` (or ``(B, D)`` for ``K = 1``) normalised embeddings of hard-negative
            captions, row ``i`` belonging to image ``i``; ``None`` for none.
        logit_scale: exponentiated scale, scalar.
        share_negatives: let every image see every image's negatives (NegCLIP) instead of its own only.

    Returns:
        Scalar loss.
    """
    _check_pair(image_emb, text_emb)
    _check_scalar("logit_scale", logit_scale)
    B, D = image_emb.shape
    if neg_text_emb is None:
        neg_text_emb = image_emb.new_zeros(B, 0, D)
    if neg_text_emb.ndim == 2:
        neg_text_emb = neg_text_emb[:, None, :]  # (B, 1, D)
    if neg_text_emb.ndim != 3 or neg_text_emb.shape[0] != B or neg_text_emb.shape[2] != D:
        raise ValueError(
            f"neg_text_emb must have shape (B={B}, K, D={D}) or (B, D), got {tuple(neg_text_emb.shape)}"
        )
    logits_batch = logit_scale * image_emb @ text_emb.T  # (B, B)
    if share_negatives:
        all_neg = neg_text_emb.reshape(-1, D)  # (B*K, D)
        logits_neg = logit_scale * image_emb @ all_neg.T  # (B, B*K)
    else:
        logits_neg = logit_scale * torch.einsum("bd,bkd->bk", image_emb, neg_text_emb)  # (B, K)
    labels = torch.arange(B, device=image_emb.device)  # (B,)
    loss_i2t = F.cross_entropy(torch.cat([logits_batch, logits_neg], dim=1), labels)  # over B + K columns
    loss_t2i = F.cross_entropy(logits_batch.T, labels)
    return (loss_i2t + loss_t2i) / 2


class ClipLoss(nn.Module):
    """:func:`clip_loss` as a module, with open_clip's ``ClipLoss`` call signature (single process)."""

    def forward(
        self,
        image_features: torch.Tensor,
        text_features: torch.Tensor,
        logit_scale: torch.Tensor | float,
        logit_bias: torch.Tensor | float | None = None,
    ) -> torch.Tensor:
        """See :func:`clip_loss`."""
        return clip_loss(image_features, text_features, logit_scale, logit_bias)


class SigLipLoss(nn.Module):
    """:func:`siglip_loss` as a module, with open_clip's ``SigLipLoss`` call signature (single process)."""

    def forward(
        self,
        image_features: torch.Tensor,
        text_features: torch.Tensor,
        logit_scale: torch.Tensor | float,
        logit_bias: torch.Tensor | float,
    ) -> torch.Tensor:
        """See :func:`siglip_loss`."""
        return siglip_loss(image_features, text_features, logit_scale, logit_bias)
