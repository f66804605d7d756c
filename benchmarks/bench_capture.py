"""Cost of capturing activations, as a ratio to a plain forward pass of the image tower.

    python benchmarks/bench_capture.py [--threads 2] [--repeats 15]

For the tiny embedded architecture (64x64 images, patch 8, width 128, 4 layers; batch 32) and for
open_clip's ViT-B-32 (random weights, batch 4) it times, interleaved in one run:

* ``plain``: ``model.encode_image(images)`` under ``torch.no_grad()``;
* ``attention``: ``run_with_cache(model, images, names=<every vision attn.pattern>)``;
* ``everything``: ``run_with_cache(model, images)`` (all vision activations).

and prints the median time of each and the ratios to ``plain`` (goal for attention: <= 1.5).
"""
from __future__ import annotations

import argparse
import statistics
import time

import open_clip
import torch

from mmlens.inspect.capture import run_with_cache

TINY = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=64, patch_size=8, width=128, layers=4, head_width=32),
    text_cfg=dict(context_length=32, vocab_size=128, width=128, heads=4, layers=4),
)


def bench(name: str, model: torch.nn.Module, images: torch.Tensor, repeats: int) -> dict[str, float]:
    only_patterns = lambda n: n.startswith("vision.") and n.endswith("attn.pattern")  # noqa: E731

    def plain():
        with torch.no_grad():
            model.encode_image(images)

    cases = {
        "plain": plain,
        "attention": lambda: run_with_cache(model, images=images, names=only_patterns),
        "everything": lambda: run_with_cache(model, images=images),
    }
    for fn in cases.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):  # interleaved, so machine load hits every case alike
        for key, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{name:<10} batch {images.shape[0]:>2}  plain {med['plain'] * 1e3:8.1f} ms  "
        f"attention {med['attention'] * 1e3:8.1f} ms (x{med['attention'] / med['plain']:.2f})  "
        f"everything {med['everything'] * 1e3:8.1f} ms (x{med['everything'] / med['plain']:.2f})"
    )
    return {k: med[k] / med["plain"] for k in med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.repeats} interleaved runs")
    tiny = open_clip.model.CLIP(**TINY).eval()
    bench("tiny", tiny, torch.randn(32, 3, 64, 64), args.repeats)
    vit = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    bench("ViT-B-32", vit, torch.randn(4, 3, 224, 224), max(5, args.repeats // 3))


if __name__ == "__main__":
    main()
