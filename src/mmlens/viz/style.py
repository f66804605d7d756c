"""The book's figure style: one look for every chapter."""
from __future__ import annotations

BOOK_RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "image.interpolation": "nearest",
    "image.cmap": "viridis",
    "svg.hashsalt": "mmlens",
}


def apply_style() -> None:
    """Use the book's matplotlib style and inline PNG output in notebooks."""
    import matplotlib
    import matplotlib.pyplot as plt

    plt.rcParams.update(BOOK_RC)
    try:  # inside IPython: PNG figures only, so nbval compares one stable mime type
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            # Inline PNG figures even when MPLBACKEND (e.g. Agg, set by CI) says otherwise, so that
            # plt.show() displays the figure and nbval sees the same outputs everywhere.
            ip.run_line_magic("matplotlib", "inline")
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png")
    except ImportError:
        pass
    matplotlib.rcParams["figure.max_open_warning"] = 0
