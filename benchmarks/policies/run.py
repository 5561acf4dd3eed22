"""BESO vs GCBC vs a many-step DDPM policy: the same play data, the same goals, the same budget.

    python -m benchmarks.policies.run                      # full run (see docs/policies.md)
    python -m benchmarks.policies.run --quick              # smoke run (tiny data, few steps)
    python -m benchmarks.policies.run --envs pointmaze_medium --seeds 3
    scorelab bench policies

Per env: scripted play data (cached); for every training seed, BESO, GCBC and the DDPM policy
are trained with the same TrainConfig (steps, batch, optimizer: the same CPU budget in steps;
the wall time is reported); BESO acts with 1, 3 and 10 DDIM steps, DDPM with 50 ancestral
steps, GCBC in one forward pass. Every method is rolled out on the same fixed tasks (start and
goal cells / Fetch reset seeds), seed s drawing the env's reset noise and the policy's noise.
Success is the mean over training seeds with a 95% t-interval; the scripted expert and a
uniform random policy on the same tasks bound it. Multimodality (PointMaze): route entropy
over repeated rollouts between fixed cells with several shortest routes, against the expert's.
Latency: one batch-1 ``act`` call on this CPU (median), and per executed action.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from scorelab.apps.policies import ActConfig, DataConfig, ModelConfig, PoliciesConfig
from scorelab.apps.policies.api import (
    evaluate_policy,
    load_play,
    make_trainer,
    policy_from_model,
    reseeded,
)
from scorelab.apps.policies.envs import ENV_NAMES, env_info, eval_tasks
from scorelab.apps.policies.experts import run_expert
from scorelab.apps.policies.metrics import success_stats
from scorelab.apps.policies.plots import plot_paths
from scorelab.apps.policies.rollout import RandomPolicy, rollout

from ..harness import Column, Report, machine_info, timed

DEFAULT_OUT = Path(__file__).resolve().parent / "results"

#: (label, trained model, act config) of every evaluated policy; one trained model per key.
METHODS: tuple[tuple[str, str, ActConfig | None], ...] = (
    ("BESO, 1 step", "beso", ActConfig(sampler="ddim", steps=1)),
    ("BESO, 3 steps", "beso", ActConfig(sampler="ddim", steps=3)),
    ("BESO, 10 steps", "beso", ActConfig(sampler="ddim", steps=10)),
    ("DDPM policy, 50 steps", "ddpm", ActConfig(sampler="ancestral", steps=50, grid="uniform")),
    ("GCBC", "gcbc", None),
)
#: trained models: their ModelConfig (GCBC is the purely goal-conditioned baseline: it never
#: sees a dropped goal)
MODELS = {
    "beso": ModelConfig(kind="beso"),
    "ddpm": ModelConfig(kind="ddpm"),
    "gcbc": ModelConfig(kind="gcbc", goal_dropout=0.0),
    "beso_paper_sigma": ModelConfig(kind="beso", sigma_max=1.0, sigma_scale=0.5),
}
#: the noise-range ablation, run on the first env only: BESO with its configs' sigma range
ABLATION = (("BESO, 3 steps, sigma <= 1 (BESO's configs)", "beso_paper_sigma", ActConfig()),)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--envs", nargs="+", default=list(ENV_NAMES), choices=ENV_NAMES)
    p.add_argument("--train-seeds", type=int, default=1, help="models trained per method")
    p.add_argument("--seeds", type=int, default=3, help="rollout seeds per trained model")
    p.add_argument("--goals", type=int, default=100, help="evaluation tasks per env")
    p.add_argument("--steps", type=int, default=None, help="training steps of every method")
    p.add_argument("--episodes", type=int, default=None, help="play episodes per env")
    p.add_argument("--batch", type=int, default=None, help="training batch of every method")
    p.add_argument("--routes", type=int, default=6, help="PointMaze pairs for multimodality")
    p.add_argument("--repeats", type=int, default=16, help="rollouts per multimodality pair")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--no-ablation", action="store_true", help="skip the sigma-range ablation")
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny data and training")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--runs", type=Path, default=Path("runs/bench/policies"))
    return p.parse_args(argv)


def train_kind(
    kind: str, env: str, data: Any, seed: int, steps: int, batch: int, run_dir: Path
) -> tuple[PoliciesConfig, torch.nn.Module, float]:
    """Train one model kind on ``data``; returns its config, EMA weights and wall time."""
    train = dataclasses.replace(
        PoliciesConfig().train,
        steps=steps,
        batch_size=batch,
        seed=seed,
        progress=False,
        resume=False,
    )
    cfg = PoliciesConfig(data=DataConfig(env=env), model=MODELS[kind], train=train, out=run_dir)
    trainer = make_trainer(cfg, data)
    _, seconds = timed(trainer.fit)
    return cfg, trainer.sampling_model, seconds


def _evaluate(
    label: str, policy: Any, env: str, seeds: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """``evaluate_policy`` on the benchmark's tasks and seeds, logged as it goes."""
    res = evaluate_policy(
        policy, env, goals=args.goals, seeds=seeds, routes=args.routes, repeats=args.repeats
    )
    print(f"  {label}: success {res['success']['mean']:.2f}", file=sys.stderr, flush=True)
    return res


