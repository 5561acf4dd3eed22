"""Seed-methods benchmark: every core seed method against its exact answer, in one table.

Run from the repository root::

    python -m benchmarks.core.methods            # full run, see the JSON's wall times
    python -m benchmarks.core.methods --quick    # smoke run, about a minute
    python -m benchmarks.core.methods --only fkc inverse

Writes ``<out>/methods.md`` (also printed) and ``<out>/methods.json``; ``--out`` defaults to
``benchmarks/core/results``. Each topic lives in ``methods_<topic>.py`` and returns rows of
one shape: the method and the problem, a labelled error metric, our error, NFE per sample and
wall time, beside a named baseline (the same sampler without the correction, a many-step
reference, the teacher, or the competing method) measured in the same run on the same input.
Every topic runs with one torch thread and fixed seeds.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..harness import Column, Report, machine_info, markdown_table

DEFAULT_OUT = Path(__file__).resolve().parent / "results"

#: topic -> (module, section title)
TOPICS: dict[str, tuple[str, str]] = {
    "interpolant": (
        "methods_interpolant",
        "Stochastic interpolants and the Fokker-Planck regularizer",
    ),
    "fkc": ("methods_fkc", "Feynman-Kac correctors with SMC resampling"),
    "dmcmc": ("methods_dmcmc", "Denoising MCMC"),
    "mrs": ("methods_mrs", "Mean-reverting SDE (MRS) and multiplicative diffusion (GBM)"),
    "inverse": ("methods_inverse", "Inverse problems: DPS and ensemble SMC"),
    "editing": ("methods_editing", "Editing along the ODE: SDEdit and CODE"),
    "distill": ("methods_distill", "Distillation: CTM and SiD students"),
}

KEYS = (
    "method",
    "problem",
    "metric",
    "error",
    "nfe",
    "wall_s",
    "baseline",
    "baseline_error",
    "baseline_nfe",
    "baseline_wall_s",
    "note",
)

COLUMNS = [
    Column("method"),
    Column("problem"),
    Column("metric"),
    Column("error", "error", ".3g"),
    Column("nfe", "NFE"),
    Column("wall_s", "wall s", ".2f"),
    Column("baseline"),
    Column("baseline_error", "baseline error", ".3g"),
    Column("baseline_nfe", "baseline NFE"),
    Column("baseline_wall_s", "baseline wall s", ".2f"),
    Column("note"),
]


def check_row(topic: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row with exactly the contract's keys (missing optional ones become None)."""
    unknown = set(row) - set(KEYS)
    if unknown:
        raise ValueError(f"{topic}: row has unknown keys {sorted(unknown)}")
    for key in ("method", "problem", "metric", "error"):
        if row.get(key) is None:
            raise ValueError(f"{topic}: row lacks {key!r}: {row}")
    return {k: row.get(k) for k in KEYS}


def print_topic(run: Callable[..., list[dict[str, Any]]]) -> None:
    """A topic module's ``__main__``: print its rows (``--quick`` for the smoke sizes)."""
    torch.set_num_threads(1)
    rows = [check_row("topic", r) for r in run(quick="--quick" in sys.argv[1:])]
    print(markdown_table(rows, COLUMNS))


def run_topic(topic: str, quick: bool) -> tuple[list[dict[str, Any]], float, str | None]:
    """Rows of one topic, its wall time and an error message (None when it ran)."""
    module = importlib.import_module(f"{__package__ or 'benchmarks.core'}.{TOPICS[topic][0]}")
    t0 = time.perf_counter()
    try:
        rows = [check_row(topic, r) for r in module.run(quick=quick)]
    except Exception:  # one broken topic must not hide the others' results
        return [], time.perf_counter() - t0, traceback.format_exc(limit=5)
    return rows, time.perf_counter() - t0, None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run (tiny sizes)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--only", nargs="+", choices=list(TOPICS), default=None, help="topics to run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    topics = args.only or list(TOPICS)
    command = "python -m benchmarks.core.methods" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(topics)
    report = Report(
        "Seed methods against exact answers",
        f"`{command}`: each core seed method on reference problems with a closed-form answer "
        "(Gaussian and Gaussian-mixture targets with exact scores, float64), beside a baseline "
        "measured in the same run. NFE = model evaluations per sample (gradients through the "
        "model are named in the note); wall = seconds for the whole sample set on one thread.",
    )
    data: dict[str, Any] = {"topics": {}, "rows": []}
    failed = []
    for topic in topics:
        rows, seconds, error = run_topic(topic, args.quick)
        data["topics"][topic] = {"seconds": seconds, "error": error}
        data["rows"] += [{"topic": topic, **r} for r in rows]
        note = f"Topic `{topic}` ran in {seconds:.0f} s."
        if error:
            failed.append(topic)
            note += f"\n\nFAILED:\n\n```\n{error}\n```"
        report.add(TOPICS[topic][1], note, rows, COLUMNS if rows else ())
    data["meta"] = machine_info(command=command, quick=args.quick, topics=topics)
    report.write(args.out, "methods", data)
    if failed:
        raise SystemExit(f"topics failed: {', '.join(failed)}")
    return data


if __name__ == "__main__":
    main()
