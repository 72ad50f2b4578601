"""A lesson's findings and its page: figures (PNG and SVG), the tidy table behind them, ``lesson.md`` and
``lesson.html``; and ``crowdlab lesson NAME [--out DIR] [--small]`` / ``crowdlab lesson --list``."""

from __future__ import annotations

import argparse
import html
import io
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from experiments.storage import atomic_write, write_csv, write_text


@dataclass
class Findings:
    """What a lesson's run found: its figures by file stem, the points behind them (one tidy table) and the
    measured numbers a reader should see, as sentences."""

    figures: dict[str, Any]  # stem -> matplotlib Figure
    table: pd.DataFrame
    measured: list[str] = field(default_factory=list)


def png(figure: Any) -> bytes:
    """``figure`` as PNG bytes (what a page and a notebook show)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(figure: Any, folder: Path, stem: str) -> list[Path]:
    """``figure`` as ``stem.png`` and ``stem.svg`` in ``folder``, each written atomically."""
    paths = []
    for extension in ("png", "svg"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=extension, dpi=130, bbox_inches="tight")
        write = partial(_write_bytes, buffer.getvalue())
        paths.append(atomic_write(folder / f"{stem}.{extension}", write, binary=True))
    plt.close(figure)
    return paths


def _write_bytes(content: bytes, file: IO[bytes]) -> None:
    file.write(content)


def write_lesson(lesson: ModuleType, findings: Findings, folder: Path) -> Path:
    """Figures, ``points.csv``, ``lesson.md`` and ``lesson.html`` in ``folder``; returns the Markdown page."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, figure in findings.figures.items():
        save_figure(figure, folder, stem)
    write_csv(findings.table, folder / "points.csv")
    figures_md = "\n\n".join(f"![{lesson.TITLE}]({stem}.png)" for stem in findings.figures)
    measured = "\n".join(f"- {line}" for line in findings.measured)
    markdown = (
        f"# {lesson.TITLE}\n\n{lesson.CLAIM}\n\n{figures_md}\n\n## What this run measured\n\n{measured}\n\n"
        f"## Try next\n\n```bash\n{lesson.TRY}\n```\n\n## Source\n\n{lesson.SOURCE}\n\n"
        f"The points behind the figure are in `points.csv`.\n"
    )
    write_text(markdown, folder / "lesson.md")
    figures_html = "\n".join(f'<img src="{stem}.png" alt="{html.escape(lesson.TITLE)}" style="max-width:100%">'
                             for stem in findings.figures)  # fmt: skip
    items = "".join(f"<li>{html.escape(line)}</li>" for line in findings.measured)
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(lesson.TITLE)}</title>'
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.5}"
        "pre{background:#f4f4f4;padding:0.8em}</style></head><body>"
        f"<h1>{html.escape(lesson.TITLE)}</h1><p>{html.escape(lesson.CLAIM)}</p>{figures_html}"
        f"<h2>What this run measured</h2><ul>{items}</ul>"
        f"<h2>Try next</h2><pre>{html.escape(lesson.TRY)}</pre><h2>Source</h2><p>{html.escape(lesson.SOURCE)}</p>"
        '<p>The points behind the figure are in <a href="points.csv">points.csv</a>.</p></body></html>\n'
    )
    write_text(page, folder / "lesson.html")
    return folder / "lesson.md"


def markdown_of_docstring(text: str) -> str:
    """A module docstring's reStructuredText math as Markdown math (``:math:`x``` -> ``$x$``, ``.. math::`` blocks
    -> ``$$ ... $$``), for a notebook's text cell."""
    import re

    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)

    def block(match: re.Match[str]) -> str:
        body = " ".join(line.strip() for line in match.group(1).splitlines())
        return f"$$ {body} $$\n\n"

    text = re.sub(r"\.\. math::\s*((?:.+\n?)(?:[ \t]+.+\n?)*)", block, text)
    return text.replace("``", "`")


def notebook(name: str, small: bool = True) -> Any:
    """Lesson ``name`` as a Jupyter notebook built from its module (one source): the claim and the model, a cell
    that runs it (``SMALL`` at the top sets the size), its measured numbers, table and figures, and what to try."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from experiments.lessons import lessons

    lesson = lessons()[name]
    cells = [
        new_markdown_cell(f"# {lesson.TITLE}\n\n{lesson.CLAIM}\n\n{markdown_of_docstring(lesson.__doc__ or '')}"),
        new_code_cell(f"SMALL = {small}  # False: the full size (seconds to a minute)"),
        new_code_cell(
            f"from experiments.lessons import {name}\n\nfindings = {name}.run(small=SMALL)\n"
            "print('\\n'.join(findings.measured))"
        ),
        new_code_cell("findings.table.head(20)"),
        new_code_cell(
            "from IPython.display import Image, display\n\nfrom experiments.lessons.page import png\n\n"
            "for figure in findings.figures.values():\n    display(Image(png(figure)))"
        ),
        new_markdown_cell(f"## Try next\n\n```bash\n{lesson.TRY}\n```\n\n## Source\n\n{lesson.SOURCE}"),
    ]
    book = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})  # fmt: skip
    nbformat.validate(book)
    return book


def main(arguments: list[str] | None = None) -> int:
    from experiments.lessons import lessons

    found = lessons()
    parser = argparse.ArgumentParser(prog="crowdlab lesson", description="Run a lesson and write its page.")
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(found)}")
    parser.add_argument("--list", action="store_true", help="list the lessons and their titles")
    parser.add_argument("--out", type=Path, default=None, help="folder for the page (default results/lessons/NAME)")
    parser.add_argument("--small", action="store_true", help="fewer items and sizes: a quick run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebook", action="store_true", help="also write lesson.ipynb (built from the module)")
    options = parser.parse_args(arguments)
    if options.list or options.name is None:
        for name, lesson in found.items():
            print(f"{name:<22} {lesson.TITLE}")
        return 0
    if options.name not in found:
        print(f"crowdlab lesson: unknown lesson {options.name!r}; accepted values: {', '.join(found)}",
              file=sys.stderr)  # fmt: skip
        return 2
    lesson = found[options.name]
    folder = options.out if options.out is not None else Path("results") / "lessons" / options.name
    if folder.exists() and not folder.is_dir():
        print(
            f"crowdlab lesson: --out {folder} is a file; accepted values: a folder (new or existing)", file=sys.stderr
        )
        return 2
    findings = lesson.run(small=options.small, seed=options.seed)
    page = write_lesson(lesson, findings, folder)
    if options.notebook:
        import nbformat

        text = nbformat.writes(notebook(options.name, small=options.small))
        write_text(text, folder / "lesson.ipynb")
    print(f"{lesson.TITLE}\n{lesson.CLAIM}\n" + "\n".join(findings.measured) + f"\npage: {page}")
    return 0
