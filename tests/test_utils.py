import random

import numpy as np
import pytest
import torch

import mmlens
from mmlens.utils import format_seconds, stopwatch


def test_setup_seeds_every_generator():
    mmlens.setup(seed=3, style=False)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    mmlens.setup(seed=3, style=False)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    assert torch.get_num_threads() == 2


def test_setup_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        mmlens.setup(seed=-1)


def test_format_seconds_matches_sanitize_pattern():
    import re
    from pathlib import Path

    cfg = (Path(__file__).parents[1] / "nbval_sanitize.cfg").read_text()
    pattern = next(line.split("regex: ", 1)[1] for line in cfg.splitlines()
                   if line.startswith("regex:") and "wall clock" in line)
    for seconds in [2.5, 0.0123, 4.2e-6, 3e-9]:
        assert re.fullmatch(pattern, format_seconds(seconds)), format_seconds(seconds)
    assert format_seconds(0.0123) == "12.3 ms (wall clock)"
    with pytest.raises(ValueError):
        format_seconds(-1)


def test_stopwatch_measures_after_block():
    with stopwatch() as elapsed:
        pass
    first = elapsed()
    assert first >= 0 and elapsed() == first
