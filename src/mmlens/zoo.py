"""The model zoo: one call gives a model, its image transform and its tokenizer.

``load_model(name)`` understands three kinds of name:

* an **embedded model** (``list_models()``: ``"tiny-clip"``, ``"tiny-siglip"``): a genuine open_clip
  ``CLIP`` built from our JSON config in ``mmlens/configs`` and loaded from safetensors shipped in
  ``mmlens/weights`` (sha256-checked against ``weights/manifest.json``). Offline, under a second;
  the tokenizer is the word-level :class:`mmlens.data.WordTokenizer`.
* ``"ARCH:PRETRAINED"``, any open_clip pair from ``open_clip.list_pretrained()``, e.g.
  ``"ViT-B-32:laion2b_s34b_b79k"``: created by open_clip, which downloads and caches the weights
  when a network exists (and reuses its cache when none does).
* ``"ARCH"`` alone, any name from ``open_clip.list_models()`` (including our configs
  ``"mmlens-tiny-clip"`` and ``"mmlens-tiny-siglip"``): the architecture with **random weights**,
  handy for tests and for "before training" figures.

The environment variable ``MMLENS_MODEL`` sets what ``load_model()`` loads with no name
(default ``"tiny-clip"``), so the whole book can be rerun with a real CLIP.

Every failure (unknown name, no network, missing or corrupted weights) raises
:class:`ModelLoadError`, which names the embedded alternatives.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

CONFIG_DIR = Path(__file__).parent / "configs"
WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
DEFAULT_MODEL = "tiny-clip"
ENV_VAR = "MMLENS_MODEL"
# The synthetic world is drawn on white with saturated colours: 0.5/0.5 maps pixels to [-1, 1].
IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says why and what to load instead."""


@dataclass(frozen=True)
class EmbeddedModel:
    """An embedded model: open_clip architecture name, weights file and training loss."""

    name: str
    arch: str  # stem of the JSON config in mmlens/configs
    loss: str  # "clip" or "siglip"

    @property
    def weights_file(self) -> str:
        return f"{self.name}.safetensors"

    @property
    def metrics_file(self) -> str:
        return f"{self.name}.metrics.json"


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "tiny-clip": EmbeddedModel("tiny-clip", "mmlens-tiny-clip", "clip"),
    "tiny-siglip": EmbeddedModel("tiny-siglip", "mmlens-tiny-siglip", "siglip"),
}


def list_models() -> list[str]:
    """Names of the embedded models, loadable offline with :func:`load_model`."""
    return list(EMBEDDED_MODELS)


def _alternatives() -> str:
    return f"embedded models that always work offline: {', '.join(repr(n) for n in list_models())}"


def _open_clip():
    """Import open_clip and register our configs (idempotent)."""
    import open_clip

    if not any(Path(p) == CONFIG_DIR for p in open_clip.factory._MODEL_CONFIG_PATHS):
        open_clip.add_model_config(CONFIG_DIR)
    return open_clip


def make_tokenizer(arch: str = "mmlens-tiny-clip") -> Callable:
    """The tokenizer for an architecture: WordTokenizer for ours, open_clip's for the rest."""
    if arch.startswith("mmlens-"):
        from mmlens.data import WordTokenizer

        context_length = _open_clip().get_model_config(arch)["text_cfg"]["context_length"]
        return WordTokenizer(context_length=context_length)
    return _open_clip().get_tokenizer(arch)


def make_preprocess(model: torch.nn.Module) -> Callable:
    """The inference transform (PIL image -> normalised tensor (3, H, W)) open_clip attached to ``model``."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = getattr(getattr(model, "visual", model), "preprocess_cfg", None)
    if cfg is None:
        raise ValueError(f"{type(model).__name__} has no visual.preprocess_cfg; build it with open_clip or mmlens.load_model")
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


def create_embedded_model(name: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """An embedded model's architecture with random weights (what :mod:`mmlens.train` starts from)."""
    spec = _embedded(name)
    return _create(spec.arch, device)


def _embedded(name: str) -> EmbeddedModel:
    if name not in EMBEDDED_MODELS:
        raise ModelLoadError(f"{name!r} is not an embedded model; {_alternatives()}")
    return EMBEDDED_MODELS[name]


