"""Shared machinery for exercise checkers: run a reader's function, report a clear verdict."""
from __future__ import annotations

from typing import Callable


class Verdict:
    """Outcome of a check: truthy when correct, prints as one friendly line."""

    def __init__(self, ok: bool, message: str):
        self.ok = bool(ok)
        self.message = message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{'Correct' if self.ok else 'Not yet'}: {self.message}"


def run_reader_function(fn: Callable, *args, **kwargs):
    """Call a reader's function; return (result, None) or (None, Verdict explaining the exception)."""
    if not callable(fn):
        return None, Verdict(False, f"expected a function, got {type(fn).__name__}")
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, Verdict(False, "your function raises NotImplementedError: replace the `raise` with your code")
    except Exception as err:  # the reader's code may raise anything; report it instead of a traceback
        return None, Verdict(False, f"your function raised {type(err).__name__}: {err}")
