"""Smoke test of the sampler benchmark: ``--quick`` runs end to end and writes sane outputs.

Runs in the project venv, where the peers (diffusers, k-diffusion) are not installed: they
must show up as unavailable, not crash the run.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from scorelab import samplers as S
from scorelab.benchmarks.core.methods import TOPICS

ROOT = Path(__file__).resolve().parents[2]


def _quick(module: str, out, timeout: int) -> subprocess.CompletedProcess:
    """Run a benchmark module with ``--quick`` into ``out``; fail with its stderr if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_quick_sampler_benchmark(tmp_path):
    proc = _quick("benchmarks.core.samplers", tmp_path, 120)
    data = json.loads((tmp_path / "samplers.json").read_text())
    assert (tmp_path / "samplers.md").read_text().startswith("# ")
    assert "## Peers" in proc.stdout

    meta = data["meta"]
    assert meta["torch_version"] and meta["cpu_count"] and meta["date"]
    targets = {t["target"] for t in data["targets"]}
    assert len(targets) == 4

    rows = data["rows"]
    for name in S.SAMPLERS.names():
        mine = [r for r in rows if r["sampler"] == name]
        assert {r["target"] for r in mine} == targets, f"{name}: missing targets"
        for r in mine:
            assert r.get("status") is None, f"{name} on {r['target']}: {r['status']}"
            assert math.isfinite(r["error"]) and r["error"] >= 0, r
            assert r["nfe"] >= 1 and r["ms_per_step"] > 0, r
    for r in rows:
        if r["target"].startswith("gaussian") and r["sampler"] in (
            "euler",
            "heun",
            "ddim",
            "dpmpp_2m",
        ):
            assert r["error_kind"] == "exact W2" and math.isfinite(r["error_vs_ode"])

    # every peer comparison is either a finished comparison or an explicit "unavailable"
    assert data["comparisons"]
    for c in data["comparisons"]:
        assert c["status"] == "ok" or c["status"].startswith("peer unavailable"), c
        if c["status"] == "ok":
            assert math.isfinite(c["error_ours"]) and math.isfinite(c["error_peer"])


def test_quick_training_benchmark(tmp_path):
    _quick("benchmarks.core.training", tmp_path, 300)
    data = json.loads((tmp_path / "training.json").read_text())
    assert [r["threads"] for r in data["engine_vs_plain"]] == [1, 2]
    assert [r["processes"] for r in data["processes"]] == [1, 2]
    for r in data["engine_vs_plain"]:
        assert r["plain_steps_per_s"] > 0 and r["engine_steps_per_s"] > 0
    assert "Engine vs plain PyTorch loop" in (tmp_path / "training.md").read_text()


@pytest.mark.parametrize("topic", list(TOPICS))
def test_quick_methods_benchmark(tmp_path, topic):
    """Each seed-method topic runs end to end and writes contract rows with finite errors."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.core.methods", "--quick", "--only", topic]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-4000:]
    data = json.loads((tmp_path / "methods.json").read_text())
    assert data["topics"][topic]["error"] is None
    rows = data["rows"]
    assert rows and all(r["topic"] == topic for r in rows)
    for r in rows:
        assert math.isfinite(r["error"]) and r["error"] >= 0, r
        assert r["metric"] and r["method"] and r["problem"], r
        if r["nfe"] is not None:
            assert r["nfe"] > 0, r
    assert TOPICS[topic][1] in (tmp_path / "methods.md").read_text()
