"""The book's own Sphinx extension: plotly.js served offline, only on pages with a plotly figure."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import plotly_offline  # noqa: E402


class FakeApp:
    def __init__(self, outdir):
        self.js, self.outdir = [], str(outdir)
        self.builder = SimpleNamespace(format="html")

    def add_js_file(self, name, **kwargs):
        self.js.append(name)


def test_plotly_js_only_on_pages_with_a_plotly_figure(tmp_path):
    app = FakeApp(tmp_path)
    plotly_offline._add_to_pages_with_plotly(app, "a", "page.html", {"body": "<p>no figure</p>"}, None)
    assert app.js == []
    plotly_offline._add_to_pages_with_plotly(app, "b", "page.html", {"body": '<div class="plotly-graph-div">'}, None)
    assert app.js == ["plotly.min.js"]


def test_plotly_js_is_copied_from_the_installed_package(tmp_path):
    (tmp_path / "_static").mkdir()
    plotly_offline._copy_plotly_js(FakeApp(tmp_path), None)
    copied = tmp_path / "_static" / "plotly.min.js"
    assert copied.stat().st_size > 1_000_000 and b"plotly.js v" in copied.read_bytes()[:2000]


@pytest.mark.parametrize("fmt, exc", [("latex", None), ("html", RuntimeError("build failed"))])
def test_nothing_copied_for_other_builders_or_failed_builds(tmp_path, fmt, exc):
    (tmp_path / "_static").mkdir()
    app = FakeApp(tmp_path)
    app.builder.format = fmt
    plotly_offline._copy_plotly_js(app, exc)
    assert not (tmp_path / "_static" / "plotly.min.js").exists()
