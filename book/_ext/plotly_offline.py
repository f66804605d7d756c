"""Sphinx extension: interactive plotly figures in the static book, offline.

Chapters display plotly figures as HTML that calls ``Plotly.newPlot`` without carrying plotly.js
(:func:`mmlens.viz.embedding.show_plotly`). This extension copies plotly.js from the installed ``plotly``
package into ``_static`` and adds it to exactly the pages that hold such a figure, so the book needs no
CDN and the 4.8 MB library is stored once, not in every notebook.
"""
from __future__ import annotations

import shutil
from pathlib import Path

PLOTLY_JS = "plotly.min.js"


def _copy_plotly_js(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not source.exists():
        raise FileNotFoundError(f"{source} is missing: reinstall the 'plotly' package")
    shutil.copyfile(source, Path(app.outdir) / "_static" / PLOTLY_JS)


def _add_to_pages_with_plotly(app, pagename, templatename, context, doctree):
    if "plotly-graph-div" in context.get("body", ""):
        app.add_js_file(PLOTLY_JS, priority=200)


def setup(app):
    app.connect("html-page-context", _add_to_pages_with_plotly)
    app.connect("build-finished", _copy_plotly_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
