"""Experiments on a shared image-text embedding space: one-line summaries and shifting the modality gap.

Builds on :mod:`mmlens.inspect.embedding` (the measurements themselves). Liang et al. 2022 close the
modality gap by moving every image embedding by ``-amount / 2`` times the gap vector and every text
embedding by ``+amount / 2`` times it, then renormalising; :func:`shift_modalities` does exactly that,
and :func:`gap_shift_sweep` re-measures retrieval and zero-shot accuracy for a range of amounts.

>>> import torch
>>> from mmlens.inspect.space import shift_modalities
>>> image_emb, text_emb = torch.randn(50, 8) + 2, torch.randn(50, 8) - 2
>>> image_shifted, text_shifted = shift_modalities(image_emb, text_emb, amount=1.0)
>>> image_shifted.shape
torch.Size([50, 8])
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from mmlens.inspect.embedding import (
    alignment,
    modality_gap,
    modality_gap_vector,
    modality_separability,
    uniformity,
)

__all__ = ["space_summary", "shift_modalities", "gap_shift_sweep", "make_untrained_model"]


def _unit(x, name: str) -> torch.Tensor:
    """A float32 ``(N, D)`` tensor of unit rows."""
    t = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if t.ndim != 2 or len(t) == 0:
        raise ValueError(f"{name} must be a non-empty (N, D) array, got shape {tuple(t.shape)}")
    return F.normalize(t.float(), dim=-1)


def space_summary(image_emb, text_emb, seed: int = 0) -> dict[str, float]:
    """The measurements of this chapter for one set of matched image-caption embeddings.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(N, D)`` embeddings of their captions, row i describing image i.
        seed: seed of the separability classifier's split.

    Returns:
        ``{"gap", "separability", "alignment", "uniformity_image", "uniformity_text",
        "mean_pair_cosine", "mean_cross_cosine"}``: centroid distance, held-out accuracy of an
        image-vs-text linear classifier, Wang & Isola's alignment and uniformity (each modality on its own),
        the mean cosine of matched pairs and of all image-text pairs.
    """
    image, text = _unit(image_emb, "image_emb"), _unit(text_emb, "text_emb")
    if image.shape != text.shape:
        raise ValueError(
            f"image_emb and text_emb must be matched pairs of one shape, got {tuple(image.shape)} and "
            f"{tuple(text.shape)}"
        )
    cos = image @ text.T  # (N, N)
    return {
        "gap": modality_gap(image, text),
        "separability": modality_separability(image, text, seed=seed),
        "alignment": alignment(image, text),
        "uniformity_image": uniformity(image),
        "uniformity_text": uniformity(text),
        "mean_pair_cosine": float(cos.diagonal().mean()),
        "mean_cross_cosine": float(cos.mean()),
    }


def shift_modalities(image_emb, text_emb, amount: float = 1.0, gap=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Move images and texts towards each other along the gap vector, then back onto the sphere.

    ``image' = normalize(image - amount / 2 * gap)``, ``text' = normalize(text + amount / 2 * gap)``,
    with ``gap = mean(image) - mean(text)`` of the unit embeddings. ``amount = 1`` makes the centroids
    meet (before renormalising), ``0`` changes nothing, negative values widen the gap.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(M, D)`` text embeddings.
        amount: how far to move, as a fraction of the gap.
        gap: ``(D,)`` gap vector to use (e.g. one measured on other data); default: measured on these.

    Returns:
        ``(image_shifted (N, D), text_shifted (M, D))``, unit rows.
    """
    image, text = _unit(image_emb, "image_emb"), _unit(text_emb, "text_emb")
    if image.shape[1] != text.shape[1]:
        raise ValueError(f"image_emb and text_emb have widths {image.shape[1]} and {text.shape[1]}; they must match")
    gap = modality_gap_vector(image, text) if gap is None else torch.as_tensor(gap).float().flatten()
    if gap.shape != (image.shape[1],):
        raise ValueError(f"gap must have shape ({image.shape[1]},), got {tuple(gap.shape)}")
    half = 0.5 * float(amount) * gap  # (D,)
    return F.normalize(image - half, dim=-1), F.normalize(text + half, dim=-1)


