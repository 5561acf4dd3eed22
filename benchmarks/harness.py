"""Shared benchmark harness: machine info, markdown tables, atomic JSON / markdown / figure output.

Every benchmark script (core and apps) builds a ``Report`` of sections (a heading, a note and
a table of dict rows), prints it as markdown, and writes ``<stem>.md`` and ``<stem>.json``
(plus figures) into its output folder. Files are written to a temporary name in the same
folder and moved into place with ``os.replace``, so a reader never sees a half-written file.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scorelab.io import save_figure_atomic, write_json_atomic, write_text_atomic
from scorelab.machine import machine_info

MISSING = "–"


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in seconds (``time.perf_counter``)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def fmt(value: Any, spec: str = ".3g") -> str:
    """Format one table cell: numbers with ``spec``, None as a dash, strings unchanged."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format(value, spec)
    return str(value)


@dataclass
class Column:
    """One table column: the row key, its header and how to format it (a spec or a function)."""

    key: str
    header: str | None = None
    spec: str | Callable[[Any], str] = ".3g"

    def cell(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.key)
        text = self.spec(value) if callable(self.spec) else fmt(value, self.spec)
        return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column | str]) -> str:
    """A GitHub markdown table of ``rows`` (dicts) with the given columns."""
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    lines = [
        "| " + " | ".join(c.header or c.key for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    lines += ["| " + " | ".join(c.cell(r) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """A heading, an optional note and an optional table."""

    title: str
    note: str = ""
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    columns: Sequence[Column | str] = ()

    def markdown(self, level: int = 2) -> str:
        parts = ["#" * level + " " + self.title]
        if self.note:
            parts.append(self.note.strip())
        if self.columns:
            parts.append(markdown_table(self.rows, self.columns))
        return "\n\n".join(parts)


@dataclass
class Report:
    """A benchmark's output: a title, an introduction, sections; printed and written together."""

    title: str
    intro: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, title: str, note: str = "", rows=(), columns=()) -> Section:
        section = Section(title, note, list(rows), columns)
        self.sections.append(section)
        return section

    def markdown(self) -> str:
        parts = [f"# {self.title}"]
        if self.intro:
            parts.append(self.intro.strip())
        parts += [s.markdown() for s in self.sections]
        return "\n\n".join(parts) + "\n"

    def write(
        self, out_dir: str | os.PathLike, stem: str, data: Any, *, echo: bool = True
    ) -> dict[str, Path]:
        """Print the markdown (if ``echo``); write ``<stem>.md`` and ``<stem>.json`` atomically."""
        out = Path(out_dir)
        text = self.markdown()
        if echo:
            print(text, flush=True)
        return {
            "markdown": write_text_atomic(out / f"{stem}.md", text),
            "json": write_json_atomic(out / f"{stem}.json", data),
        }


__all__ = [
    "Column",
    "Report",
    "Section",
    "fmt",
    "machine_info",
    "markdown_table",
    "save_figure_atomic",
    "timed",
    "write_json_atomic",
    "write_text_atomic",
]
