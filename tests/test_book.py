"""The book's own conventions, checked on every notebook in the table of contents."""
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebooks import toc_files, toc_notebooks  # noqa: E402

NOTEBOOKS = toc_notebooks()
PARTS = ["Start here", "Beginner: using pretrained models", "Intermediate: how the architectures work",
         "Advanced: looking inside", "Reference"]


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_toc_is_organised_by_learning_path():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert [part["caption"] for part in toc["parts"]] == PARTS
    assert all(part["chapters"] for part in toc["parts"])
    assert NOTEBOOKS, "the toc lists no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_executed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = _code(nb)
    assert "mmlens.setup(" in cells[0].source, "the first code cell must call mmlens.setup()"
    for i, cell in enumerate(cells):
        where = f"{path.name} code cell {i + 1}"
        assert cell.execution_count is not None, f"{where} was never executed: run `make execute NB={path}`"
        assert not any(o.output_type == "error" for o in cell.outputs), f"{where} stores an error"
        for output in cell.outputs:
            kinds = set(output.get("data", {}))
            assert not kinds & {"image/svg+xml", "application/pdf", "image/jpeg"}, f"{where}: figures must be PNG"
            if "image/png" in kinds:
                assert "plt.show()" in cell.source, f"{where}: end plotting cells with plt.show()"
        source = cell.source
        assert "sys.path" not in source, f"{where} edits sys.path; install mmlens instead"
        assert ".cuda()" not in source, f"{where}: chapters run on the CPU"
        if i > 0:
            assert not re.search(r"^\s*[!%]pip", source, re.M), f"{where}: pip only in the first cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_has_the_book_rhythm(path):
    text = _markdown(nbformat.read(path, as_version=4))
    for needed in ["**Level:**", "**Prerequisites:**", "**Time to read:**", "## Summary", "## Exercises"]:
        assert needed in text, f"{path.name} lacks {needed!r} (see the chapter template)"


def test_every_citation_exists_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text()))
    for path in toc_files():
        text = path.read_text()
        for group in re.findall(r"\{cite[:a-z]*\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name} cites unknown key {key!r}"
