"""What does each layer of the image encoder know? Linear probes, a logit lens and top-activating scenes.

Works on open_clip ``CLIP`` models with a ViT image tower (what :func:`mmlens.load_model` returns);
activations are read with :func:`mmlens.inspect.capture.run_with_cache`. Layers are named ``"embed"`` (the token embeddings after ``ln_pre``, the input of block 0) and
``"block 0"``, ``"block 1"``, ... (the residual stream after each block).

Example::

    model, preprocess, tokenizer = mmlens.load_model("tiny-clip")
    scenes = make_scenes(300, seed=0, n_objects=1)
    results = probe_model(model, scenes, attributes=("colour", "position"))
    results["colour"].test_accuracy            # one held-out accuracy per layer
    mmlens.viz.plot_layer_accuracy(results)
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "ATTRIBUTES",
    "make_scene_images",
    "scene_labels",
    "layer_activations",
    "ProbeResult",
    "LayerProbeResult",
    "train_probe",
    "probe_layers",
    "probe_model",
    "LogitLensResult",
    "logit_lens",
    "TopActivating",
    "unit_activations",
    "top_activating",
]

ATTRIBUTES = ("colour", "shape", "size", "position", "cell", "count")
_SITES = ("resid", "mlp")
_TOKENS = ("cls", "mean", "max", "all")
_CELL_NAMES = tuple(f"{row} {col}" for row in ("top", "middle", "bottom") for col in ("left", "centre", "right"))


# ---------------------------------------------------------------------------------------------------------------
# Inputs and labels


def _visual(model: torch.nn.Module) -> torch.nn.Module:
    visual = getattr(model, "visual", model)
    if not (hasattr(visual, "transformer") and hasattr(visual.transformer, "resblocks")):
        raise TypeError(
            f"{type(model).__name__} has no visual.transformer.resblocks; pass an open_clip CLIP with a ViT image "
            "encoder, e.g. from mmlens.load_model"
        )
    return visual


def make_scene_images(scenes: Sequence, model: torch.nn.Module | None = None, resolution: int | None = None,
                      mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> torch.Tensor:
    """Render scenes straight to a normalised model input ``(N, 3, H, W)``.

    Drawing at the model's own resolution matches ``preprocess(scene.render().pil())`` without a resize.

    Args:
        scenes: :class:`mmlens.data.Scene` objects.
        model: an open_clip model; gives the resolution and the mean/std of its ``preprocess_cfg``.
        resolution, mean, std: override (or replace, without a model) what the model says.
    """
    from mmlens.data import render_image

    scenes = list(scenes)
    if not scenes:
        raise ValueError("scenes is empty; make some with mmlens.data.make_scenes(n)")
    cfg = getattr(getattr(model, "visual", model), "preprocess_cfg", None) or {}
    if resolution is None:
        size = cfg.get("size", 64)
        resolution = size if isinstance(size, int) else size[0]
    mean = torch.tensor(mean if mean is not None else cfg.get("mean", (0.5, 0.5, 0.5)), dtype=torch.float32)
    std = torch.tensor(std if std is not None else cfg.get("std", (0.5, 0.5, 0.5)), dtype=torch.float32)
    pixels = np.stack([render_image(s, resolution=resolution) for s in scenes])  # (N, H, W, 3) uint8
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255  # (N, 3, H, W) in [0, 1]
    return (images - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def _cell(obj) -> int:
    row, col = min(int(obj.y * 3), 2), min(int(obj.x * 3), 2)
    return 3 * row + col


def scene_labels(scenes: Sequence, attribute: str, object_index: int | None = None) -> tuple[torch.Tensor, list[str]]:
    """Ground-truth labels of one attribute, as class indices.

    Args:
        scenes: :class:`mmlens.data.Scene` objects.
        attribute: ``"colour"``, ``"shape"``, ``"size"``, ``"position"`` (left or right half), ``"cell"``
            (3x3 grid cell, "top left" ... "bottom right") or ``"count"`` (number of objects).
        object_index: which object the per-object attributes describe; ``None`` requires one-object scenes
            (``make_scenes(n, n_objects=1)``), where the answer is unambiguous.

    Returns:
        ``(labels, class_names)``: LongTensor ``(N,)`` indexing into ``class_names``.
    """
    from mmlens.data import COLOURS, SHAPES, SIZES

    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; use one of {ATTRIBUTES}")
    scenes = list(scenes)
    if attribute == "count":
        counts = [len(s.objects) for s in scenes]
        names = [str(c) for c in range(min(counts), max(counts) + 1)] if counts else []
        return torch.tensor([c - min(counts) for c in counts], dtype=torch.long), names
    objects = []
    for i, s in enumerate(scenes):
        if object_index is None and len(s.objects) != 1:
            raise ValueError(
                f"scene {i} has {len(s.objects)} objects, so its {attribute} is ambiguous; use one-object scenes "
                "(make_scenes(n, n_objects=1)) or pass object_index"
            )
        k = object_index or 0
        if not -len(s.objects) <= k < len(s.objects):
            raise ValueError(f"object_index {k} is out of range for scene {i} with {len(s.objects)} objects")
        objects.append(s.objects[k])
    if attribute == "position":
        return torch.tensor([int(o.x >= 0.5) for o in objects], dtype=torch.long), ["left", "right"]
    if attribute == "cell":
        return torch.tensor([_cell(o) for o in objects], dtype=torch.long), list(_CELL_NAMES)
    names = {"colour": COLOURS, "shape": SHAPES, "size": SIZES}[attribute]
    index = {n: i for i, n in enumerate(names)}
    return torch.tensor([index[getattr(o, attribute)] for o in objects], dtype=torch.long), list(names)


def _as_images(images, model) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be a preprocessed tensor (N, 3, H, W), got shape {tuple(images.shape)}")
        return images
    return make_scene_images(images, model)


# ---------------------------------------------------------------------------------------------------------------
# Activations of every layer


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _capture(model: torch.nn.Module, images: torch.Tensor, site: str, batch_size: int) -> tuple[list[torch.Tensor], list[str]]:
    """Run the image encoder under :func:`~mmlens.inspect.capture.run_with_cache`, batch by batch.

    Returns per layer a tensor ``(N, T, D)`` (``T = 1 + n_patches``) and the layer names.
    """
    from mmlens.inspect.capture import hook_names, run_with_cache

    n_blocks = sum(n.startswith("vision.blocks.") and n.endswith(".resid_post") for n in hook_names(model))
    if site == "resid":  # "embed" is the input of block 0: the tokens after ln_pre
        hooks = ["vision.blocks.0.resid_pre"] + [f"vision.blocks.{i}.resid_post" for i in range(n_blocks)]
        names = ["embed"] + [f"block {i}" for i in range(n_blocks)]
    else:
        hooks = [f"vision.blocks.{i}.mlp.post" for i in range(n_blocks)]
        names = [f"block {i}" for i in range(n_blocks)]
    device = next(model.parameters()).device
    store: list[list[torch.Tensor]] = [[] for _ in hooks]
    with _eval_mode(model):
        for start in range(0, len(images), batch_size):
            _, cache = run_with_cache(model, images=images[start : start + batch_size].to(device), names=hooks)
            for slot, hook in zip(store, hooks):
                slot.append(cache[hook].float().cpu())  # (B, T, D)
    return [torch.cat(s) for s in store], names


def _select_token(x: torch.Tensor, token: str | int) -> torch.Tensor:
    """``(N, T, D)`` -> ``(N, D)`` (or unchanged for ``"all"``)."""
    if token == "cls":
        return x[:, 0]
    if token == "mean":
        return x[:, 1:].mean(1)  # patch tokens only: the class token is not part of the image
    if token == "max":
        return x.max(1).values
    if token == "all":
        return x
    if isinstance(token, int) and not isinstance(token, bool):
        if not -x.shape[1] <= token < x.shape[1]:
            raise ValueError(f"token index {token} is out of range for {x.shape[1]} tokens")
        return x[:, token]
    raise ValueError(f"unknown token {token!r}; use one of {_TOKENS} or a token position (int)")


def layer_activations(model: torch.nn.Module, images, site: str = "resid", token: str | int = "cls",
                      batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Activations of every layer of the image encoder, one row per image.

    Args:
        model: open_clip CLIP (or :class:`mmlens.models.CLIP`) with a ViT image encoder.
        images: preprocessed tensor ``(N, 3, H, W)`` or a list of scenes (rendered with :func:`make_scene_images`).
        site: ``"resid"`` (residual stream, width ``d_model``, layers ``"embed"``, ``"block 0"``, ...) or
            ``"mlp"`` (MLP hidden units after GELU, width ``mlp_ratio * d_model``, layers ``"block i"``).
        token: ``"cls"`` (class token), ``"mean"`` (mean over patch tokens), ``"max"`` (max over all tokens),
            ``"all"`` (keep ``(N, T, D)``), or a token position.
        batch_size: images per forward pass.

    Returns:
        ``{layer name: tensor (N, D)}`` in layer order (``(N, T, D)`` for ``token="all"``).
    """
    if site not in _SITES:
        raise ValueError(f"unknown site {site!r}; use one of {_SITES}")
    _select_token(torch.zeros(1, 2, 1), token)  # fail on a bad token before the forward pass
    images = _as_images(images, model)
    acts, names = _capture(model, images, site, batch_size)
    return {name: _select_token(a, token) for name, a in zip(names, acts)}