def bench_env(
    env: str, args: argparse.Namespace, steps: int, episodes: int, ablate: bool
) -> dict[str, Any]:
    """Every method on one env: success over seeds, latency, multimodality, example paths."""
    data = load_play(DataConfig(env=env, episodes=episodes, cache_dir=args.runs / "data"))
    tasks = eval_tasks(env, args.goals, seed=0)
    methods = METHODS + (ABLATION if ablate else ())
    rows: dict[str, dict[str, Any]] = {
        label: {"method": label, "rates": [], "train_s": []} for label, _, _ in methods
    }
    shown: dict[str, Any] = {}
    for ts in range(args.train_seeds):
        seeds = [ts * args.seeds + s for s in range(args.seeds)]
        for kind in dict.fromkeys(k for _, k, _ in methods):
            run_dir = args.runs / env / kind / f"seed{ts}"
            cfg, model, secs = train_kind(kind, env, data, ts, steps, args.batch, run_dir)
            print(f"[{env}] {kind} seed {ts}: {steps} steps in {secs:.0f} s", file=sys.stderr)
            for label, k, act in methods:
                if k == kind:
                    policy = policy_from_model(model, cfg, act)
                    res = _evaluate(label, policy, env, seeds, args)
                    row = rows[label]
                    row["rates"] += res["success_per_seed"]
                    row["train_s"].append(secs)
                    row.setdefault("nfe", policy.nfe)  # the rest: the first model's
                    row.setdefault("steps_to_goal", res["steps_to_success"])
                    row.setdefault("latency", res["latency"])
                    if "multimodality" in res:
                        row.setdefault("multimodality", res["multimodality"])
                    if k != "beso_paper_sigma":
                        shown.setdefault(label, res["_runs"][0])
    expert = run_expert(env, reseeded(tasks, 0), seed=0)
    rand = rollout(RandomPolicy(env_info(env), seed=0), reseeded(tasks, 0), seed=0)
    shown["scripted expert"] = SimpleNamespace(
        success=np.array([r["success"] for r in expert]),
        paths=[np.asarray(r["xy"]) for r in expert],
        goals=None,
    )
    refs: dict[str, Any] = {
        "expert": float(np.mean([r["success"] for r in expert])),
        "random": float(rand.success.mean()),
    }
    if env_info(env).maze is not None and args.routes > 0:
        refs["expert_vs_expert_tv"] = expert_self_tv(env, args.routes, args.repeats)
    return {
        "rows": [_summary(env, r) for r in rows.values()],
        "refs": refs,
        "shown": shown,
        "data": {"episodes": episodes, "transitions": len(data)},
    }


def expert_self_tv(env: str, pairs: int, repeats: int) -> float:
    """TV between two independent expert route samples of the benchmark's size (the floor)."""
    from scorelab.apps.policies.maze import Maze
    from scorelab.apps.policies.metrics import (
        multimodal_pairs,
        multimodality,
        pair_tasks,
        route_samples,
    )

    maze = Maze.named(env_info(env).maze)
    tasks = pair_tasks(env, multimodal_pairs(maze, pairs, seed=0), repeats, seed=0)
    a = route_samples(run_expert(env, tasks, seed=1), tasks, maze)
    b = route_samples(run_expert(env, tasks, seed=2), tasks, maze)
    return float(multimodality(a, b)["tv_mean"])


