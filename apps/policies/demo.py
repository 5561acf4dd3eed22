"""The policies app's section of ``scorelab demo``: a BESO policy on PointMaze Medium.

Scripted play data is generated (cached), a small BESO policy is trained with the core's
engine, and it is rolled out on fixed start/goal tasks: goal-conditioned in 3 DDIM steps,
goal-free through classifier-free guidance weight 0 (it should wander, not reach), and a
uniform random policy as the floor, beside the scripted expert on the same tasks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.app import DemoSection
from scorelab.training import read_metrics

from .api import load, policy_from_model, reseeded, train
from .config import ActConfig, DataConfig, PoliciesConfig
from .envs import env_info, eval_tasks

ENV = "pointmaze_medium"


@dataclass(frozen=True)
class Sizes:
    """How much work the section does (``QUICK`` is a smoke run, its numbers mean nothing)."""

    episodes: int = 300
    steps: int = 4000
    goals: int = 50
    shown: int = 12


FULL, QUICK = Sizes(), Sizes(episodes=10, steps=30, goals=3, shown=3)


def demo(out: Path, quick: bool = False) -> DemoSection:
    """Train a BESO policy on PointMaze Medium play and roll it out; figures and numbers."""
    from .experts import run_expert
    from .maze import Maze
    from .plots import plot_maze_panels
    from .rollout import RandomPolicy, rollout

    out = Path(out)
    z = QUICK if quick else FULL
    cfg = PoliciesConfig(data=DataConfig(env=ENV, episodes=z.episodes, cache_dir=out / "data"))
    cfg = dataclasses.replace(
        cfg,
        out=out / "run",
        train=dataclasses.replace(cfg.train, steps=z.steps, progress=False, resume=False),
    )
    result = train(cfg)
    tasks = reseeded(eval_tasks(ENV, z.goals, seed=0), 1)
    beso, run_cfg = load(cfg.out)
    policies: dict[str, Any] = {
        "BESO, 3 DDIM steps": beso,
        "BESO goal-free (guidance 0)": policy_from_model(
            beso.model, run_cfg, ActConfig(guidance=0.0)
        ),
        "random actions": RandomPolicy(env_info(ENV), seed=0),
    }
    results: dict[str, Any] = {}
    panels: dict[str, dict[str, Any]] = {}
    for label, policy in policies.items():
        res = rollout(policy, tasks, seed=1)
        results[label] = {"success": float(res.success.mean()), "nfe_per_call": policy.nfe}
        panels[label] = {"paths": res.paths[: z.shown], "goals": res.goals[: z.shown]}
    expert = run_expert(ENV, tasks, seed=1)
    results["scripted expert"] = {"success": float(np.mean([r["success"] for r in expert]))}
    panels["scripted expert"] = {
        "paths": [np.asarray(r["xy"]) for r in expert[: z.shown]],
        "goals": panels["BESO, 3 DDIM steps"]["goals"],
    }
    figures = [plot_maze_panels(out / "rollouts.png", Maze.named("medium"), panels).name]
    curve = [(r["step"], r["loss"]) for r in read_metrics(cfg.out / "metrics.jsonl") if "loss" in r]
    results["_train"] = {
        "steps": result.step,
        "episodes": z.episodes,
        "final_loss": result.last_log.get("loss"),
        "loss_curve": curve,
    }
    return DemoSection(
        "Goal-conditioned diffusion policy on PointMaze Medium (policies app)",
        _markdown(results, figures, z, quick),
        results,
        figures,
    )


def _markdown(results: dict[str, Any], figures: list[str], z: Sizes, quick: bool) -> str:
    lines = [
        f"BESO trained for {z.steps} steps on {z.episodes} episodes of scripted play, rolled out "
        f"on {z.goals} fixed start/goal tasks (PointMaze Medium, 600 steps each).",
        "",
        "| policy | success | model calls per action chunk |",
        "|---|---|---|",
    ]
    for label, r in results.items():
        if not label.startswith("_"):
            lines.append(f"| {label} | {r['success']:.2f} | {r.get('nfe_per_call', '–')} |")
    lines += ["", *(f"![{f}]({f})" for f in figures)]
    if quick:
        lines += ["", "Quick smoke run: the policy is barely trained, the numbers mean nothing."]
    return "\n".join(lines)
