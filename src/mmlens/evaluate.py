"""Zero-shot classification and retrieval metrics for any open_clip-style model.

Every function here works on anything with ``encode_image`` / ``encode_text`` (our embedded
models, a real open_clip CLIP, a from-scratch model of the book), so chapters, the training
recipes and the benchmarks all report the same numbers the same way.

Example::

    model, preprocess, tokenizer = mmlens.load_model("tiny-clip")
    attribute_zero_shot(model, tokenizer, "colour", n=500)["accuracy"]   # ~0.99
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

# Prompt templates per attribute of the synthetic world; "{}" is the class name.
ATTRIBUTE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "colour": ("a {} object", "a photo of a {} object", "a {} shape"),
    "shape": ("a {}", "a photo of a {}", "a picture of a {}"),
    "size": ("a {} object", "a photo of a {} object", "a {} shape"),
}
ATTRIBUTES = tuple(ATTRIBUTE_TEMPLATES)


def fix_article(text: str) -> str:
    """"a orange object" -> "an orange object" (templates are written with "a")."""
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _default_preprocess(model: torch.nn.Module) -> Callable:
    """The inference transform open_clip attached to ``model`` (size, mean, std)."""
    from mmlens.zoo import make_preprocess

    return make_preprocess(model)


def _as_image_batch(images, preprocess: Callable | None) -> torch.Tensor:
    """Turn a tensor / list of PIL images / uint8 arrays into a (N, 3, H, W) model input."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"image tensor must be (N, 3, H, W) and already preprocessed, got {tuple(images.shape)}")
        return images if preprocess is None else torch.stack([preprocess(_to_pil(im)) for im in images])
    if preprocess is None:
        raise ValueError(
            "images are not a preprocessed tensor, so pass preprocess (the transform from mmlens.load_model)"
        )
    return torch.stack([preprocess(_to_pil(im)) for im in images])