# ---------------------------------------------------------------------------------------------------------------
# Linear probes


@dataclass
class ProbeResult:
    """One linear probe: accuracies on its training and held-out points, and the majority-class baseline."""

    train_accuracy: float
    test_accuracy: float
    chance: float  # accuracy of always answering the most common training label, on the test points
    classifier: Any = field(repr=False)  # sklearn Pipeline(StandardScaler, LogisticRegression)


@dataclass
class LayerProbeResult:
    """Probes of one attribute on every layer: ``test_accuracy[i]`` is layer ``layers[i]``."""

    layers: list[str]
    test_accuracy: list[float]
    train_accuracy: list[float]
    chance: float
    attribute: str | None = None
    class_names: list[str] | None = None

    @property
    def best_layer(self) -> str:
        """Name of the layer with the highest test accuracy (the first one on ties)."""
        return self.layers[int(np.argmax(self.test_accuracy))]


def _split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(labels)
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(f"{n} examples are too few to split with test_fraction={test_fraction}; use more examples")
    _, counts = np.unique(labels, return_counts=True)
    # Stratify when every class can appear on both sides; rare classes make sklearn refuse.
    stratify = labels if counts.min() >= 2 and n_test >= len(counts) and n - n_test >= len(counts) else None
    return train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)


def _to_numpy(x, name: str) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D) features, got shape {x.shape}; pool tokens first (token='cls' or 'mean')")
    return x.astype(np.float64)