def _create(arch: str, device, pretrained: str | None = None) -> torch.nn.Module:
    open_clip = _open_clip()
    force = {"mean": IMAGE_MEAN, "std": IMAGE_STD} if arch.startswith("mmlens-") else None
    if arch.startswith("mmlens-"):
        # open_clip logs "initialized randomly" on the root logger; our weights are loaded right after.
        logging.disable(logging.WARNING)
        try:
            model = open_clip.create_model(arch, pretrained=None, device=device, force_preprocess_cfg=force)
        finally:
            logging.disable(logging.NOTSET)
    else:
        model = open_clip.create_model(arch, pretrained=pretrained, device=device)
    if arch.startswith("mmlens-"):
        tok = make_tokenizer(arch)
        vocab = model.token_embedding.num_embeddings
        if vocab != tok.vocab_size:
            raise ModelLoadError(
                f"config {arch}.json has vocab_size {vocab} but WordTokenizer has {tok.vocab_size}; "
                "the vocabulary changed: update the config and retrain with `python -m mmlens.train`"
            )
    return model


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(weights_dir: str | Path = WEIGHTS_DIR) -> dict:
    """``{file name: {"sha256": ..., "bytes": ...}}`` from ``weights_dir/manifest.json`` (empty if absent)."""
    path = Path(weights_dir) / MANIFEST
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def update_manifest(weights_dir: str | Path, *files: str | Path) -> dict:
    """Record sha256 and size of ``files`` (in ``weights_dir``) in its manifest.json; returns the manifest."""
    weights_dir = Path(weights_dir)
    manifest = read_manifest(weights_dir)
    for f in files:
        path = weights_dir / Path(f).name
        manifest[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = dict(sorted(manifest.items()))
    (weights_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_weights_file(path: str | Path, weights_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file after checking its sha256 against the manifest of its folder.

    Raises:
        ModelLoadError: file missing, not in the manifest, or its checksum differs.
    """
    from safetensors.torch import load_file

    path = Path(path)
    weights_dir = Path(weights_dir) if weights_dir is not None else path.parent
    if not path.exists():
        raise ModelLoadError(
            f"weights file {path} is missing; reinstall mmlens or recreate it with "
            f"`python -m mmlens.train {path.name.split('.')[0]}`"
        )
    expected = read_manifest(weights_dir).get(path.name, {}).get("sha256")
    if expected is None:
        raise ModelLoadError(f"{path.name} has no sha256 in {weights_dir / MANIFEST}; refusing to load unverified weights")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelLoadError(
            f"sha256 of {path} is {actual[:16]}..., but {MANIFEST} records {expected[:16]}...: the file is "
            f"corrupted or was changed; reinstall mmlens or retrain with `python -m mmlens.train {path.name.split('.')[0]}`"
        )
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ModelLoadError(f"could not read {path} as safetensors: {e}") from e


def load_embedded(name: str, device: str | torch.device = "cpu", weights_dir: str | Path | None = None) -> torch.nn.Module:
    """An embedded model with its shipped (or ``weights_dir``'s) weights, in eval mode."""
    spec = _embedded(name)
    weights_dir = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    state = load_weights_file(weights_dir / spec.weights_file, weights_dir)
    model = _create(spec.arch, "cpu")
    state = {k: v.float() for k, v in state.items()}  # weights are stored in float16
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(
            f"{spec.weights_file} does not fit configs/{spec.arch}.json ({e}); retrain with `python -m mmlens.train {name}`"
        ) from e
    return model.to(device).eval()


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers within ``timeout`` seconds (open_clip downloads from it)."""
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline():
    """Make huggingface_hub use its local cache only (it would otherwise retry for about a minute)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = old


def _load_open_clip(name: str, device) -> tuple[torch.nn.Module, Callable, Callable]:
    open_clip = _open_clip()
    arch, _, tag = name.partition(":")
    if arch not in open_clip.list_models():
        raise ModelLoadError(
            f"unknown model {name!r}: {arch!r} is neither an embedded model nor an open_clip architecture "
            f"(see open_clip.list_models()); {_alternatives()}"
        )
    if tag:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        if tag not in tags:
            raise ModelLoadError(
                f"unknown pretrained tag {tag!r} for {arch!r}; open_clip knows {tags or 'none'}; {_alternatives()}"
            )
    offline = bool(tag) and not _hub_reachable()
    try:
        with _hub_offline() if offline else contextlib.nullcontext():
            model = _create(arch, device, pretrained=tag or None)
            tokenizer = make_tokenizer(arch)
    except ModelLoadError:
        raise
    except Exception as e:
        why = "no network and the weights are not in open_clip's cache" if offline else "open_clip failed"
        raise ModelLoadError(f"could not load {name!r}: {why} ({type(e).__name__}: {e}); {_alternatives()}") from e
    return model.eval(), make_preprocess(model), tokenizer


def load_model(
    name: str | None = None, device: str | torch.device = "cpu", weights_dir: str | Path | None = None
) -> tuple[torch.nn.Module, Callable, Callable]:
    """Load a model, its image transform and its tokenizer.

    Args:
        name: an embedded model (``list_models()``), ``"ARCH:PRETRAINED"`` (open_clip weights, downloaded
            once), or ``"ARCH"`` (open_clip architecture, random weights). ``None``: ``$MMLENS_MODEL``,
            else ``"tiny-clip"``.
        device: where to put the model.
        weights_dir: folder with the embedded weights and their manifest.json (default: the shipped ones).

    Returns:
        ``(model, preprocess, tokenizer)``: an open_clip model in eval mode (``encode_image``,
        ``encode_text``, ``logit_scale``), a PIL -> tensor transform, and a callable mapping a string
        or a list of strings to a LongTensor ``(N, context_length)``.

    Raises:
        ModelLoadError: unknown name, no network for a download, missing or corrupted weights.

    Example::

        model, preprocess, tokenizer = load_model("tiny-clip")
        image_emb = model.encode_image(preprocess(img)[None], normalize=True)   # (1, 64)
    """
    if name is None:
        name = os.environ.get(ENV_VAR) or DEFAULT_MODEL
    if not isinstance(name, str) or not name.strip():
        raise ModelLoadError(f"model name must be a non-empty string, got {name!r}; {_alternatives()}")
    name = name.strip()
    if name in EMBEDDED_MODELS:
        model = load_embedded(name, device, weights_dir)
        return model, make_preprocess(model), make_tokenizer(EMBEDDED_MODELS[name].arch)
    return _load_open_clip(name, device)


def load_metrics(name: str, weights_dir: str | Path | None = None) -> dict:
    """The metrics JSON written by the training recipe of an embedded model."""
    spec = _embedded(name)
    path = Path(weights_dir or WEIGHTS_DIR) / spec.metrics_file
    if not path.exists():
        raise ModelLoadError(f"no metrics file {path}; run `python -m mmlens.train {name}`")
    return json.loads(path.read_text())
