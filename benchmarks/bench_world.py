"""Speed and memory of the synthetic world: scenes per second, 64x64, multi-object, with masks.

Run: python benchmarks/bench_world.py  (single thread; goal >= 5,000 scenes/s for sample + render + masks).
Rates are per CPU-second of this process (time.process_time), so a busy machine distorts them less.
"""
from __future__ import annotations

import os
import resource
import time
import tracemalloc

import numpy as np

from mmlens.data import WordTokenizer, make_caption, make_scene, render_image, render_scene
from mmlens.data.world import scene_rng


def rate(fn, n: int) -> float:
    """Items per CPU-second of this process (process_time: robust to other jobs sharing the cores)."""
    fn(min(n, 200))  # warm caches
    t0 = time.process_time()
    fn(n)
    return n / (time.process_time() - t0)


def sample(n: int, n_objects=(2, 4)) -> list:
    return [make_scene(scene_rng(0, "train", i), n_objects) for i in range(n)]


def main(n: int = 20_000) -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (rates are per CPU-second)")
    scenes = sample(n)
    print(f"objects per scene: mean {np.mean([len(s) for s in scenes]):.2f} (n_objects=(2, 4))")
    print(f"sample only                      : {rate(sample, n):9.0f} scenes/s")
    for res in (64, 224):
        m = n if res == 64 else n // 10
        r = rate(lambda k: all(render_scene(s, res) is not None for s in scenes[:k]), m)  # results not kept
        print(f"render {res}x{res} with masks+boxes   : {r:9.0f} scenes/s")
    r = rate(lambda k: all(render_scene(make_scene(scene_rng(1, "train", i), (2, 4)), 64) is not None for i in range(k)), n)
    print(f"sample + render 64x64 with masks : {r:9.0f} scenes/s   <- goal >= 5,000")
    r = rate(lambda k: all(render_image(s, 64) is not None for s in scenes[:k]), n)
    print(f"render 64x64 image only          : {r:9.0f} scenes/s")
    r = rate(lambda k: [make_caption(s, i) for i, s in enumerate(scenes[:k])], n)
    print(f"captions                         : {r:9.0f} captions/s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory so far (numpy only, 20k scenes held): {rss:.0f} MiB")
    tok = WordTokenizer()
    caps = [make_caption(s, i) for i, s in enumerate(scenes[:1000])]
    r = rate(lambda k: tok(caps * (k // 1000)), 10_000)
    print(f"tokenize (batched)               : {r:9.0f} captions/s")

    tracemalloc.start()
    for i in range(2000):
        out = render_scene(make_scene(scene_rng(2, "train", i), (2, 4)), 64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory, render loop 64x64: {peak / 1024:.0f} KiB (one scene's arrays: "
          f"{(out.image.nbytes + out.masks.nbytes + out.id_map.nbytes + out.boxes.nbytes) / 1024:.1f} KiB)")
    tracemalloc.start()
    big = [render_scene(s, 64) for s in scenes[:1000]]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory, 1,000 rendered 64x64 scenes kept: {peak / 2**20:.1f} MiB")
    del big
    print(f"peak resident memory after importing torch for tokens: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
