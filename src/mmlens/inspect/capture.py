"""Capture activations from either CLIP tower: ``run_with_cache`` and an :class:`ActivationCache`.

Works on genuine open_clip ``CLIP`` / ``CustomTextCLIP`` models with ViT image towers (what
:func:`mmlens.load_model` returns) and on the from-scratch :class:`mmlens.models.CLIP`. Hooks are
registered for one call and always removed, even when the forward pass raises; weights are never
touched.

Names (``{tower}`` is ``vision`` or ``text``, ``{i}`` a block index)::

    {tower}.blocks.{i}.resid_pre     # [batch, pos, d_model]  input of block i
    {tower}.blocks.{i}.attn.pattern  # [batch, head, query_pos, key_pos]  softmax weights, rows sum to 1
    {tower}.blocks.{i}.attn_out      # [batch, pos, d_model]  attention output (after out_proj)
    {tower}.blocks.{i}.resid_mid     # [batch, pos, d_model]  after the attention branch
    {tower}.blocks.{i}.mlp.post      # [batch, pos, d_mlp]    MLP hidden activation (after GELU)
    {tower}.blocks.{i}.mlp_out       # [batch, pos, d_model]  MLP output
    {tower}.blocks.{i}.resid_post    # [batch, pos, d_model]  output of block i
    vision.ln_post                   # [batch, pos, d_model]  tokens after the final LayerNorm
    text.ln_final                    # [batch, pos, d_model]
    vision.image_emb                 # [batch, embed_dim]     projected class token (not normalised)
    text.text_emb                    # [batch, embed_dim]     projected end-of-text token (not normalised)

In the vision tower position 0 is the class token and positions ``1..grid_h*grid_w`` are the
patches in reading order.

open_clip's attention runs a fused kernel that never forms the weights. To capture
``attn.pattern`` exactly we ask the attention module for its weights for the duration of the
call (``need_weights=True, average_attn_weights=False``); with ``grad=True`` the attention is
recomputed as ``softmax(Q K^T / sqrt(d_head) + mask) V`` so that gradients reach the pattern.
"""
from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

TOWERS = ("vision", "text")
BLOCK_HOOKS = ("resid_pre", "attn.pattern", "attn_out", "resid_mid", "mlp.post", "mlp_out", "resid_post")
# shorthand -> the end of a block hook's name; cache["pattern", 0] reads "vision.blocks.0.attn.pattern"
SHORTHANDS = {
    "resid_pre": "resid_pre",
    "pattern": "attn.pattern",
    "attn": "attn.pattern",
    "attn_out": "attn_out",
    "resid_mid": "resid_mid",
    "post": "mlp.post",
    "mlp_post": "mlp.post",
    "mlp_out": "mlp_out",
    "resid_post": "resid_post",
}
TOWER_ALIASES = {"vision": "vision", "image": "vision", "visual": "vision", "v": "vision", "text": "text", "t": "text"}

NamesFilter = Callable[[str], bool] | Sequence[str] | str | None


# ----------------------------------------------------------------------------------------------
# Finding the pieces of a model


@dataclass
class _Block:
    block: nn.Module
    ln_1: nn.Module
    attn: nn.Module
    ln_2: nn.Module
    mlp: nn.Module
    act: nn.Module | None


@dataclass
class _Tower:
    name: str
    blocks: list[_Block]
    final_ln: nn.Module | None
    final_ln_name: str
    batch_first: bool = True


def _block_parts(block: nn.Module, where: str) -> _Block:
    for part in ("ln_1", "attn", "ln_2", "mlp"):
        if not hasattr(block, part):
            raise ValueError(
                f"{where} is a {type(block).__name__} without .{part}; capture supports open_clip's "
                "ResidualAttentionBlock and mmlens.models.TransformerBlock"
            )
    attn = block.attn
    if not isinstance(attn, nn.MultiheadAttention) and not _is_mmlens_attention(attn):
        raise ValueError(
            f"{where}.attn is a {type(attn).__name__}; capture reads attention weights from "
            "nn.MultiheadAttention (open_clip's default block) or mmlens.models.MultiHeadAttention. "
            "Build the model without custom attention options (qk_norm, scaled_cosine_attn, ...)"
        )
    if isinstance(attn, nn.MultiheadAttention) and not attn._qkv_same_embed_dim:
        raise ValueError(f"{where}.attn uses separate q/k/v widths, which capture does not support")
    mlp = block.mlp
    act = getattr(mlp, "gelu", None)
    if act is None:
        act = getattr(mlp, "act", None)
    return _Block(block, block.ln_1, attn, block.ln_2, mlp, act)


