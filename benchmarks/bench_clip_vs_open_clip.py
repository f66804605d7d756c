"""Throughput of mmlens.models.CLIP against open_clip on the same weights (CPU, eval, no_grad).

Run: ``python benchmarks/bench_clip_vs_open_clip.py [--threads 2] [--repeats 7]``

For each architecture (ViT-B-32 with random weights, and a tiny config) it encodes the same batch
of images and of texts with both models, interleaving the two models' timed calls so machine load
hits both alike, and prints the median images/s and texts/s and the ratio ours / open_clip
(>= 1.0 means we are not slower). It also prints the largest embedding difference.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import open_clip
import torch

from mmlens.models import from_open_clip

TINY = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 128, "layers": 4, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 4},
}


def _time(fn, x) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def bench(name: str, image_size: int, context_length: int, n_images: int, n_texts: int, repeats: int) -> None:
    oc_model = open_clip.create_model(name, pretrained=None).eval()
    model = from_open_clip(oc_model)
    images = torch.randn(n_images, 3, image_size, image_size)
    captions = [f"a photo of {i} small red triangles to the left of a blue circle" for i in range(n_texts)]
    tokens = open_clip.get_tokenizer("ViT-B-32", context_length=context_length)(captions)
    with torch.no_grad():
        diff_img = (model.encode_image(images) - oc_model.encode_image(images)).abs().max().item()
        diff_txt = (model.encode_text(tokens) - oc_model.encode_text(tokens)).abs().max().item()
        for kind, x, n in (("images", images, n_images), ("texts", tokens, n_texts)):
            ours_fn = model.encode_image if kind == "images" else model.encode_text
            oc_fn = oc_model.encode_image if kind == "images" else oc_model.encode_text
            ours_fn(x), oc_fn(x)  # warm-up
            ours_t, oc_t = [], []
            for r in range(repeats):  # interleave, alternating who goes first
                pair = [(ours_t, ours_fn), (oc_t, oc_fn)]
                for times, fn in pair if r % 2 == 0 else pair[::-1]:
                    times.append(_time(fn, x))
            ours_rate, oc_rate = n / statistics.median(ours_t), n / statistics.median(oc_t)
            print(
                f"{name:>14} {kind:>6}/s  mmlens {ours_rate:9.1f}  open_clip {oc_rate:9.1f}  "
                f"ratio ours/open_clip {ours_rate / oc_rate:5.2f}"
            )
    print(f"{name:>14} max |diff| image {diff_img:.2e}  text {diff_txt:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, open_clip {open_clip.__version__}, threads {args.threads}, "
          f"repeats {args.repeats} (median)")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "mmlens-bench-tiny.json").write_text(json.dumps(TINY))
        open_clip.add_model_config(folder)
        bench("mmlens-bench-tiny", 64, 32, n_images=64, n_texts=64, repeats=args.repeats)
    bench("ViT-B-32", 224, 77, n_images=8, n_texts=32, repeats=args.repeats)


if __name__ == "__main__":
    main()