def _labels_numpy(labels, n: int) -> np.ndarray:
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"labels must be one per example, shape ({n},), got shape {y.shape}")
    if len(np.unique(y)) < 2:
        raise ValueError(f"labels take a single value {y[0]!r}; a probe needs at least two classes")
    return y


def _fit(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, C: float, seed: int) -> ProbeResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Standardising puts every unit on one scale, so C means the same on every layer.
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))
    clf.fit(x[train], y[train])
    values, counts = np.unique(y[train], return_counts=True)
    chance = float(np.mean(y[test] == values[np.argmax(counts)]))
    return ProbeResult(float(clf.score(x[train], y[train])), float(clf.score(x[test], y[test])), chance, clf)


def train_probe(features, labels, test_fraction: float = 0.3, seed: int = 0, C: float = 1.0) -> ProbeResult:
    """Fit a logistic-regression probe on a random split and report held-out accuracy.

    Args:
        features: ``(N, D)`` activations.
        labels: ``(N,)`` class of each example (ints or strings).
        test_fraction: share of examples held out (stratified when every class has two or more examples).
        seed: seed of the split and the solver.
        C: inverse L2 penalty of the logistic regression (smaller = simpler probe).
    """
    x = _to_numpy(features, "features")
    y = _labels_numpy(labels, len(x))
    train, test = _split(y, test_fraction, seed)
    return _fit(x, y, train, test, C, seed)


