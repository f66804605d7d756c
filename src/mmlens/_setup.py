"""One call at the top of every chapter: seeds, CPU threads, figure style."""
from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_SEED = 0


def setup(seed: int = DEFAULT_SEED, threads: int | None = 2, style: bool = True) -> None:
    """Seed every generator, pin torch to the CPU and fix the figure style.

    Args:
        seed: seed for Python's ``random``, NumPy and torch.
        threads: number of torch CPU threads (the book is written for 2 cores); ``None`` leaves it.
        style: apply the book's matplotlib style (PNG figures, fixed size and fonts).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if style:
        from mmlens.viz.style import apply_style

        apply_style()