def _summary(env: str, row: dict[str, Any]) -> dict[str, Any]:
    st = success_stats(row["rates"])
    lat = row.get("latency", {})
    mm = row.get("multimodality")
    return {
        "env": env,
        "method": row["method"],
        "nfe": row.get("nfe"),
        "success": st["mean"],
        "ci_lo": st["ci95"][0],
        "ci_hi": st["ci95"][1],
        "success_per_seed": row["rates"],
        "steps_to_goal": row.get("steps_to_goal"),
        "latency_ms": lat.get("median_ms"),
        "latency_ms_per_action": lat.get("median_ms_per_action"),
        "route_entropy": mm["entropy_mean"] if mm else None,
        "expert_route_entropy": mm["expert_entropy_mean"] if mm else None,
        "route_tv": mm["tv_mean"] if mm else None,
        "multimodality": mm,
        "train_s": float(np.mean(row["train_s"])),
    }


COLUMNS = [
    Column("env"),
    Column("method"),
    Column("nfe", "NFE/call"),
    Column("success", "success", ".2f"),
    Column("ci_lo", "95% lo", ".2f"),
    Column("ci_hi", "95% hi", ".2f"),
    Column("steps_to_goal", "steps to goal", ".0f"),
    Column("route_entropy", "route H (nats)", ".2f"),
    Column("expert_route_entropy", "expert H", ".2f"),
    Column("route_tv", "TV to expert", ".2f"),
    Column("latency_ms", "ms/call", ".2f"),
    Column("latency_ms_per_action", "ms/action", ".3f"),
    Column("train_s", "train s", ".0f"),
]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = args.steps or (150 if args.quick else 6000)
    episodes = args.episodes or (12 if args.quick else 400)
    args.batch = args.batch or (32 if args.quick else PoliciesConfig().train.batch_size)
    if args.quick:
        args.goals, args.seeds, args.train_seeds = min(args.goals, 6), min(args.seeds, 2), 1
        args.routes, args.repeats = min(args.routes, 2), min(args.repeats, 3)
    results = {
        env: bench_env(env, args, steps, episodes, ablate=i == 0 and not args.no_ablation)
        for i, env in enumerate(args.envs)
    }
    rows = [r for res in results.values() for r in res["rows"]]
    refs = [{"env": env, **res["refs"]} for env, res in results.items()]
    report = Report(
        "Policies: BESO vs GCBC vs DDPM policy",
        intro=(
            f"{args.train_seeds} trained model(s) per method x {args.seeds} rollout seeds, "
            f"{args.goals} fixed tasks per env, {steps} training "
            f"steps per method (batch {args.batch}), {episodes} play "
            "episodes per env. Success: mean over seeds with a 95% t-interval."
        ),
    )
    report.add("Success, multimodality, latency", rows=rows, columns=COLUMNS)
    report.add(
        "Bounds on the same tasks",
        "The scripted expert that made the play data, a uniform random policy, and the TV "
        "distance between two independent expert route samples of the same size (the floor of "
        "the TV column above).",
        refs,
        [
            Column("env"),
            Column("expert", spec=".2f"),
            Column("random", spec=".2f"),
            Column("expert_vs_expert_tv", "expert-vs-expert TV", ".2f"),
        ],
    )
    stem = "policies_quick" if args.quick else "policies"
    figures = [
        str(plot_paths(args.out / f"{stem}_{env}.png", env, res["shown"], max_paths=40))
        for env, res in results.items()
    ]
    payload = {
        "machine": machine_info(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_steps": steps,
        "episodes": episodes,
        "rows": rows,
        "refs": refs,
        "figures": figures,
        "data": {env: res["data"] for env, res in results.items()},
    }
    report.write(args.out, stem, payload)
    return payload


if __name__ == "__main__":
    main()
