"""Training-engine throughput: ours vs a minimal plain-PyTorch loop, and 1 vs 2 processes.

    python -m benchmarks.core.training            # full run (~3 min on 2 CPU cores)
    python -m benchmarks.core.training --quick    # smoke run
    scorelab bench core training

Both loops train the same fixed MLP score model (3 x 256, SiLU, time as an input) by DSM on
the VP path with AdamW, linear warm-up, gradient clipping at 1, an EMA of the weights and
``loss.item()`` every step: the same arithmetic. The engine adds what a user gets for
free: a resumable sharded data stream, the non-finite guard, JSONL metrics, the progress
bar, and a final checkpoint. Repeats alternate between the two so drift hits both alike.
The process comparison launches the same config with ``torchrun`` on 1 and 2 processes
(DDP over gloo); the global batch is the same, so each of 2 processes does half the work.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scorelab import VP, DSMLoss, Predictor
from scorelab.training import TensorData, TrainConfig, Trainer, lr_at

from ..harness import Column, Report, machine_info

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
LOSS = DSMLoss(VP())


class MLP(nn.Module):
    """eps(x, t): the fixed benchmark model, (x, t) -> 3 hidden layers of 256 -> x."""

    def __init__(self, dim: int = 2, hidden: int = 256) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(dim + 1, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.f(torch.cat([x, t[:, None]], 1))


def make_model(seed: int = 0) -> Predictor:
    torch.manual_seed(seed)
    return Predictor(MLP(), "eps")


def make_data(n: int = 65_536) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ang = torch.rand(n, generator=g) * 2 * math.pi
    return torch.stack([ang.cos(), ang.sin()], 1) * 2 + 0.1 * torch.randn(n, 2, generator=g)


def config(steps: int, batch: int) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        batch_size=batch,
        lr=1e-3,
        warmup_steps=100,
        grad_clip=1.0,
        ema_decay=0.999,
        ema_warmup=False,
        log_every=50,
        checkpoint_every=0,
        progress=True,
    )


def plain_loop(data: torch.Tensor, cfg: TrainConfig) -> float:
    """The same training written as a bare loop; returns seconds."""
    t0 = time.perf_counter()
    model = make_model()
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    ema = copy.deepcopy(model).requires_grad_(False)
    ema_params = list(ema.parameters())
    torch.manual_seed(cfg.seed)
    perm, pos = torch.randperm(len(data)), 0
    for step in range(cfg.steps):
        if pos + cfg.batch_size > len(data):
            perm, pos = torch.randperm(len(data)), 0
        x = data[perm[pos : pos + cfg.batch_size]]
        pos += cfg.batch_size
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.lr_decay)
        loss = LOSS(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        loss.item()
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1.0 - cfg.ema_decay)
    return time.perf_counter() - t0


def engine(data: torch.Tensor, cfg: TrainConfig, run_dir: Path) -> float:
    """The training engine on the same model and data; returns seconds."""
    t0 = time.perf_counter()
    model = make_model()
    Trainer(model, lambda m, b: LOSS(m, b), TensorData(data), cfg, run_dir).fit()
    return time.perf_counter() - t0


def worker(out: Path, steps: int, batch: int) -> None:
    """One torchrun process: train with the engine, rank 0 writes the wall time."""
    torch.set_num_threads(1)
    data = make_data()
    plain_loop(data, config(50, batch))  # warm-up, as in the in-process runs
    cfg = config(steps, batch)
    cfg.progress = False
    sec = engine(data, cfg, out / "run")
    if int(os.environ.get("RANK", "0")) == 0:
        (out / "time.json").write_text(json.dumps({"seconds": sec}))


def torchrun(nproc: int, steps: int, batch: int) -> float:
    """Wall seconds of rank 0's engine run under torchrun with ``nproc`` processes."""
    with tempfile.TemporaryDirectory() as tmp:
        module = __spec__.name if __spec__ else "benchmarks.core.training"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += [f"--nproc_per_node={nproc}", "-m", module, "--worker", tmp]
        cmd += ["--steps", str(steps), "--batch", str(batch)]
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"torchrun with {nproc} processes failed:\n{proc.stderr[-3000:]}")
        return json.loads((Path(tmp) / "time.json").read_text())["seconds"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run (seconds)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--steps", type=int, default=None, help="steps per run")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    steps = args.steps or (150 if args.quick else 1500)
    if args.worker is not None:
        worker(args.worker, steps, args.batch)
        return {}
    repeats = args.repeats or (1 if args.quick else 5)
    data = make_data()
    times: dict[str, list[float]] = {"plain": [], "engine": []}
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times = {"plain": [], "engine": []}
        plain_loop(data, config(50, args.batch))  # warm-up: allocator, kernels
        for _ in range(repeats):
            times["plain"].append(plain_loop(data, config(steps, args.batch)))
            with tempfile.TemporaryDirectory() as tmp:
                times["engine"].append(engine(data, config(steps, args.batch), Path(tmp)))
        plain, eng = statistics.median(times["plain"]), statistics.median(times["engine"])
        rows.append(
            {
                "threads": threads,
                "plain_steps_per_s": steps / plain,
                "engine_steps_per_s": steps / eng,
                "overhead_pct": 100 * (eng / plain - 1),
                "plain_seconds": times["plain"],
                "engine_seconds": times["engine"],
            }
        )
    proc_rows = []
    for nproc in (1, 2):
        sec = torchrun(nproc, steps, args.batch)
        proc_rows.append(
            {
                "processes": nproc,
                "threads_per_process": 1,
                "steps_per_s": steps / sec,
                "samples_per_s": steps * args.batch / sec,
                "seconds": sec,
            }
        )
    for r in proc_rows:
        r["speedup"] = r["steps_per_s"] / proc_rows[0]["steps_per_s"]
    command = "python -m benchmarks.core.training" + (" --quick" if args.quick else "")
    meta = machine_info(command=command, steps=steps, batch=args.batch, repeats=repeats)
    report = Report(
        "Training engine throughput",
        f"`{command}`: {steps} steps of batch {args.batch}, a 3 x 256 MLP score model (DSM, "
        f"VP path), median of {repeats} alternating repeats. Overhead = engine time / plain "
        "loop time - 1 (the engine's budget is 10 %). The engine run includes its set-up, "
        "JSONL logging every 50 steps, the progress bar and the final checkpoint.",
    )
    report.add(
        "Engine vs plain PyTorch loop (one process)",
        rows=rows,
        columns=[
            Column("threads", "torch threads"),
            Column("plain_steps_per_s", "plain loop steps/s", ".1f"),
            Column("engine_steps_per_s", "engine steps/s", ".1f"),
            Column("overhead_pct", "overhead %", "+.1f"),
        ],
    )
    report.add(
        "1 vs 2 processes (torchrun, DDP over gloo, same global batch)",
        note="Each process uses one torch thread; on 2 cores the 2-process run splits each "
        "batch in half and all-reduces the gradients every step.",
        rows=proc_rows,
        columns=[
            Column("processes"),
            Column("steps_per_s", "steps/s", ".1f"),
            Column("samples_per_s", "samples/s", ".0f"),
            Column("speedup", "speed-up", ".2f"),
        ],
    )
    data_out = {"meta": meta, "engine_vs_plain": rows, "processes": proc_rows}
    report.write(args.out, "training", data_out)
    return data_out


if __name__ == "__main__":
    main()