def gap_shift_sweep(
    image_emb,
    text_emb,
    amounts: Sequence[float],
    class_emb=None,
    labels=None,
) -> dict[str, list[float]]:
    """Shift the modality gap by each amount and re-measure the space, retrieval and zero-shot accuracy.

    The gap vector is measured once on ``(image_emb, text_emb)`` and applied to every text embedding,
    class prompts included, as Liang et al. do.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(N, D)`` their captions (row i describes image i).
        amounts: shifts to try (:func:`shift_modalities`); include 0 for the unchanged model.
        class_emb: optional ``(C, D)`` zero-shot class embeddings (e.g. :func:`mmlens.evaluate.zero_shot_classifier`).
        labels: ``(N,)`` true class index of each image; required with ``class_emb``.

    Returns:
        ``{"amount", "gap", "retrieval@1", "zero_shot"}``, lists aligned with ``amounts``: the centroid
        distance after the shift, mean of image->text and text->image recall@1, and zero-shot accuracy
        (absent without ``class_emb``).
    """
    from mmlens.evaluate import retrieval_recall

    image, text = _unit(image_emb, "image_emb"), _unit(text_emb, "text_emb")
    if image.shape != text.shape:
        raise ValueError(f"image_emb and text_emb must be matched pairs, got {tuple(image.shape)} and {tuple(text.shape)}")
    amounts = [float(a) for a in amounts]
    if not amounts:
        raise ValueError("amounts is empty; pass shifts such as [0.0, 0.5, 1.0]")
    if (class_emb is None) != (labels is None):
        raise ValueError("pass class_emb and labels together (zero-shot accuracy needs both), or neither")
    if class_emb is not None:
        classes = _unit(class_emb, "class_emb")
        labels = torch.as_tensor(labels).long().flatten()
        if len(labels) != len(image):
            raise ValueError(f"labels has {len(labels)} entries for {len(image)} images; give one per image")
        if labels.min() < 0 or labels.max() >= len(classes):
            raise ValueError(f"labels must index the {len(classes)} classes, got values {int(labels.min())}..{int(labels.max())}")
    gap = modality_gap_vector(image, text)
    out: dict[str, list[float]] = {"amount": amounts, "gap": [], "retrieval@1": []}
    if class_emb is not None:
        out["zero_shot"] = []
    for amount in amounts:
        image_s, text_s = shift_modalities(image, text, amount, gap)
        out["gap"].append(modality_gap(image_s, text_s))
        recall = retrieval_recall(image_s, text_s, ks=(1,))
        out["retrieval@1"].append(0.5 * (recall["image_to_text@1"] + recall["text_to_image@1"]))
        if class_emb is not None:
            _, classes_s = shift_modalities(image, classes, amount, gap)
            preds = (image_s @ classes_s.T).argmax(dim=1)
            out["zero_shot"].append(float((preds == labels).float().mean()))
    return out


def make_untrained_model(name: str | None = None, seed: int = 0):
    """The architecture of ``name`` with fresh random weights: the "before training" twin of a model.

    Args:
        name: what :func:`mmlens.load_model` accepts (an embedded model, ``"ARCH:PRETRAINED"`` or ``"ARCH"``);
            ``None``: ``$MMLENS_MODEL``, else ``"tiny-clip"``, as in ``load_model()``.
        seed: seed of the initialisation (the global torch generator is left as it was).

    Returns:
        ``(model, preprocess, tokenizer)`` like :func:`mmlens.load_model`, the model in eval mode.
    """
    import os

    from mmlens import zoo

    name = (name or os.environ.get(zoo.ENV_VAR) or zoo.DEFAULT_MODEL).strip()
    arch = zoo.EMBEDDED_MODELS[name].arch if name in zoo.EMBEDDED_MODELS else name.partition(":")[0]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return zoo.load_model(arch)
