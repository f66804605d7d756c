"""mmlens: the library behind *Understanding Multimodal Models*.

Everything a chapter computes lives here: the synthetic world (:mod:`mmlens.data`),
from-scratch models (:mod:`mmlens.models`), losses (:mod:`mmlens.losses`), the model zoo
(:mod:`mmlens.zoo`), training recipes (:mod:`mmlens.train`), inspection tools
(:mod:`mmlens.inspect`), figures (:mod:`mmlens.viz`) and exercise checkers
(:mod:`mmlens.exercises`).
"""
from mmlens._setup import setup

__version__ = "0.1.0"


def __getattr__(name):  # lazy: importing mmlens stays fast; torch loads on first use
    if name in ("load_model", "list_models"):
        from mmlens import zoo

        return getattr(zoo, name)
    raise AttributeError(f"module 'mmlens' has no attribute {name!r}")


__all__ = ["setup", "load_model", "list_models", "__version__"]
