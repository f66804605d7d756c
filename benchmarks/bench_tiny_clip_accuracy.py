"""Accuracy table of the embedded models on held-out synthetic test scenes.

Prints, for each embedded model: load time, zero-shot accuracy for colour, shape and size on
single-object test scenes, and text->image / image->text Recall@1/5/10 on multi-object test scenes
(one "objects" caption per scene), plus the training time recorded by its recipe.

    python benchmarks/bench_tiny_clip_accuracy.py [--n-zero-shot 1000] [--n-retrieval 1000]
"""
from __future__ import annotations

import argparse
import time

import torch

import mmlens
from mmlens import evaluate, zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-zero-shot", type=int, default=1000)
    parser.add_argument("--n-retrieval", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    zoo.make_tokenizer()  # import open_clip and mmlens.data first: "load s" is the load itself

    rows = []
    for name in mmlens.list_models():
        start = time.perf_counter()
        model, _, tokenizer = mmlens.load_model(name)
        load_s = time.perf_counter() - start
        report = evaluate.evaluate_model(model, tokenizer, n_zero_shot=args.n_zero_shot, n_retrieval=args.n_retrieval)
        trained = zoo.load_metrics(name)
        rows.append((name, load_s, report, trained))

    print(f"zero-shot on {args.n_zero_shot} single-object test scenes; retrieval on {args.n_retrieval} "
          "test scenes with 2-4 objects (one 'objects' caption each)\n")
    header = f"{'model':<12} {'load s':>6} {'colour':>7} {'shape':>7} {'size':>7}   " + " ".join(
        f"{d}@{k:<2}" for d in ("t2i", "i2t") for k in (1, 5, 10)) + f" {'train s':>8} {'steps':>6}"
    print(header)
    print("-" * len(header))
    for name, load_s, report, trained in rows:
        zs = report["zero_shot_accuracy"]
        rec = report["retrieval"]
        recalls = " ".join(
            f"{rec[f'{d}@{k}']:>6.3f}" for d in ("text_to_image", "image_to_text") for k in (1, 5, 10))
        print(f"{name:<12} {load_s:>6.2f} {zs['colour']:>7.3f} {zs['shape']:>7.3f} {zs['size']:>7.3f}   "
              f"{recalls} {trained['train_time_s']:>8.0f} {trained['steps']:>6}")
    print("\nchance: colour 0.167, shape 0.167, size 0.5; recall@K about K/N "
          f"({1 / args.n_retrieval:.3f}, {5 / args.n_retrieval:.3f}, {10 / args.n_retrieval:.3f})")


if __name__ == "__main__":
    main()
