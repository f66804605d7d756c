"""Small helpers shared across mmlens."""
from __future__ import annotations

import time
from contextlib import contextmanager


def format_seconds(seconds: float) -> str:
    """A wall-clock duration as the book prints it, e.g. ``"12.3 ms (wall clock)"``.

    nbval's sanitize file recognises this exact form, so printed timings never break the output check.
    """
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds!r}")
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit} (wall clock)"
    return f"{seconds / 1e-9:.3g} ns (wall clock)"


@contextmanager
def stopwatch():
    """Measure the wall-clock time of a block: ``with stopwatch() as t: ...; t()`` gives seconds."""
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end if end is not None else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()