def _to_pil(image):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, torch.Tensor):  # (3, H, W) float in [0, 1]
        image = (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected a PIL image or a uint8 (H, W, 3) array, got {image.dtype} {image.shape}")
    return Image.fromarray(image)


@torch.no_grad()
def encode_images(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """L2-normalised image embeddings ``(N, D)`` of a preprocessed batch ``(N, 3, H, W)``."""
    device = _model_device(model)
    out = [model.encode_image(images[i : i + batch_size].to(device), normalize=True) for i in range(0, len(images), batch_size)]
    return torch.cat(out).float().cpu()


@torch.no_grad()
def encode_texts(model: torch.nn.Module, tokenizer: Callable, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """L2-normalised text embeddings ``(N, D)`` of a list of strings."""
    device = _model_device(model)
    texts = list(texts)
    out = [model.encode_text(tokenizer(texts[i : i + batch_size]).to(device), normalize=True) for i in range(0, len(texts), batch_size)]
    return torch.cat(out).float().cpu()


@torch.no_grad()
def zero_shot_classifier(
    model: torch.nn.Module, tokenizer: Callable, class_names: Sequence[str], templates: Sequence[str]
) -> torch.Tensor:
    """One unit vector per class: the normalised mean of its prompt embeddings.

    Args:
        model: open_clip-style model.
        tokenizer: callable mapping a list of strings to token ids.
        class_names: e.g. ``["red", "green", ...]``.
        templates: prompt templates with one ``"{}"``, e.g. ``["a photo of a {} object"]``; "a" before a
            vowel becomes "an".

    Returns:
        Tensor ``(C, D)``.
    """
    if not class_names:
        raise ValueError("class_names is empty; pass at least two class names")
    templates = list(templates) or ["{}"]
    for t in templates:
        if "{}" not in t:
            raise ValueError(f"template {t!r} has no '{{}}' placeholder for the class name")
    prompts = [fix_article(t.format(c)) for c in class_names for t in templates]
    text_emb = encode_texts(model, tokenizer, prompts).view(len(class_names), len(templates), -1)  # (C, T, D)
    return F.normalize(text_emb.mean(dim=1), dim=-1)  # (C, D)


def _label_indices(labels, class_names: Sequence[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(class_names)}
    out = []
    for label in labels:
        if isinstance(label, str):
            if label not in index:
                raise ValueError(f"label {label!r} is not one of class_names {list(class_names)}")
            out.append(index[label])
        else:
            if not 0 <= int(label) < len(class_names):
                raise ValueError(f"label index {label} is out of range for {len(class_names)} classes")
            out.append(int(label))
    return torch.tensor(out, dtype=torch.long)


@torch.no_grad()
def zero_shot_predict(
    model: torch.nn.Module,
    tokenizer: Callable,
    preprocess: Callable | None,
    images,
    labels,
    class_names: Sequence[str],
    templates: Sequence[str],
) -> dict:
    """Zero-shot predictions with accuracy and confusion matrix.

    Args:
        model: open_clip-style model.
        tokenizer: its tokenizer.
        preprocess: image transform, or ``None`` when ``images`` is already a preprocessed tensor.
        images: tensor ``(N, 3, H, W)``, or a list of PIL images / uint8 arrays.
        labels: true class per image, as class names or indices.
        class_names: the classes to choose from.
        templates: prompt templates with ``"{}"``.

    Returns:
        A dict with ``"accuracy"`` (float), ``"predictions"`` and ``"labels"`` (LongTensor (N,)),
        ``"logits"`` (Tensor (N, C)), ``"confusion"`` (LongTensor (C, C), [true, predicted]) and
        ``"class_names"``.
    """
    x = _as_image_batch(images, preprocess)
    y = _label_indices(labels, class_names)
    if len(y) != len(x):
        raise ValueError(f"got {len(x)} images but {len(y)} labels; pass one label per image")
    classifier = zero_shot_classifier(model, tokenizer, class_names, templates)  # (C, D)
    logits = encode_images(model, x) @ classifier.T  # (N, C)
    preds = logits.argmax(dim=-1)
    n_classes = len(class_names)
    confusion = torch.bincount(y * n_classes + preds, minlength=n_classes * n_classes).view(n_classes, n_classes)
    return {
        "accuracy": (preds == y).float().mean().item(),
        "predictions": preds,
        "labels": y,
        "logits": logits,
        "confusion": confusion,
        "class_names": list(class_names),
    }


def zero_shot_accuracy(
    model: torch.nn.Module,
    tokenizer: Callable,
    preprocess: Callable | None,
    images,
    labels,
    class_names: Sequence[str],
    templates: Sequence[str],
) -> float:
    """Fraction of images whose best-matching class prompt is the true class (see :func:`zero_shot_predict`)."""
    return zero_shot_predict(model, tokenizer, preprocess, images, labels, class_names, templates)["accuracy"]


def make_attribute_test_set(attribute: str, n: int, seed: int = 0, split: str = "test"):
    """Single-object scenes and their ``attribute`` labels: ``(images uint8 (N, 64, 64, 3), labels, class_names)``."""
    from mmlens import data

    class_names = _class_names(attribute)
    scenes = data.make_scenes(n, seed=seed, n_objects=1, split=split)
    images = np.stack([data.render_scene(s, resolution=64).image for s in scenes])
    labels = [getattr(s.objects[0], attribute) for s in scenes]
    return images, labels, class_names


def _class_names(attribute: str) -> list[str]:
    from mmlens import data

    names = {"colour": data.COLOURS, "shape": data.SHAPES, "size": data.SIZES}
    if attribute not in names:
        raise ValueError(f"attribute must be one of {list(names)}, got {attribute!r}")
    return list(names[attribute])


def attribute_zero_shot(
    model: torch.nn.Module,
    tokenizer: Callable,
    attribute: str,
    n: int = 500,
    seed: int = 0,
    split: str = "test",
    preprocess: Callable | None = None,
    templates: Sequence[str] | None = None,
) -> dict:
    """Zero-shot accuracy for one attribute ("colour", "shape" or "size") on single-object scenes.

    Args:
        model, tokenizer: from :func:`mmlens.load_model`.
        attribute: which attribute to classify.
        n: number of scenes (``make_scenes(n, seed, n_objects=1, split=split)``).
        seed, split: which scenes.
        preprocess: image transform; default: the one open_clip attached to ``model``.
        templates: prompt templates; default ``ATTRIBUTE_TEMPLATES[attribute]``.

    Returns:
        :func:`zero_shot_predict`'s dict plus ``"attribute"`` and ``"n"``.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    images, labels, class_names = make_attribute_test_set(attribute, n, seed, split)
    preprocess = preprocess or _default_preprocess(model)
    templates = templates or ATTRIBUTE_TEMPLATES[attribute]
    out = zero_shot_predict(model, tokenizer, preprocess, list(images), labels, class_names, templates)
    return {**out, "attribute": attribute, "n": n}


def retrieval_recall(image_emb: torch.Tensor, text_emb: torch.Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Recall@K for text->image and image->text retrieval, one caption per image.

    Pair ``i`` (image ``i``, text ``i``) is the ground truth. Embeddings are L2-normalised here and
    compared by cosine similarity; a query counts as a hit at K when fewer than K candidates score
    strictly higher than its true partner.

    Args:
        image_emb: ``(N, D)``.
        text_emb: ``(N, D)``.
        ks: cut-offs.

    Returns:
        ``{"text_to_image@1": float, ..., "image_to_text@1": float, ...}``.
    """
    if image_emb.ndim != 2 or image_emb.shape != text_emb.shape:
        raise ValueError(
            f"image_emb and text_emb must both be (N, D) with the same shape, got {tuple(image_emb.shape)} "
            f"and {tuple(text_emb.shape)}"
        )
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {list(ks)}")
    sim = F.normalize(image_emb.float(), dim=-1) @ F.normalize(text_emb.float(), dim=-1).T  # (N_img, N_txt)
    true = sim.diagonal()
    rank_i2t = (sim > true[:, None]).sum(dim=1)  # (N,) texts scored above the true one, per image
    rank_t2i = (sim > true[None, :]).sum(dim=0)  # (N,) images scored above the true one, per text
    out = {}
    for direction, rank in (("text_to_image", rank_t2i), ("image_to_text", rank_i2t)):
        for k in ks:
            out[f"{direction}@{int(k)}"] = (rank < int(k)).float().mean().item()
    return out


def scene_retrieval(
    model: torch.nn.Module,
    tokenizer: Callable,
    n: int = 1000,
    seed: int = 0,
    split: str = "test",
    n_objects: int | tuple[int, int] = (2, 4),
    caption_kind: str | None = "objects",
    preprocess: Callable | None = None,
    ks: Sequence[int] = (1, 5, 10),
) -> dict:
    """Retrieval recalls on ``n`` synthetic test scenes, one caption per scene (:func:`retrieval_recall`).

    Args:
        model, tokenizer: from :func:`mmlens.load_model`.
        n, seed, split, n_objects: which scenes (``mmlens.data.make_scenes``).
        caption_kind: caption kind for ``make_caption`` ("objects" lists every object); ``None`` mixes kinds.
        preprocess: image transform; default: the one attached to ``model``.
        ks: recall cut-offs.

    Returns:
        The recall dict.
    """
    from mmlens.retrieval import make_gallery  # the one place that draws, captions and embeds a gallery

    gallery = make_gallery(model, preprocess or _default_preprocess(model), tokenizer, n=n, seed=seed,
                           split=split, n_objects=n_objects, caption_kind=caption_kind)
    return retrieval_recall(gallery.image_emb, gallery.text_emb, ks)


def evaluate_model(model: torch.nn.Module, tokenizer: Callable, n_zero_shot: int = 1000, n_retrieval: int = 1000, seed: int = 0) -> dict:
    """The book's standard report: zero-shot accuracy per attribute and retrieval recalls on test scenes."""
    model.eval()
    zero_shot = {a: attribute_zero_shot(model, tokenizer, a, n=n_zero_shot, seed=seed)["accuracy"] for a in ATTRIBUTES}
    return {
        "zero_shot_accuracy": zero_shot,
        "zero_shot_n": n_zero_shot,
        "retrieval": scene_retrieval(model, tokenizer, n=n_retrieval, seed=seed),
        "retrieval_n": n_retrieval,
    }
