"""Build the notebooks from their sources: ``python notebooks/_build.py``.

Each notebook is written as a plain Python file in ``notebooks/src/`` in the "percent"
format, one cell after each marker line::

    # %% [markdown]
    # # A title
    # Markdown, every line behind "# ".

    # %%
    x = 1          # a code cell

This script turns each source into an ``.ipynb`` (nbformat 4.5 JSON, written with the
``json`` module: no Jupyter needed to build) next to this file, without outputs, so the
notebooks in the repository stay diff-able and identical to what the sources say.
``python notebooks/_build.py --check`` rebuilds in memory and exits with status 1 if an
``.ipynb`` differs from its source (tests/test_notebooks.py checks the same).

Edit the sources, not the ``.ipynb`` files: a change made in Jupyter must be copied back
into ``src/`` or the next build overwrites it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
MARKER = "# %%"


def parse_cells(text: str, name: str = "<source>") -> list[tuple[str, str]]:
    """The ``(cell_type, source)`` pairs of a percent-format file, in order.

    Blank lines around a cell are dropped; a markdown line must start with "#" (its
    "# " or "#" prefix is removed). Lines before the first marker are not allowed, so
    that nothing is silently left out of the notebook.
    """
    cells, kind, lines, lineno = [], None, [], 0

    def close(lineno):
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind is not None:
            if not lines:
                raise ValueError(f"{name}: empty cell before line {lineno}")
            cells.append((kind, "\n".join(lines)))
        lines.clear()

    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith(MARKER):
            close(lineno)
            tag = line[len(MARKER):].strip()
            if tag not in ("", "[markdown]"):
                raise ValueError(f"{name}:{lineno}: unknown cell marker {line!r}; expected "
                                 f"'{MARKER}' or '{MARKER} [markdown]'")
            kind = "markdown" if tag else "code"
            continue
        if kind is None:
            if line.strip():
                raise ValueError(f"{name}:{lineno}: text before the first '{MARKER}' marker")
            continue
        if kind == "markdown" and line.strip():
            if not line.startswith("#"):
                raise ValueError(f"{name}:{lineno}: a markdown line must start with '# ', "
                                 f"got {line!r}")
            line = line[2:] if line.startswith("# ") else line[1:]
        elif kind == "markdown":
            line = ""
        lines.append(line)
    close(lineno + 1)
    return cells


def _source_lines(source: str) -> list[str]:
    """Jupyter's way of storing a cell: a list of lines, each but the last ending in \\n."""
    lines = source.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def notebook(cells) -> dict:
    """An nbformat 4.5 notebook of ``cells`` without outputs."""
    out = []
    for i, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{i:02d}", "metadata": {},
                "source": _source_lines(source)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python", "pygments_lexer": "ipython3"}},
            "nbformat": 4, "nbformat_minor": 5}


def render(source_path: Path) -> str:
    """The ``.ipynb`` text for one source file (Jupyter's own layout: indent 1, sorted keys)."""
    cells = parse_cells(source_path.read_text(encoding="utf-8"), source_path.name)
    return json.dumps(notebook(cells), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def sources() -> list[Path]:
    return sorted(SOURCES.glob("[0-9]*.py"))


def build(out_dir: Path = HERE) -> list[Path]:
    """Write every notebook into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources():
        path = out_dir / (src.stem + ".ipynb")
        path.write_text(render(src), encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path = HERE) -> list[str]:
    """Names of the notebooks in ``out_dir`` that are missing or differ from their source."""
    return [src.stem + ".ipynb" for src in sources()
            if not (Path(out_dir) / (src.stem + ".ipynb")).exists()
            or (Path(out_dir) / (src.stem + ".ipynb")).read_text(encoding="utf-8") != render(src)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that the notebooks match their sources")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"{name} is out of date: run python notebooks/_build.py")
        return 1 if bad else 0
    for path in build():
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
