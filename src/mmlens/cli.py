"""The ``mmlens`` command: look inside a CLIP from the shell.

    mmlens attention IMAGE "TEXT" [--model NAME] [-o out.png] [--method rollout|gradcam|relevancy|similarity|attention]
    mmlens zero-shot IMAGE --labels cat,dog,car [--model NAME] [--template "a photo of a {}"]

``--model`` is any name :func:`mmlens.load_model` understands (default: ``$MMLENS_MODEL`` or
``tiny-clip``). Errors (unreadable image, unknown model) print one line and exit with status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

EXIT_ERROR = 1


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def _load_image(path: str):
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"cannot read image {path!r}: no such file")
    try:
        with Image.open(p) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CLIError(f"cannot read image {path!r}: not an image file PIL can open ({type(e).__name__})") from e


def _load_model(name: str | None):
    from mmlens import zoo

    try:
        return zoo.load_model(name)
    except zoo.ModelLoadError as e:
        raise CLIError(str(e)) from e
    except ValueError as e:
        raise CLIError(f"cannot load model {name!r}: {e}") from e


def _display(tensor, visual):
    """Undo the preprocess normalisation so the overlay shows exactly the pixels the model saw."""
    import torch

    mean = torch.tensor(getattr(visual, "image_mean", None) or (0.5, 0.5, 0.5))[:, None, None]
    std = torch.tensor(getattr(visual, "image_std", None) or (0.5, 0.5, 0.5))[:, None, None]
    return (tensor * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def cmd_attention(args: argparse.Namespace) -> int:
    """Save a figure of where the model looks for ``args.text`` in ``args.image``."""
    image = _load_image(args.image)
    if not args.text.strip():
        raise CLIError("TEXT is empty; pass the caption to explain, e.g. \"a red circle\"")
    model, preprocess, tokenizer = _load_model(args.model)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from mmlens.inspect.maps import make_map
    from mmlens.viz.attention import plot_attention_overlay

    pixels = preprocess(image)[None]  # (1, 3, H, W)
    tokens = tokenizer([args.text])
    with torch.no_grad():
        image_emb = model.encode_image(pixels, normalize=True)
        text_emb = model.encode_text(tokens, normalize=True)
    cos = float((image_emb * text_emb).sum())
    saliency = make_map(args.method, model, pixels, tokens)[0]  # (grid_h, grid_w)
    shown = _display(pixels[0], model.visual)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.8))
    axes[0].imshow(shown)
    axes[0].set_axis_off()
    axes[0].set_title("input (as the model sees it)")
    plot_attention_overlay(shown, saliency, ax=axes[1], alpha=args.alpha, title=f"{args.method}")
    fig.suptitle(f'"{args.text}"  (cos = {cos:.3f}, model {args.model or "default"})', fontsize=10)
    fig.tight_layout()
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    except OSError as e:
        raise CLIError(f"cannot write {str(out)!r}: {e.strerror or e}") from e
    finally:
        plt.close(fig)
    print(f"saved {args.method} map for {args.text!r} to {out} (cos = {cos:.3f})")
    return 0


def cmd_zero_shot(args: argparse.Namespace) -> int:
    """Print the probability of each label for one image (zero-shot classification)."""
    image = _load_image(args.image)
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if len(labels) < 2:
        raise CLIError(f"--labels needs at least two comma-separated labels, got {args.labels!r}")
    if "{}" not in args.template:
        raise CLIError(f"--template must contain '{{}}' where the label goes, got {args.template!r}")
    model, preprocess, tokenizer = _load_model(args.model)
    import torch

    prompts = [args.template.format(label) for label in labels]
    with torch.no_grad():
        image_emb = model.encode_image(preprocess(image)[None], normalize=True)  # (1, E)
        text_emb = model.encode_text(tokenizer(prompts), normalize=True)  # (n_labels, E)
        logits = model.logit_scale.exp() * image_emb @ text_emb.T  # (1, n_labels)
        probs = logits.softmax(dim=-1)[0]
    width = max(len(label) for label in labels)
    for label, p in sorted(zip(labels, probs.tolist()), key=lambda lp: -lp[1]):
        print(f"{label:<{width}}  {p:.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mmlens`` command."""
    from mmlens.inspect.maps import METHODS

    parser = argparse.ArgumentParser(prog="mmlens", description="Look inside CLIP-style models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("attention", help="save a map of where the model looks for a text in an image")
    p.add_argument("image", metavar="IMAGE", help="image file (any format PIL reads)")
    p.add_argument("text", metavar="TEXT", help="the text to explain, e.g. \"a red circle\"")
    p.add_argument("--model", default=None, help="model name for mmlens.load_model (default: $MMLENS_MODEL or tiny-clip)")
    p.add_argument("-o", "--output", default="attention.png", help="where to save the figure (default: attention.png)")
    p.add_argument("--method", default="rollout", choices=METHODS, help="saliency method (default: rollout)")
    p.add_argument("--alpha", type=float, default=0.5, help="opacity of the map over the image")
    p.set_defaults(func=cmd_attention)

    p = sub.add_parser("zero-shot", help="print zero-shot label probabilities for an image")
    p.add_argument("image", metavar="IMAGE", help="image file (any format PIL reads)")
    p.add_argument("--labels", required=True, help="comma-separated class names, e.g. cat,dog,car")
    p.add_argument("--model", default=None, help="model name for mmlens.load_model (default: $MMLENS_MODEL or tiny-clip)")
    p.add_argument("--template", default="a photo of a {}", help="prompt template with {} for the label")
    p.set_defaults(func=cmd_zero_shot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmlens`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as e:
        print(f"mmlens {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
