"""Two processes under ``torchrun`` on CPU (gloo): train, stay identical, one checkpoint set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from scorelab.training import load_weights, read_metrics

from .helpers import tiny_model

ROOT = Path(__file__).resolve().parents[3]


def _torchrun(out: Path, nproc: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={nproc}", "-m", "tests.core.training.ddp_worker", str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_two_process_ddp_run(tmp_path):
    proc = _torchrun(tmp_path, 2)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["step"] == r1["step"] == 30
    for k in r0["params"]:  # replicas identical after 30 all-reduced steps
        assert torch.equal(r0["params"][k], r1["params"][k]), k
    assert r0["has_ema"] and not r1["has_ema"]  # the EMA lives on rank 0 only

    run = tmp_path / "run"
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step_00000010", "step_00000020", "step_00000030"]
    manifest = json.loads((run / "checkpoints" / ckpts[-1] / "trainer.json").read_text())
    assert manifest["world_size"] == 2 and len(manifest["rng"]) == 2
    # the checkpoint holds the trained weights, and training moved them
    model = load_weights(tiny_model(), run, which="model")
    for k, v in model.state_dict().items():
        assert torch.equal(v, r0["params"][k])
    assert not torch.equal(next(tiny_model().parameters()), next(model.parameters()))
    recs = [r for r in read_metrics(run / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in recs] == [5, 10, 15, 20, 25, 30]  # one writer, no duplicates
    assert recs[-1]["loss"] < recs[0]["loss"]
