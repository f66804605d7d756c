"""Book tooling: list the toc's notebooks, re-execute them in place, count ignored outputs.

    python tools/notebooks.py list               # notebooks in _toc.yml, in reading order
    python tools/notebooks.py execute [PATH ...] # re-execute in place (all toc notebooks by default)
    python tools/notebooks.py stats              # cells tagged nbval-ignore-output, out of all code cells

Execution uses the kernel of the running interpreter (the same one ``pytest --nbval-current-env`` uses),
so the outputs stored in the book are the outputs nbval re-creates.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
IGNORE_TAG = "nbval-ignore-output"


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """Every file named in the toc (root first), as paths with their real suffix."""
    toc = yaml.safe_load(toc_path.read_text())
    names: list[str] = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    paths = []
    for name in names:
        matches = [ROOT / f"{name}{suffix}" for suffix in (".ipynb", ".md") if (ROOT / f"{name}{suffix}").exists()]
        if not matches:
            raise FileNotFoundError(f"_toc.yml names {name!r} but neither {name}.ipynb nor {name}.md exists")
        paths.append(matches[0])
    return paths


def toc_notebooks() -> list[Path]:
    """The notebooks of the book, in reading order."""
    return [p for p in toc_files() if p.suffix == ".ipynb"]


def execute(path: Path, timeout: int = 600) -> float:
    """Re-execute one notebook in place with the current interpreter's kernel; returns seconds taken."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return seconds


def ignore_stats(paths: list[Path]) -> tuple[int, int, list[str]]:
    """(ignored cells, code cells, 'path: cell n' for each ignored cell)."""
    ignored, total, where = 0, 0, []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            total += 1
            if IGNORE_TAG in cell.metadata.get("tags", []):
                ignored += 1
                where.append(f"{path.relative_to(ROOT)}: code cell {i + 1}")
    return ignored, total, where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    run = sub.add_parser("execute")
    run.add_argument("paths", nargs="*", type=Path)
    sub.add_parser("stats")
    args = parser.parse_args(argv)

    if args.command == "list":
        print("\n".join(str(p.relative_to(ROOT)) for p in toc_notebooks()))
    elif args.command == "execute":
        paths = [p.resolve() for p in args.paths] or toc_notebooks()
        for path in paths:
            if path.suffix != ".ipynb" or not path.exists():
                parser.error(f"{path} is not an existing .ipynb file")
            seconds = execute(path)
            print(f"executed {path.relative_to(ROOT)} in {seconds:.1f} s")
    elif args.command == "stats":
        ignored, total, where = ignore_stats(toc_notebooks())
        print(f"nbval: {ignored} of {total} code cells carry the {IGNORE_TAG} tag")
        for line in where:
            print(f"  ignored: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
