"""Training recipes that reproduce the embedded models: ``python -m mmlens.train tiny-clip``.

A recipe is a JSON file in ``mmlens/configs/recipes`` (model, loss, steps, batch size, learning rate,
data mix). Training is seeded, runs on the CPU (2 threads), draws every batch fresh from the
synthetic world (:mod:`mmlens.data`), and writes into ``--out`` (default: the shipped
``mmlens/weights``):

* ``{model}.safetensors``: the weights in float16,
* ``{model}.metrics.json``: zero-shot accuracy per attribute, retrieval recalls, loss curve,
  training time, seed and library versions,
* ``manifest.json``: sha256 of every weights file, checked by :func:`mmlens.load_model`.

Example::

    python -m mmlens.train tiny-clip                     # the shipped model (see its metrics JSON for the time)
    python -m mmlens.train tiny-siglip --steps 20 --out /tmp/run   # a quick smoke run
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from mmlens import zoo

RECIPE_DIR = Path(__file__).parent / "configs" / "recipes"

# Prompt-style captions for single-object scenes ("{a}" is the article, "{}" a phrase such as
# "small red circle"); all inside the caption grammar of mmlens.data, so caption_is_true accepts them.
PROMPT_TEMPLATES = (
    "{a} {}", "{a} {}", "a photo of {a} {}", "a picture of {a} {}", "an image of {a} {}", "a drawing of {a} {}",
    "this is {a} {}", "there is {a} {}", "this is a photo of {a} {}", "one {}",
)
GENERIC_NOUNS = ("object", "shape", "thing")


def list_recipes() -> list[str]:
    """Names of the recipes in ``configs/recipes``."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.json"))


def load_recipe(name: str) -> dict:
    """The recipe dict of ``configs/recipes/{name}.json`` (or of a path to a JSON file)."""
    path = Path(name)
    if not path.suffix == ".json":
        path = RECIPE_DIR / f"{name}.json"
    if not path.exists():
        raise ValueError(f"unknown recipe {name!r}; choose one of {list_recipes()} or pass a path to a JSON recipe")
    return json.loads(path.read_text())


def make_prompt_caption(obj, rng: np.random.Generator, full_fraction: float = 0.0) -> str:
    """A true prompt-style caption naming one object's attributes: all of them with probability
    ``full_fraction``, otherwise a random non-empty subset.

    Example: ``"a photo of a small red circle"``, ``"a photo of a red object"``, ``"there is an orange thing"``.
    """
    while True:
        use = np.ones(3, dtype=bool) if rng.random() < full_fraction else rng.random(3) < (0.6, 0.4, 0.6)
        if use.any():  # (colour, size, shape)
            break
    words = []
    if use[1]:
        words.append(obj.size)
    if use[0]:
        words.append(obj.colour)
    words.append(obj.shape if use[2] else GENERIC_NOUNS[int(rng.integers(len(GENERIC_NOUNS)))])
    phrase = " ".join(words)
    template = PROMPT_TEMPLATES[int(rng.integers(len(PROMPT_TEMPLATES)))]
    return template.replace("{a}", "an" if phrase[0] in "aeiou" else "a").format(phrase)


def make_contrast_group(rng: np.random.Generator) -> list:
    """Single-object scenes that share colour and size and differ only in shape, one per shape.

    Put in one batch, their captions can only be told apart by shape: in-batch hard negatives that teach the
    image tower shape far sooner than random batches, where colour alone separates most pairs.
    """
    from dataclasses import replace

    from mmlens import data

    scenes = []
    base = data.make_scene(rng, n_objects=1).objects[0]
    for shape in rng.permutation(data.SHAPES):
        obj = data.make_scene(rng, n_objects=1).objects[0]  # a fresh position
        scenes.append(data.Scene(objects=(replace(obj, shape=str(shape), colour=base.colour, size=base.size),)))
    return scenes


