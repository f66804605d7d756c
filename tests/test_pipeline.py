"""The output check itself: nbval, as `make test` runs it, must catch a changed number."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "book" / "reference" / "chapter-template.ipynb"


def _nbval(notebook: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(ROOT / "nbval_sanitize.cfg"), str(notebook)]
    return subprocess.run(cmd, cwd=notebook.parent, capture_output=True, text=True, timeout=300)


def test_nbval_passes_unchanged_and_fails_on_one_changed_number(tmp_path):
    shutil.copy(ROOT / "book" / "conftest.py", tmp_path / "conftest.py")
    good = tmp_path / "good.ipynb"
    shutil.copy(TEMPLATE, good)
    result = _nbval(good)
    assert result.returncode == 0, result.stdout[-2000:]

    nb = nbformat.read(good, as_version=4)
    stream = next(o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "stream" and "row sums" in o.text)
    assert "1.0" in stream.text
    stream.text = stream.text.replace("1.0", "1.5", 1)  # one printed number changes
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    result = _nbval(bad)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 failed" in result.stdout and "1.5" in result.stdout