def probe_layers(activations: dict | Sequence, labels, test_fraction: float = 0.3, seed: int = 0, C: float = 1.0,
                 attribute: str | None = None, class_names: list[str] | None = None) -> LayerProbeResult:
    """A probe per layer, all on the same train/test split, so the curve over layers compares like with like.

    Args:
        activations: ``{layer name: (N, D)}`` from :func:`layer_activations`, or a list / tensor ``(L, N, D)``.
        labels: ``(N,)`` classes.
        test_fraction, seed, C: as in :func:`train_probe`.
        attribute, class_names: stored in the result for plots.
    """
    if isinstance(activations, dict):
        names, acts = list(activations), list(activations.values())
    else:
        acts = list(activations)
        names = [str(i) for i in range(len(acts))]
    if not acts:
        raise ValueError("activations is empty; pass one (N, D) tensor per layer")
    xs = [_to_numpy(a, f"activations[{n!r}]") for n, a in zip(names, acts)]
    y = _labels_numpy(labels, len(xs[0]))
    for n, x in zip(names, xs):
        if len(x) != len(y):
            raise ValueError(f"layer {n!r} has {len(x)} rows but there are {len(y)} labels")
    train, test = _split(y, test_fraction, seed)
    fits = [_fit(x, y, train, test, C, seed) for x in xs]
    return LayerProbeResult(names, [f.test_accuracy for f in fits], [f.train_accuracy for f in fits], fits[0].chance,
                            attribute, class_names)


def probe_model(model: torch.nn.Module, scenes: Sequence, attributes: Sequence[str] = ("colour", "shape", "size", "position"),
                token: str | int = "cls", site: str = "resid", test_fraction: float = 0.3, seed: int = 0,
                C: float = 1.0, object_index: int | None = None) -> dict[str, LayerProbeResult]:
    """Probe every layer of the image encoder for each attribute of the scenes.

    Args:
        model: open_clip CLIP with a ViT image encoder.
        scenes: scenes from :func:`mmlens.data.make_scenes` (one object each for per-object attributes,
            unless ``object_index`` is given; any number of objects for ``"count"``).
        attributes: names from :data:`ATTRIBUTES`.
        token, site: which activations (see :func:`layer_activations`).
        test_fraction, seed, C: as in :func:`train_probe`.
        object_index: see :func:`scene_labels`.

    Returns:
        ``{attribute: LayerProbeResult}``.
    """
    scenes = list(scenes)
    labelled = {a: scene_labels(scenes, a, object_index) for a in attributes}  # fail before the forward pass
    acts = layer_activations(model, scenes, site=site, token=token)
    return {a: probe_layers(acts, y, test_fraction, seed, C, attribute=a, class_names=names)
            for a, (y, names) in labelled.items()}


# ---------------------------------------------------------------------------------------------------------------
# Logit lens


@dataclass
class LogitLensResult:
    """Zero-shot read-out of every layer: ``predictions[i]`` and ``accuracy[i]`` belong to ``layers[i]``."""

    layers: list[str]
    logits: torch.Tensor  # (L, N, C) scaled cosines, as the model's own logits
    predictions: torch.Tensor  # (L, N) argmax class per layer and image
    accuracy: list[float] | None  # None when no labels were given


