"""Smoke test of the policies benchmark: ``--quick`` on FetchPush runs end to end."""

from __future__ import annotations

import json

from scorelab.benchmarks.policies.run import METHODS, main


def test_quick_policies_benchmark(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    args = ["--quick", "--envs", "fetch_push", "--threads", "1"]
    main([*args, "--out", str(out), "--runs", str(runs)])
    data = json.loads((out / "policies_quick.json").read_text())
    labels = [r["method"] for r in data["rows"]]
    assert labels[: len(METHODS)] == [label for label, _, _ in METHODS]
    assert "BESO, 3 steps, sigma <= 1 (BESO's configs)" in labels  # the noise-range ablation
    for row in data["rows"]:
        assert 0.0 <= row["success"] <= 1.0 and len(row["success_per_seed"]) == 2
        assert row["latency_ms"] > 0 and row["nfe"] >= 1
    nfe = {r["method"]: r["nfe"] for r in data["rows"]}
    assert nfe["BESO, 3 steps"] == 3 and nfe["DDPM policy, 50 steps"] == 50 and nfe["GCBC"] == 1
    assert data["refs"][0]["expert"] >= 0.8  # the scripted expert on the same tasks
    assert (out / "policies_quick.md").read_text().startswith("# Policies")
    assert (out / "policies_quick_fetch_push.png").stat().st_size > 0