def make_training_batch(rng: np.random.Generator, batch_size: int, tokenizer: Callable, data_cfg: dict) -> dict:
    """One batch drawn fresh from the synthetic world.

    Args:
        rng: NumPy generator (the only source of randomness, so batches are reproducible).
        batch_size: number of (image, caption) pairs.
        tokenizer: maps a list of captions to token ids.
        data_cfg: the recipe's ``"data"`` dict: ``single_object_fraction`` (scenes with one object and a
            prompt-style caption), ``full_caption_fraction`` (how often such a caption names every
            attribute), ``contrast_group_fraction`` (part of the batch made of :func:`make_contrast_group`
            groups, captioned in full), ``n_objects`` (range for the rest), ``caption_kinds``
            ({kind: weight} for ``make_caption``), ``resolution``.

    Returns:
        A dict with ``"images"`` (float (B, 3, H, W), normalised with mean and std 0.5), ``"tokens"``
        (LongTensor (B, T)) and ``"captions"`` (list[str]).
    """
    from mmlens import data

    render = getattr(data, "render_image", None) or (lambda s, resolution: data.render_scene(s, resolution).image)
    kinds = list(data_cfg["caption_kinds"])
    weights = np.array([data_cfg["caption_kinds"][k] for k in kinds], dtype=float)
    weights /= weights.sum()
    resolution = data_cfg.get("resolution", 64)
    images, captions = [], []
    n_groups = int(batch_size * data_cfg.get("contrast_group_fraction", 0.0)) // len(data.SHAPES)
    for _ in range(n_groups):
        for scene in make_contrast_group(rng):
            images.append(render(scene, resolution=resolution))
            captions.append(make_prompt_caption(scene.objects[0], rng, full_fraction=1.0))
    full = data_cfg.get("full_caption_fraction", 0.0)
    for _ in range(batch_size - len(images)):
        if rng.random() < data_cfg["single_object_fraction"]:
            scene = data.make_scene(rng, n_objects=1)
            caption = make_prompt_caption(scene.objects[0], rng, full_fraction=full)
        else:
            scene = data.make_scene(rng, n_objects=tuple(data_cfg["n_objects"]))
            kind = kinds[int(rng.choice(len(kinds), p=weights))]
            if kind in ("objects", "relation") and len(scene.objects) < 2:  # these need two objects
                kind = "attribute"
            caption = data.make_caption(scene, rng, kind=kind)
        images.append(render(scene, resolution=resolution))
        captions.append(caption)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)  # (B, 3, H, W) in [0, 1]
    mean = torch.tensor(zoo.IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(zoo.IMAGE_STD).view(1, 3, 1, 1)
    return {"images": (x - mean) / std, "tokens": tokenizer(captions), "captions": captions}


def lr_at(step: int, steps: int, lr: float, warmup: int, min_lr_ratio: float = 0.0) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to ``min_lr_ratio * lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW as in open_clip: no weight decay on gains, biases, embeddings of scale and bias."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if skip else decay).append(p)
    groups = [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]
    try:  # the fused CPU kernel is much faster for many small tensors
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)


def make_loss(kind: str) -> Callable:
    """``loss(image_emb, text_emb, logit_scale, logit_bias) -> scalar`` for "clip" or "siglip".

    Embeddings are L2-normalised and ``logit_scale`` is already exponentiated (open_clip's convention).
    Uses :mod:`mmlens.losses` when available, else open_clip's ``ClipLoss`` / ``SigLipLoss``.
    """
    if kind not in ("clip", "siglip"):
        raise ValueError(f"loss must be 'clip' or 'siglip', got {kind!r}")
    try:
        from mmlens import losses

        fn = losses.clip_loss if kind == "clip" else losses.siglip_loss
        if kind == "clip":
            return lambda i, t, scale, bias: fn(i, t, scale)
        return lambda i, t, scale, bias: fn(i, t, scale, bias)
    except (ImportError, AttributeError):
        from open_clip.loss import ClipLoss, SigLipLoss

        if kind == "clip":
            loss = ClipLoss()
            return lambda i, t, scale, bias: loss(i, t, scale)
        loss = SigLipLoss()
        return lambda i, t, scale, bias: loss(i, t, scale, bias)


