"""Compare saliency methods on the same scenes, scored against the synthetic world's true masks.

A :class:`LocalisationSet` pairs rendered scenes with texts that name one object each, and keeps
that object's mask (the *target*) and the other objects' masks (the *distractors*). On one-object
scenes the question is "does the map find the object?"; on scenes with several objects, each named
in turn, it is "does the map find the object the text names, rather than any object?". A map that
ignores the text gives the same answer whichever object is named, so it can be right for only one.

Example::

    pairs = make_localisation_set(30, n_objects=2)        # 60 image-text pairs
    images, tokens = pairs.images(preprocess), tokenizer(pairs.texts)
    maps = {m: make_map(m, model, images, tokens) for m in METHODS}
    print(format_score_table(score_methods(maps, pairs.targets, pairs.distractors)))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from mmlens.data import make_scenes, render_scene
from mmlens.data.render import RenderedScene
from mmlens.inspect.localisation import _roc_auc, _to_map, _to_mask, map_auc, pointing_game, topk_iou

DEFAULT_TEMPLATE = "a photo of a {colour} {shape}"


@dataclass
class LocalisationSet:
    """Image-text pairs, each text naming one object of its scene.

    Attributes:
        rendered: one :class:`~mmlens.data.render.RenderedScene` per pair (a scene whose objects are
            named in turn appears once per object).
        texts: the text of each pair.
        targets: bool ``(H, W)`` mask of the named object, one per pair.
        distractors: bool ``(K, H, W)`` masks of the other objects, one per pair (``K = 0`` on
            one-object scenes).
        named: index of the named object in its scene, one per pair.
    """

    rendered: list[RenderedScene]
    texts: list[str]
    targets: list[np.ndarray]
    distractors: list[np.ndarray]
    named: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def images(self, preprocess: Callable) -> torch.Tensor:
        """``(N, 3, H, W)``: every pair's image through the model's ``preprocess`` (PIL -> tensor)."""
        cache: dict[int, torch.Tensor] = {}
        out = []
        for r in self.rendered:
            if id(r) not in cache:  # a scene named several times is preprocessed once
                cache[id(r)] = preprocess(r.pil())
            out.append(cache[id(r)])
        return torch.stack(out)

    @property
    def has_distractors(self) -> bool:
        """Whether any pair has other objects besides the named one."""
        return any(len(d) for d in self.distractors)


def _text(template: str, obj) -> str:
    from mmlens.evaluate import fix_article

    return fix_article(template.format(colour=obj.colour, shape=obj.shape, size=obj.size))


def make_localisation_set(
    n_scenes: int,
    n_objects: int = 1,
    seed: int = 0,
    split: str = "test",
    template: str = DEFAULT_TEMPLATE,
    resolution: int = 64,
) -> LocalisationSet:
    """Scenes with ``n_objects`` objects, each object named in turn by ``template``.

    With two objects or more, only scenes whose objects differ pairwise in colour *and* shape are
    kept, so that the text singles out its object by either word.

    Args:
        n_scenes: scenes to keep (the set has ``n_scenes * n_objects`` pairs).
        n_objects: objects per scene (1 to 4).
        seed: scene seed.
        split: ``"train"``, ``"val"`` or ``"test"``.
        template: text with ``{colour}``, ``{shape}`` and/or ``{size}`` fields.
        resolution: pixels per side of the rendered images and masks.

    Returns:
        A :class:`LocalisationSet`.
    """
    if not isinstance(n_scenes, int) or n_scenes < 1:
        raise ValueError(f"n_scenes={n_scenes!r} must be a positive int")
    if not isinstance(n_objects, int) or not 1 <= n_objects <= 4:
        raise ValueError(f"n_objects={n_objects!r} must be an int from 1 to 4")
    if not any(f"{{{k}}}" in template for k in ("colour", "shape", "size")):
        raise ValueError(f"template {template!r} names no attribute; use {{colour}}, {{shape}} or {{size}}")
    candidates = make_scenes(n_scenes * 4 ** (n_objects - 1), seed=seed, n_objects=n_objects, split=split)
    kept = []
    for scene in candidates:
        objs = scene.objects
        if len({o.colour for o in objs}) == len(objs) and len({o.shape for o in objs}) == len(objs):
            kept.append(scene)
        if len(kept) == n_scenes:
            break
    if len(kept) < n_scenes:
        raise ValueError(f"found only {len(kept)} of {n_scenes} scenes with {n_objects} distinct objects; "
                         "ask for fewer scenes or fewer objects")
    rendered, texts, targets, distractors, named = [], [], [], [], []
    for scene in kept:
        r = render_scene(scene, resolution=resolution)
        for k, obj in enumerate(scene.objects):
            rendered.append(r)
            texts.append(_text(template, obj))
            targets.append(r.masks[k])
            distractors.append(np.delete(r.masks, k, axis=0))  # (K - 1, H, W)
            named.append(k)
    return LocalisationSet(rendered, texts, targets, distractors, named)


def contrast_map(rendered: Sequence[RenderedScene]) -> np.ndarray:
    """A baseline that needs no model: each pixel's colour distance from the scene's background.

    On a plain background it lights up every object, and only objects, whatever the text says: the
    score any text-blind "find the foreground" method can reach.

    Args:
        rendered: rendered scenes.

    Returns:
        ``[N, H, W]`` float maps at the images' resolution.
    """
    rendered = list(rendered)
    if not rendered or not all(isinstance(r, RenderedScene) for r in rendered):
        raise ValueError("contrast_map needs a non-empty sequence of RenderedScene (from render_scene)")
    return np.stack([np.abs(r.image.astype(float) - np.asarray(r.scene.background, dtype=float)).sum(-1)
                     for r in rendered])


# ----------------------------------------------------------------------------------------------
# Scores


def selectivity_auc(saliency, target, distractors) -> float:
    """Among object pixels only: ROC-AUC of the map for "this pixel is the named object".

    1 when every pixel of the named object outscores every pixel of the other objects, 0.5 when
    the map cannot tell them apart, whatever it does on the background.

    Args:
        saliency: ``(h, w)`` map (upsampled to the masks' size if smaller).
        target: ``(H, W)`` mask of the named object.
        distractors: ``(H, W)`` or ``(K, H, W)`` masks of the other objects.

    Returns:
        AUC in ``[0, 1]``.
    """
    target, other = _to_mask(target), _to_mask(distractors)
    if target.shape != other.shape:
        raise ValueError(f"target {target.shape} and distractors {other.shape} must have the same (H, W)")
    other = other & ~target
    if not target.any() or not other.any():
        raise ValueError("selectivity needs pixels of the named object and of another object; "
                         "use one-object scores (score_maps) for one-object scenes")
    s = _to_map(saliency, target.shape)
    keep = target | other
    return _roc_auc(target[keep], s[keep])


def score_methods(
    maps: Mapping[str, torch.Tensor | np.ndarray],
    targets: Sequence[np.ndarray],
    distractors: Sequence[np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Localisation scores of several methods' maps on the same pairs (one row per method).

    Args:
        maps: method name -> ``[N, h, w]`` maps, one per pair.
        targets: ``N`` masks ``(H, W)`` of the object each map should find.
        distractors: ``N`` masks ``(K, H, W)`` of the other objects, or ``None`` (one-object scenes).

    Returns:
        ``{method: {"pointing", "auc", "iou", "n"}}`` (as :func:`~mmlens.inspect.score_maps`); with distractors, also ``"pointing_other"``
        (the map's maximum lies on another object) and ``"selectivity"``
        (:func:`selectivity_auc`, 0.5 = blind to which object the text names).
    """
    if not maps:
        raise ValueError("maps is empty; pass {method_name: maps}")
    targets = list(targets)
    use_other = distractors is not None and any(len(d) for d in distractors)
    if distractors is not None and len(distractors) != len(targets):
        raise ValueError(f"got {len(distractors)} distractor masks for {len(targets)} targets; pass one per pair")
    table = {}
    for method, method_maps in maps.items():
        method_maps = list(method_maps)
        if len(method_maps) != len(targets):
            raise ValueError(f"method {method!r} has {len(method_maps)} maps for {len(targets)} targets; "
                             "pass one map per pair")
        row = {
            "pointing": float(np.mean([pointing_game(s, t) for s, t in zip(method_maps, targets)])),
            "auc": float(np.mean([map_auc(s, t) for s, t in zip(method_maps, targets)])),
            "iou": float(np.mean([topk_iou(s, t) for s, t in zip(method_maps, targets)])),
            "n": len(method_maps),
        }
        if use_other:
            pairs = [(s, d) for s, d in zip(method_maps, distractors) if len(d)]
            row["pointing_other"] = float(np.mean([pointing_game(s, d) for s, d in pairs]))
            row["selectivity"] = float(np.mean([selectivity_auc(s, t, d)
                                                for s, t, d in zip(method_maps, targets, distractors) if len(d)]))
        table[method] = row
    return table


def format_score_table(table: Mapping[str, Mapping[str, float]], columns: Sequence[str] | None = None) -> str:
    """An aligned text table of :func:`score_methods`' result, 3 decimals, best value per column marked ``*``.

    Args:
        table: ``{method: {score: value}}``.
        columns: which scores, in order (default: every score but ``"n"``, in the first row's order).

    Returns:
        The table as one string (print it).
    """
    if not table:
        raise ValueError("the table is empty")
    first = next(iter(table.values()))
    columns = list(columns) if columns is not None else [c for c in first if c != "n"]
    for method, row in table.items():
        missing = [c for c in columns if c not in row]
        if missing:
            raise ValueError(f"method {method!r} has no score {missing}; it has {sorted(row)}")
    # lower is better only for pointing_other (the map should not point at the wrong object)
    best = {c: (min if c == "pointing_other" else max)(round(row[c], 3) for row in table.values()) for c in columns}
    width = max(10, max(len(m) for m in table) + 1)
    lines = [f"{'method':<{width}}" + "".join(f"{c:>15}" for c in columns)]
    for method, row in table.items():
        cells = []
        for c in columns:
            mark = "*" if round(row[c], 3) == best[c] else " "
            cells.append(f"{row[c]:>14.3f}{mark}")
        lines.append(f"{method:<{width}}" + "".join(cells))
    return "\n".join(lines)


def score_heads(
    head_maps: torch.Tensor | np.ndarray, masks: Sequence[np.ndarray], score: str = "auc"
) -> np.ndarray:
    """Score every layer's and head's attention map: which heads look at the object?

    Args:
        head_maps: ``[N, layer, head, grid_h, grid_w]`` (from :func:`~mmlens.inspect.maps.attention_maps`).
        masks: ``N`` masks ``(H, W)`` (or ``(K, H, W)``: any object counts).
        score: ``"auc"``, ``"pointing"`` or ``"iou"``.

    Returns:
        ``[layer, head]`` mean scores.
    """
    fns = {"auc": map_auc, "pointing": pointing_game, "iou": topk_iou}
    if score not in fns:
        raise ValueError(f"score must be one of {sorted(fns)}, got {score!r}")
    head_maps = torch.as_tensor(np.asarray(head_maps)) if not torch.is_tensor(head_maps) else head_maps.detach()
    if head_maps.ndim != 5:
        raise ValueError(f"head_maps must be [N, layer, head, grid_h, grid_w], got shape {tuple(head_maps.shape)}")
    masks = list(masks)
    if len(masks) != head_maps.shape[0]:
        raise ValueError(f"got {len(masks)} masks for {head_maps.shape[0]} images; pass one per image")
    n, n_layers, n_heads = head_maps.shape[:3]
    out = np.zeros((n_layers, n_heads))
    for i in range(n_layers):
        for h in range(n_heads):
            out[i, h] = np.mean([float(fns[score](head_maps[b, i, h], masks[b])) for b in range(n)])
    return out


__all__ = [
    "LocalisationSet",
    "contrast_map",
    "format_score_table",
    "make_localisation_set",
    "score_heads",
    "score_methods",
    "selectivity_auc",
]