def _is_mmlens_attention(module: nn.Module) -> bool:
    return hasattr(module, "in_proj") and hasattr(module, "n_heads") and hasattr(module, "out_proj")


def _blocks_of(transformer: nn.Module, where: str) -> list[nn.Module]:
    blocks = getattr(transformer, "resblocks", None)
    if blocks is None:
        blocks = getattr(transformer, "blocks", None)
    if blocks is None:
        raise ValueError(f"{where} ({type(transformer).__name__}) has neither .resblocks nor .blocks")
    return list(blocks)


def _towers(model: nn.Module) -> dict[str, _Tower]:
    """The vision and text towers of an open_clip or mmlens CLIP."""
    towers: dict[str, _Tower] = {}
    visual = getattr(model, "visual", None)
    if visual is None:
        raise TypeError(
            f"expected a CLIP model with a .visual image tower (open_clip CLIP or mmlens.models.CLIP), "
            f"got {type(model).__name__}"
        )
    if not hasattr(visual, "transformer"):
        raise ValueError(
            f"the image tower is a {type(visual).__name__}, not a Vision Transformer; capture needs ViT "
            "blocks (e.g. open_clip 'ViT-B-32', not a ResNet or timm tower)"
        )
    blocks = [_block_parts(b, f"visual.transformer.blocks[{i}]") for i, b in enumerate(_blocks_of(visual.transformer, "visual.transformer"))]
    towers["vision"] = _Tower(
        "vision", blocks, getattr(visual, "ln_post", None), "vision.ln_post",
        getattr(visual.transformer, "batch_first", True),
    )
    # text tower: open_clip CLIP keeps it at the top level, CustomTextCLIP and mmlens under .text
    text_root = model if hasattr(model, "token_embedding") else getattr(model, "text", None)
    if text_root is not None and hasattr(text_root, "transformer") and hasattr(text_root, "ln_final"):
        blocks = [_block_parts(b, f"text.transformer.blocks[{i}]") for i, b in enumerate(_blocks_of(text_root.transformer, "text.transformer"))]
        towers["text"] = _Tower(
            "text", blocks, text_root.ln_final, "text.ln_final", getattr(text_root.transformer, "batch_first", True)
        )
    return towers


def hook_names(model: nn.Module) -> list[str]:
    """Every name :func:`run_with_cache` can capture for ``model``, in forward order."""
    names = []
    for tower in _towers(model).values():
        for i in range(len(tower.blocks)):
            names += [f"{tower.name}.blocks.{i}.{h}" for h in BLOCK_HOOKS]
        names.append(tower.final_ln_name)
        names.append("vision.image_emb" if tower.name == "vision" else "text.text_emb")
    return names


def _make_filter(names: NamesFilter, model: nn.Module) -> Callable[[str], bool]:
    if names is None:
        return lambda name: True
    if callable(names):
        return names
    if isinstance(names, str):
        names = [names]
    wanted = set()
    known = hook_names(model)
    n_layers = {t: len(tw.blocks) for t, tw in _towers(model).items()}
    for name in names:
        full = _normalise_name(name, n_layers)
        if full not in known:
            raise ValueError(f"unknown activation name {name!r}; known names look like {known[:8]} (see hook_names(model))")
        wanted.add(full)
    return lambda name: name in wanted


_BLOCK_RE = re.compile(r"^(\w+)\.blocks\.(-?\d+)\.(.+)$")


def _normalise_name(name: str, n_layers: dict[str, int]) -> str:
    """``vision.blocks.-1.resid_post`` -> ``vision.blocks.3.resid_post`` for a 4-block tower."""
    m = _BLOCK_RE.match(name)
    if not m:
        return name
    tower, layer, rest = m.group(1), int(m.group(2)), m.group(3)
    tower = TOWER_ALIASES.get(tower, tower)
    if tower in n_layers and layer < 0:
        layer += n_layers[tower]
    return f"{tower}.blocks.{layer}.{rest}"


