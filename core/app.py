"""What an app gives the CLI: config, train/sample/evaluate, a data command, benchmarks, demo.

Apps register under the entry-point group ``scorelab.apps`` (see pyproject.toml), so the
CLI lists them without importing them and imports one only when it is asked for:

    [project.entry-points."scorelab.apps"]
    toy = "scorelab.apps.toy.app:APP"
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

GROUP = "scorelab.apps"


@dataclass
class CheckpointOptions:
    """What every command that starts from a trained checkpoint takes."""

    checkpoint: Path
    """a checkpoint folder, or a run folder (its newest checkpoint)"""
    sampler: str = "heun"
    """a core sampler name (euler, heun, dpmpp_2m, ddim, reverse_diffusion, pc, ...)"""
    steps: int = 50
    """sampler steps"""
    out: Path | None = None
    """output folder (default: a folder in the run)"""
    seed: int = 0
    weights: Literal["ema", "model"] = "ema"
    """which weights to use: the EMA (default) or the raw trained ones"""
    device: str = "auto"


@dataclass
class SampleOptions(CheckpointOptions):
    """``scorelab sample APP``: draw samples from a trained checkpoint (into <run>/samples)."""

    n: int = 1000
    """number of samples"""


@dataclass
class EvaluateOptions(CheckpointOptions):
    """``scorelab evaluate APP``: the app's metrics for a checkpoint (into <run>/eval)."""

    n: int = 2000
    """number of generated samples to evaluate"""


@dataclass
class DemoSection:
    """One section of the demo report: markdown (figures referenced by file name) + numbers."""

    title: str
    markdown: str
    results: dict[str, Any]
    figures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class App:
    """An app as the CLI sees it. ``config`` is a dataclass with ``train`` and ``out`` fields."""

    name: str
    summary: str
    config: type
    train: Callable[[Any], Any]
    sample: Callable[[Any], Path] | None = None
    evaluate: Callable[[Any], dict[str, Any]] | None = None
    sample_options: type = SampleOptions
    evaluate_options: type = EvaluateOptions
    benchmarks: tuple[str, ...] = ()
    """modules with ``main(argv)`` run by ``scorelab bench APP``"""
    demo: Callable[[Path, bool], DemoSection] | None = None
    """``demo(out_dir, quick)``: this app's section of ``scorelab demo``"""
    data: Callable[[Any], Path] | None = None
    """``scorelab data APP``: generate or convert a dataset, given ``data_options``"""
    data_options: type | None = None
    """the dataclass of ``scorelab data APP``'s options"""
    preset: Callable[[str], Any] | None = None
    """``preset(name)``: a full config to start from, chosen by ``--<preset_option> NAME``"""
    preset_option: str = "preset"
    """the config field whose value on the command line picks the preset (e.g. "dataset")"""


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)}


def app_names() -> list[str]:
    """Registered app names (nothing is imported)."""
    return sorted(_entry_points())


def load_app(name: str) -> App:
    """Import and return the app registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (is scorelab installed with pip install -e .?)"
        raise KeyError(f"unknown app {name!r}; registered apps: {known}")
    app = eps[name].load()
    if not isinstance(app, App):
        raise TypeError(f"entry point {eps[name].value} is not a scorelab.app.App")
    return app


__all__ = [
    "App",
    "CheckpointOptions",
    "DemoSection",
    "EvaluateOptions",
    "SampleOptions",
    "app_names",
    "load_app",
]
