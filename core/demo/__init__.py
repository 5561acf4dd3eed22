"""The main job on the embedded defaults: ``scorelab demo`` (``make demo``).

Runs the core's exact-score section and the section of every registered app that has one
(``App.demo``), each into its own folder under ``--out``, then writes ``report.md`` (with
figures) and ``results.json`` (every number) beside them, atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..app import DemoSection, app_names, load_app
from ..io import write_json_atomic, write_text_atomic
from ..machine import machine_info


@dataclass
class DemoOptions:
    """``scorelab demo``: train, sample and evaluate on the embedded defaults; write a report."""

    out: Path = Path("runs/demo")
    """report folder: report.md, results.json, one sub-folder per section"""
    quick: bool = False
    """a smoke run (small sizes, seconds instead of minutes): numbers are not meaningful"""
    sections: tuple[str, ...] = ()
    """run only these sections (core and/or app names; default: all)"""
    threads: int = 2
    """torch intra-op threads"""


def section_runners() -> dict[str, Any]:
    """``name -> run(out, quick)`` for the core and every app with a demo section."""
    from .exact import section

    runners: dict[str, Any] = {"core": section}
    for name in app_names():
        app = load_app(name)
        if app.demo is not None:
            runners[name] = app.demo
    return runners


def render(sections: dict[str, tuple[DemoSection, float]], total: float, quick: bool) -> str:
    """The report's markdown: an overview table, then each section with its figures."""
    lines = ["# scorelab demo report", ""]
    if quick:
        lines += ["**Quick smoke run: sizes are cut down, the numbers are not meaningful.**", ""]
    lines += [
        f"Total {total:.0f} s on {machine_info()['cpu_count']} CPU core(s), torch "
        f"{torch.__version__}. Every number below is in `results.json`.",
        "",
        "| section | seconds |",
        "|---|---|",
    ]
    lines += [f"| {s.title} | {sec:.0f} |" for s, sec in sections.values()]
    for name, (s, _) in sections.items():
        md = s.markdown
        for f in s.figures:
            md = md.replace(f"]({f})", f"]({name}/{f})")
        lines += ["", f"## {s.title}", "", md]
    return "\n".join(lines) + "\n"


def run(opts: DemoOptions) -> dict[str, Any]:
    """Run the chosen sections and write the report; returns ``results.json``'s content."""
    torch.set_num_threads(opts.threads)
    runners = section_runners()
    chosen = list(opts.sections) or list(runners)
    unknown = [s for s in chosen if s not in runners]
    if unknown:
        raise ValueError(f"unknown demo section(s) {unknown}; known: {list(runners)}")
    t0 = time.perf_counter()
    done: dict[str, tuple[DemoSection, float]] = {}
    for name in chosen:
        t1 = time.perf_counter()
        print(f"[demo] section {name}", flush=True)
        done[name] = (runners[name](opts.out / name, opts.quick), time.perf_counter() - t1)
    total = time.perf_counter() - t0
    results = {
        "quick": opts.quick,
        "seconds": total,
        "machine": machine_info(),
        "sections": {
            n: {"title": s.title, "seconds": sec, "results": s.results}
            for n, (s, sec) in done.items()
        },
    }
    write_json_atomic(opts.out / "results.json", results)
    write_text_atomic(opts.out / "report.md", render(done, total, opts.quick))
    return results


def main(argv: list[str] | None = None) -> None:
    """``scorelab demo`` / ``python -m scorelab.demo``."""
    import tyro

    opts = tyro.cli(DemoOptions, args=argv, prog="scorelab demo", use_underscores=True)
    results = run(opts)
    print(f"wrote {opts.out / 'report.md'} in {results['seconds']:.0f} s")


__all__ = ["DemoOptions", "main", "render", "run", "section_runners"]