def _read_out(visual: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the encoder would output if ``x`` ``(N, T, D)`` were the last residual stream: pool, ln_post, proj."""
    if getattr(visual, "attn_pool", None) is not None:
        raise ValueError("the logit lens reads the class token; this image encoder pools with attention (CoCa)")
    pool_type = getattr(visual, "pool_type", "tok")
    if pool_type == "tok":
        # LayerNorm acts on each token alone: normalising all tokens and taking the first is ln_post(x[:, 0]).
        pooled = visual.ln_post(x[:, 0])  # (N, D)
    elif pool_type == "avg":
        patches = x[:, 1:]
        pooled = visual.ln_post(patches.mean(1)) if visual.final_ln_after_pool else visual.ln_post(patches).mean(1)
    else:
        raise ValueError(f"the logit lens needs a pooled token; this encoder has pool_type={pool_type!r}")
    return pooled @ visual.proj if visual.proj is not None else pooled  # (N, E)


def logit_lens(model: torch.nn.Module, images, text_emb: torch.Tensor, labels=None,
               batch_size: int = 64) -> LogitLensResult:
    """The logit lens for CLIP: read every layer's class token through the final ``ln_post`` and ``proj``.

    Each layer's class token is treated as if the encoder ended there, projected into the joint space and
    compared with the class prompts' text embeddings. At the last layer this *is* the image embedding, so
    the predictions equal the model's own zero-shot predictions.

    Args:
        model: open_clip CLIP with a ViT image encoder.
        images: preprocessed tensor ``(N, 3, H, W)`` or a list of scenes.
        text_emb: ``(C, E)`` one embedding per class, e.g. ``mmlens.evaluate.zero_shot_classifier(...)``.
        labels: optional ``(N,)`` true class indices, for accuracy.
        batch_size: images per forward pass.

    Returns:
        :class:`LogitLensResult` with layers ``"embed"``, ``"block 0"``, ..., one accuracy per layer.
    """
    visual = _visual(model)
    text_emb = torch.as_tensor(text_emb).detach().float().cpu()
    if text_emb.ndim != 2 or text_emb.shape[1] != _output_dim(visual):
        raise ValueError(
            f"text_emb must be (C, {_output_dim(visual)}) class embeddings in the joint space, got shape "
            f"{tuple(text_emb.shape)}; build it with mmlens.evaluate.zero_shot_classifier"
        )
    images = _as_images(images, model)
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), one class index per image, got {tuple(labels.shape)}")
    streams, names = _capture(model, images, "resid", batch_size)
    text_emb = F.normalize(text_emb, dim=-1)
    scale = model.logit_scale.exp().item() if hasattr(model, "logit_scale") else 1.0
    logits = []
    with torch.no_grad():
        param = next(visual.parameters())
        for x in streams:  # x: (N, T, D) on the CPU
            outs = [_read_out(visual, x[i : i + batch_size].to(param.device, param.dtype)).float().cpu()
                    for i in range(0, len(x), batch_size)]
            logits.append(scale * F.normalize(torch.cat(outs), dim=-1) @ text_emb.T)  # (N, C)
    logits = torch.stack(logits)  # (L, N, C)
    predictions = logits.argmax(-1)  # (L, N)
    accuracy = None if labels is None else [float((p == labels).float().mean()) for p in predictions]
    return LogitLensResult(names, logits, predictions, accuracy)


def _output_dim(visual: torch.nn.Module) -> int:
    return visual.proj.shape[1] if getattr(visual, "proj", None) is not None else visual.output_dim


# ---------------------------------------------------------------------------------------------------------------
# Top-activating scenes


@dataclass
class TopActivating:
    """The ``k`` inputs that drive a unit most: ``indices`` into the input list, ``values`` descending."""

    indices: torch.Tensor  # (k,)
    values: torch.Tensor  # (k,)


def _layer_index(layer: int | str, names: list[str]) -> int:
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"unknown layer {layer!r}; layers are {names}")
        return names.index(layer)
    n_blocks = sum(n.startswith("block") for n in names)
    if not -n_blocks <= layer < n_blocks:
        raise ValueError(f"layer {layer} is out of range for {n_blocks} blocks; use 0..{n_blocks - 1} (or negative)")
    return names.index(f"block {layer % n_blocks}")


def unit_activations(model: torch.nn.Module, images, layer: int | str, unit: int, site: str = "resid",
                     token: str | int = "cls", batch_size: int = 64) -> torch.Tensor:
    """One unit's activation on every image, shape ``(N,)``.

    Args:
        model: open_clip CLIP with a ViT image encoder.
        images: preprocessed tensor ``(N, 3, H, W)`` or a list of scenes.
        layer: block index (output of that block; negative counts from the end) or a layer name (``"embed"``).
        unit: residual-stream dimension (``site="resid"``) or MLP neuron (``site="mlp"``).
        site, token: see :func:`layer_activations` (``token="max"`` asks "does it fire anywhere in the image?").
    """
    if token == "all":
        raise ValueError("token='all' gives one value per token; pick 'cls', 'mean', 'max' or a position")
    acts = layer_activations(model, images, site=site, token=token, batch_size=batch_size)
    x = acts[list(acts)[_layer_index(layer, list(acts))]]  # (N, D)
    if not -x.shape[1] <= unit < x.shape[1]:
        raise ValueError(f"unit {unit} is out of range: {site} at this layer has {x.shape[1]} units")
    return x[:, unit]


def top_activating(model: torch.nn.Module, images, layer: int | str, unit: int, k: int = 9, site: str = "resid",
                   token: str | int = "cls", batch_size: int = 64) -> TopActivating:
    """The ``k`` images (or scenes) on which a unit is most active, highest first.

    Args:
        model, images, layer, unit, site, token: see :func:`unit_activations`.
        k: how many to return (at most the number of images).

    Returns:
        :class:`TopActivating` with ``indices`` into ``images`` and their activation ``values``.
    """
    values = unit_activations(model, images, layer, unit, site, token, batch_size)
    if not 1 <= k <= len(values):
        raise ValueError(f"k must be between 1 and the number of images ({len(values)}), got {k}")
    top = values.topk(k)
    return TopActivating(top.indices, top.values)