def train(
    recipe: str | dict,
    out: str | Path | None = None,
    steps: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    eval_n: int | None = None,
    threads: int = 2,
    progress: bool = True,
) -> dict:
    """Train an embedded model from its recipe and write weights, metrics and manifest into ``out``.

    Args:
        recipe: recipe name (``list_recipes()``), path, or dict.
        out: output folder (default: the shipped ``mmlens/weights``).
        steps, seed, batch_size: override the recipe's values (e.g. a few steps for a smoke test).
        eval_n: number of test scenes per evaluation (default: the recipe's).
        threads: torch CPU threads.
        progress: show a tqdm progress bar.

    Returns:
        The metrics dict that was written.
    """
    from tqdm.auto import tqdm

    cfg = load_recipe(recipe) if isinstance(recipe, (str, Path)) else dict(recipe)
    steps = int(steps if steps is not None else cfg["steps"])
    seed = int(seed if seed is not None else cfg["seed"])
    batch_size = int(batch_size if batch_size is not None else cfg["batch_size"])
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got steps={steps}, batch_size={batch_size}")
    name = cfg["model"]
    spec = zoo.EMBEDDED_MODELS.get(name)
    if spec is None:
        raise ValueError(f"recipe model {name!r} is not an embedded model; choose one of {zoo.list_models()}")
    out = Path(out) if out is not None else zoo.WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = zoo.create_embedded_model(name)
    tokenizer = zoo.make_tokenizer(spec.arch)
    loss_fn = make_loss(spec.loss)
    opt = make_optimizer(model, cfg["lr"], cfg["weight_decay"])
    warmup = min(int(cfg["warmup_steps"]), max(1, steps // 10)) if steps < cfg["steps"] else int(cfg["warmup_steps"])
    max_logit_scale = math.log(100)

    losses, t0 = [], time.perf_counter()
    model.train()
    bar = tqdm(range(steps), desc=f"train {name}", disable=not progress, mininterval=2.0)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, cfg["lr"], warmup, cfg.get("min_lr_ratio", 0.0))
        batch = make_training_batch(rng, batch_size, tokenizer, cfg["data"])
        image_emb, text_emb, logit_scale, *rest = model(batch["images"], batch["tokens"])  # (B, D), (B, D), ()
        loss = loss_fn(image_emb, text_emb, logit_scale, rest[0] if rest else None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.get("grad_clip", 1.0))
        opt.step()
        with torch.no_grad():  # as in open_clip: the temperature never exceeds 100
            model.logit_scale.clamp_(0, max_logit_scale)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", scale=f"{model.logit_scale.exp().item():.1f}")
    train_time = time.perf_counter() - t0

    from safetensors.torch import save_file

    weights_path = out / spec.weights_file
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights_path), metadata={"model": name, "arch": spec.arch, "recipe": json.dumps(cfg)})
    weights_path.chmod(0o644)  # safetensors writes 0600; the package must be readable by everyone
    zoo.update_manifest(out, weights_path)

    from mmlens import evaluate
    import open_clip

    shipped = zoo.load_embedded(name, weights_dir=out)  # evaluate exactly what ships (float16 round trip)
    eval_cfg = cfg.get("eval", {})
    n_zs = eval_n or eval_cfg.get("n_zero_shot", 1000)
    n_ret = eval_n or eval_cfg.get("n_retrieval", 1000)
    report = evaluate.evaluate_model(shipped, tokenizer, n_zero_shot=n_zs, n_retrieval=n_ret, seed=0)
    every = max(1, steps // 100)
    metrics = {
        "model": name,
        "arch": spec.arch,
        "loss": spec.loss,
        "recipe": cfg,
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        **report,
        "train_time_s": round(train_time, 1),
        "steps_per_s": round(steps / train_time, 3),
        "threads": threads,
        "final_loss": float(np.mean(losses[-max(1, min(20, steps // 5)):])),
        "loss_curve": {"every": every, "values": [float(np.mean(losses[i : i + every])) for i in range(0, steps, every)]},
        "logit_scale": model.logit_scale.exp().item(),
        "logit_bias": model.logit_bias.item() if getattr(model, "logit_bias", None) is not None else None,
        "weights_bytes": weights_path.stat().st_size,
        "torch_version": torch.__version__,
        "open_clip_version": open_clip.__version__,
        "python_version": platform.python_version(),
        "note": "timed on a shared 2-core CPU; other processes were running, so the time is pessimistic",
    }
    metrics_path = out / spec.metrics_file
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    zoo.update_manifest(out, metrics_path)
    return metrics


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m mmlens.train RECIPE [--out DIR] [--steps N] [--seed S]``."""
    parser = argparse.ArgumentParser(prog="python -m mmlens.train", description=__doc__.split("\n")[0])
    parser.add_argument("recipe", help=f"one of {list_recipes()} or a path to a recipe JSON")
    parser.add_argument("--out", default=None, help="output folder (default: the shipped mmlens/weights)")
    parser.add_argument("--steps", type=int, default=None, help="override the number of steps")
    parser.add_argument("--seed", type=int, default=None, help="override the seed")
    parser.add_argument("--batch-size", type=int, default=None, help="override the batch size")
    parser.add_argument("--eval-n", type=int, default=None, help="test scenes per evaluation (default: recipe)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    metrics = train(args.recipe, args.out, args.steps, args.seed, args.batch_size, args.eval_n, args.threads)
    summary = {k: metrics[k] for k in ("model", "steps", "train_time_s", "final_loss", "zero_shot_accuracy", "retrieval")}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