# ----------------------------------------------------------------------------------------------
# Manual multi-head attention for nn.MultiheadAttention (the path that gradients can flow through)


def mha_with_weights(
    mha: nn.MultiheadAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``nn.MultiheadAttention`` written out, returning per-head weights that are part of the graph.

    Args:
        mha: the module (``batch_first`` or not, shared q/k/v width).
        query, key, value: as ``mha`` takes them.
        attn_mask: ``(T_q, T_k)`` or ``(B * n_heads, T_q, T_k)``; bool ``True`` = blocked (PyTorch's
            ``nn.MultiheadAttention`` convention) or an additive float mask.
        key_padding_mask: ``(B, T_k)``, bool ``True`` = padding, or additive float.

    Returns:
        ``(out, weights)``: ``out`` shaped like ``query``; ``weights`` ``(B, n_heads, T_q, T_k)``.
    """
    if not mha.batch_first:  # (T, B, C) -> (B, T, C)
        query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
    B, T_q, C = query.shape
    T_k = key.shape[1]
    H = mha.num_heads
    d_head = C // H
    w, b = mha.in_proj_weight, mha.in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
    q = F.linear(query, w[:C], bq).view(B, T_q, H, d_head).transpose(1, 2)  # (B, H, T_q, d_head)
    k = F.linear(key, w[C : 2 * C], bk).view(B, T_k, H, d_head).transpose(1, 2)  # (B, H, T_k, d_head)
    v = F.linear(value, w[2 * C :], bv).view(B, T_k, H, d_head).transpose(1, 2)  # (B, H, T_k, d_head)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)  # (B, H, T_q, T_k)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros(attn_mask.shape, dtype=scores.dtype, device=scores.device).masked_fill(attn_mask, float("-inf"))
        if attn_mask.ndim == 3:  # (B * H, T_q, T_k)
            attn_mask = attn_mask.view(B, H, T_q, T_k)
        scores = scores + attn_mask.to(scores.dtype)
    if key_padding_mask is not None:
        if key_padding_mask.dtype == torch.bool:
            key_padding_mask = torch.zeros(key_padding_mask.shape, dtype=scores.dtype, device=scores.device).masked_fill(
                key_padding_mask, float("-inf")
            )
        scores = scores + key_padding_mask[:, None, None, :].to(scores.dtype)
    weights = scores.softmax(dim=-1)  # (B, H, T_q, T_k)
    out = (weights @ v).transpose(1, 2).reshape(B, T_q, C)  # (B, T_q, C)
    out = mha.out_proj(out)
    if not mha.batch_first:
        out = out.transpose(0, 1)
    return out, weights


_MHA_POSITIONS = {"key_padding_mask": 3, "need_weights": 4, "attn_mask": 5, "average_attn_weights": 6}


def _mha_arg(args: tuple, kwargs: dict, name: str, default=None):
    pos = _MHA_POSITIONS[name]
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


# ----------------------------------------------------------------------------------------------
# The cache


class ActivationCache:
    """Activations captured by :func:`run_with_cache`, keyed by readable names.

    Access by full name, by ``(shorthand, layer)`` for the vision tower, or
    ``(shorthand, layer, tower)``; negative layers count from the end::

        output, cache = run_with_cache(model, images=images, tokens=tokens)  # tiny-clip, batch 2
        cache["vision.blocks.0.attn.pattern"].shape  # (2, 4, 65, 65): [batch, head, query_pos, key_pos]
        cache["pattern", -1] is cache["vision.blocks.3.attn.pattern"]  # True
        cache["resid_post", 0, "text"].shape  # (2, 32, 128): [batch, pos, d_model]
        cache.stack("pattern").shape  # (4, 2, 4, 65, 65): [layer, batch, head, query_pos, key_pos]
    """

    def __init__(self, store: dict[str, torch.Tensor], n_layers: dict[str, int], grid: tuple[int, int] | None = None):
        self._store = store
        self.n_layers = dict(n_layers)  # {"vision": 4, "text": 4}
        self.grid = grid  # (grid_h, grid_w) of the vision tower's patches

    # mapping interface
    def keys(self):
        return self._store.keys()

    def values(self):
        return self._store.values()

    def items(self):
        return self._store.items()

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key) -> bool:
        try:
            return self._resolve(key) in self._store
        except (KeyError, ValueError):
            return False

    def _resolve(self, key) -> str:
        if isinstance(key, str):
            name = key
            if name in SHORTHANDS or name in ("image_emb", "text_emb", "ln_post", "ln_final"):
                name = {"image_emb": "vision.image_emb", "text_emb": "text.text_emb", "ln_post": "vision.ln_post",
                        "ln_final": "text.ln_final"}.get(name, name)
            return _normalise_name(name, self.n_layers)
        if isinstance(key, tuple) and 2 <= len(key) <= 3:
            short, layer = key[0], key[1]
            tower = key[2] if len(key) == 3 else ("vision" if "vision" in self.n_layers else "text")
            if tower not in TOWER_ALIASES:
                raise KeyError(f"unknown tower {tower!r}; use 'vision' or 'text'")
            tower = TOWER_ALIASES[tower]
            if short not in SHORTHANDS:
                raise KeyError(f"unknown shorthand {short!r}; use one of {sorted(SHORTHANDS)}")
            n = self.n_layers.get(tower)
            if n is None:
                raise KeyError(f"no {tower} tower in this cache (towers: {sorted(self.n_layers)})")
            if not -n <= int(layer) < n:
                raise KeyError(f"layer {layer} out of range for the {tower} tower with {n} blocks")
            return f"{tower}.blocks.{int(layer) % n}.{SHORTHANDS[short]}"
        raise KeyError(f"cache keys are names like 'vision.blocks.0.resid_post' or tuples like ('pattern', -1, 'text'), got {key!r}")

    def __getitem__(self, key) -> torch.Tensor:
        name = self._resolve(key)
        if name not in self._store:
            close = [k for k in self._store if name.split(".")[-1] in k][:5]
            raise KeyError(f"{key!r} ({name}) was not captured; captured e.g. {close or list(self._store)[:5]}")
        return self._store[name]

    def stack(self, short: str, tower: str = "vision") -> torch.Tensor:
        """One activation from every block stacked on a new first axis: ``[layer, ...]``."""
        tower = TOWER_ALIASES.get(tower, tower)
        return torch.stack([self[short, i, tower] for i in range(self.n_layers[tower])])

    def to(self, device: str | torch.device) -> "ActivationCache":
        """A copy with every tensor moved to ``device``."""
        return ActivationCache({k: v.to(device) for k, v in self._store.items()}, self.n_layers, self.grid)

    def __repr__(self) -> str:
        towers = ", ".join(f"{t}: {n} blocks" for t, n in self.n_layers.items())
        return f"ActivationCache({len(self)} activations; {towers})"


class CLIPOutput(NamedTuple):
    """What :func:`run_with_cache` returns besides the cache."""

    image_emb: torch.Tensor | None  # [batch_img, embed_dim], L2-normalised
    text_emb: torch.Tensor | None  # [batch_txt, embed_dim], L2-normalised
    logits_per_image: torch.Tensor | None  # [batch_img, batch_txt] = logit_scale.exp() * cos (+ bias)


def grid_shape(model: nn.Module) -> tuple[int, int]:
    """``(grid_h, grid_w)``: patches per column and per row of the model's image tower."""
    visual = model.visual
    grid = getattr(visual, "grid_size", None)
    if grid is None and hasattr(visual, "config"):
        grid = visual.config.grid_size
    if grid is None:
        raise ValueError(f"cannot find the patch grid of {type(visual).__name__}")
    if isinstance(grid, int):
        return (grid, grid)
    return (int(grid[0]), int(grid[1]))


# ----------------------------------------------------------------------------------------------
# Hooks


@contextlib.contextmanager
def capture(model: nn.Module, names: NamesFilter = None, grad: bool = False) -> Iterator[ActivationCache]:
    """Context manager: record activations of every forward pass run inside it.

    Args:
        model: an open_clip or mmlens CLIP with a ViT image tower.
        names: which activations (full names, a single name, or a predicate on names); ``None`` = all.
            ``vision.image_emb`` and ``text.text_emb`` are filled by :func:`run_with_cache` only.
        grad: keep the activations in the autograd graph (no detach) and route attention through a
            manual path so ``torch.autograd.grad(score, cache[...pattern])`` works.

    Yields:
        The :class:`ActivationCache` being filled (a later forward pass overwrites earlier values).

    Example::

        with capture(model, names=lambda n: n.endswith("attn.pattern")) as cache:
            model.encode_image(images)
        cache["pattern", -1]   # [batch, head, query_pos, key_pos]
    """
    towers = _towers(model)
    keep = _make_filter(names, model)
    store: dict[str, torch.Tensor] = {}
    cache = ActivationCache(store, {t: len(tw.blocks) for t, tw in towers.items()}, grid_shape(model))
    handles: list[torch.utils.hooks.RemovableHandle] = []

    def save(name: str, tensor: torch.Tensor, batch_first: bool = True) -> None:
        if not batch_first and tensor.ndim == 3:
            tensor = tensor.transpose(0, 1)  # (T, B, C) -> (B, T, C)
        store[name] = tensor if grad else tensor.detach()

    try:
        for tower in towers.values():
            bf = tower.batch_first
            for i, parts in enumerate(tower.blocks):
                prefix = f"{tower.name}.blocks.{i}"
                if keep(f"{prefix}.resid_pre"):
                    handles.append(parts.ln_1.register_forward_pre_hook(
                        lambda m, args, n=f"{prefix}.resid_pre", bf=bf: save(n, args[0], bf)))
                if keep(f"{prefix}.resid_mid"):
                    handles.append(parts.ln_2.register_forward_pre_hook(
                        lambda m, args, n=f"{prefix}.resid_mid", bf=bf: save(n, args[0], bf)))
                if keep(f"{prefix}.resid_post"):
                    handles.append(parts.block.register_forward_hook(
                        lambda m, args, out, n=f"{prefix}.resid_post", bf=bf: save(n, out[0] if isinstance(out, tuple) else out, bf)))
                if keep(f"{prefix}.mlp_out"):
                    handles.append(parts.mlp.register_forward_hook(
                        lambda m, args, out, n=f"{prefix}.mlp_out", bf=bf: save(n, out, bf)))
                if keep(f"{prefix}.mlp.post") and parts.act is not None:
                    handles.append(parts.act.register_forward_hook(
                        lambda m, args, out, n=f"{prefix}.mlp.post", bf=bf: save(n, out, bf)))
                want_pattern = keep(f"{prefix}.attn.pattern")
                want_out = keep(f"{prefix}.attn_out")
                if want_pattern or want_out:
                    handles += _attention_hooks(parts.attn, prefix, want_pattern, want_out, grad, save, bf)
            if tower.final_ln is not None and keep(tower.final_ln_name):
                handles.append(tower.final_ln.register_forward_hook(
                    lambda m, args, out, n=tower.final_ln_name, bf=bf: save(n, out, bf)))
        yield cache
    finally:
        for h in handles:
            h.remove()


def _attention_hooks(attn: nn.Module, prefix: str, want_pattern: bool, want_out: bool, grad: bool, save, bf: bool):
    handles = []
    is_mha = isinstance(attn, nn.MultiheadAttention)
    if want_pattern and not (is_mha and grad):
        # Ask the module for its (per-head) weights: open_clip's blocks ignore the second output.
        def ask_for_weights(module, args, kwargs):
            if is_mha:
                args = list(args)
                for name, value in (("need_weights", True), ("average_attn_weights", False)):
                    if len(args) > _MHA_POSITIONS[name]:
                        args[_MHA_POSITIONS[name]] = value
                    else:
                        kwargs[name] = value
                return tuple(args), kwargs
            kwargs["need_weights"] = True
            return args, kwargs

        handles.append(attn.register_forward_pre_hook(ask_for_weights, with_kwargs=True))

    if is_mha and want_pattern and grad:
        # The weights nn.MultiheadAttention returns are a view made after use: no gradient reaches
        # them. Recompute the attention by hand and let the block use that output instead.
        def manual(module, args, kwargs, output):
            q = args[0] if len(args) > 0 else kwargs["query"]
            k = args[1] if len(args) > 1 else kwargs["key"]
            v = args[2] if len(args) > 2 else kwargs["value"]
            out, weights = mha_with_weights(
                module, q, k, v, _mha_arg(args, kwargs, "attn_mask"), _mha_arg(args, kwargs, "key_padding_mask")
            )
            save(f"{prefix}.attn.pattern", weights)
            if want_out:
                save(f"{prefix}.attn_out", out, bf)
            return (out, weights)

        handles.append(attn.register_forward_hook(manual, with_kwargs=True))
        return handles

    def read(module, args, output):
        out, weights = output if isinstance(output, tuple) else (output, None)
        if want_out:
            save(f"{prefix}.attn_out", out, bf)
        if want_pattern and weights is not None:
            save(f"{prefix}.attn.pattern", weights)

    handles.append(attn.register_forward_hook(read))
    return handles


def run_with_cache(
    model: nn.Module,
    images: torch.Tensor | None = None,
    tokens: torch.Tensor | None = None,
    names: NamesFilter = None,
    grad: bool = False,
) -> tuple[CLIPOutput, ActivationCache]:
    """Encode images and/or texts and return the outputs with every captured activation.

    Args:
        model: an open_clip CLIP (ViT image tower) or a :class:`mmlens.models.CLIP`.
        images: preprocessed images ``(B_img, 3, H, W)``, or ``None``.
        tokens: token ids ``(B_txt, T)``, or ``None``.
        names: activations to keep (full names, one name, or a predicate); ``None`` keeps all.
            Capturing fewer names is cheaper (attention patterns cost the most).
        grad: run with autograd and keep the cached tensors in the graph (for gradient maps);
            by default the pass runs under ``torch.no_grad()``.

    Returns:
        ``(output, cache)``: :class:`CLIPOutput` with normalised ``image_emb``, ``text_emb`` and
        ``logits_per_image`` (when both inputs are given), and the :class:`ActivationCache`.

    Example::

        output, cache = run_with_cache(model, images=images, tokens=tokens)
        cache["vision.blocks.-1.attn.pattern"].sum(-1)   # rows sum to 1
        cache["resid_post", 2, "text"]                   # [batch, pos, d_model]
    """
    if images is None and tokens is None:
        raise ValueError("run_with_cache needs images=..., tokens=... or both; got neither")
    if images is not None and (not torch.is_tensor(images) or images.ndim != 4):
        raise ValueError(
            f"images must be a (B, 3, H, W) tensor, got {type(images).__name__} "
            f"{tuple(images.shape) if torch.is_tensor(images) else ''}; preprocess PIL images first and stack them"
        )
    if tokens is not None and (not torch.is_tensor(tokens) or tokens.ndim != 2):
        raise ValueError(f"tokens must be a (B, T) LongTensor from the model's tokenizer, got {tokens!r:.80}")
    keep = _make_filter(names, model)
    image_emb = text_emb = logits = None
    with contextlib.ExitStack() as stack:
        if not grad:
            stack.enter_context(torch.no_grad())
        cache = stack.enter_context(capture(model, keep, grad=grad))
        store = cache._store
        if images is not None:
            raw = model.encode_image(images)
            raw = raw[0] if isinstance(raw, tuple) else raw
            if keep("vision.image_emb"):
                store["vision.image_emb"] = raw if grad else raw.detach()
            image_emb = F.normalize(raw, dim=-1)
        if tokens is not None:
            raw = model.encode_text(tokens)
            raw = raw[0] if isinstance(raw, tuple) else raw
            if keep("text.text_emb"):
                store["text.text_emb"] = raw if grad else raw.detach()
            text_emb = F.normalize(raw, dim=-1)
        if image_emb is not None and text_emb is not None:
            logits = model.logit_scale.exp() * image_emb @ text_emb.T  # (B_img, B_txt)
            if getattr(model, "logit_bias", None) is not None:
                logits = logits + model.logit_bias
    return CLIPOutput(image_emb, text_emb, logits), cache


def count_hooks(model: nn.Module) -> int:
    """Number of forward (pre-)hooks registered on any submodule of ``model`` (0 after a capture)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
