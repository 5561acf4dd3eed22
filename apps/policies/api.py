"""The policies app's Python API: ``train``, ``load``, ``evaluate`` and ``make_dataset``.

from scorelab.apps.policies import PoliciesConfig, train, load, evaluate_policy
train(PoliciesConfig())                          # BESO on PointMaze Medium play, runs/policies
policy, cfg = load("runs/policies")              # acts in 3 DDIM steps
res = evaluate_policy(policy, "pointmaze_medium", goals=100, seeds=3)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scorelab.config import load_config
from scorelab.io import write_json_atomic
from scorelab.training import Trainer, TrainResult, load_weights, resolve_checkpoint
from scorelab.training.data import TensorData
from scorelab.training.trainer import Evaluator

from .config import ActConfig, DataConfig, PlayDataOptions, PoliciesConfig, PolicyEvalOptions
from .data import PlayData, cached_play_data, generate_play_data, load_play_data, save_play_data
from .envs import EnvInfo, env_info, eval_tasks
from .normalize import Normalizer
from .policy import Policy, build_policy_model, make_policy_loss
from .windows import Windows


def load_play(cfg: DataConfig, progress: bool = True) -> PlayData:
    """The play data a config names: a local file, or the scripted expert's (cached)."""
    if cfg.path is not None:
        return load_play_data(cfg.path)
    return cached_play_data(cfg.env, cfg.episodes, cfg.seed, cfg.cache_dir, progress=progress)


def goal_mode(cfg: DataConfig) -> str:
    """How training windows get their hindsight goal ("future" or "final")."""
    if cfg.goal != "auto":
        return cfg.goal
    return "final" if env_info(cfg.env).maze is None else "future"


def _check_dims(data: PlayData, info: EnvInfo) -> None:
    want = {"observations": info.obs_dim, "achieved_goals": info.goal_dim, "actions": info.act_dim}
    for key, dim in want.items():
        got = getattr(data, key).shape[1]
        if got != dim:
            raise ValueError(
                f"the play data's {key} have {got} columns but env {info.name!r} needs {dim}: "
                "set data.env to the env the data was recorded in"
            )


def make_trainer(
    cfg: PoliciesConfig, data: PlayData, evaluators: Mapping[str, Evaluator] | None = None
) -> Trainer:
    """The core's Trainer for ``cfg`` on ``data``: batches are window indices, goals drawn fresh."""
    info = env_info(cfg.data.env)
    _check_dims(data, info)
    windows = Windows(data, cfg.model.obs_history, cfg.model.chunk, goal_mode(cfg.data))
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
    model = build_policy_model(cfg.model, info, Normalizer.fit(data))
    return Trainer(
        model,
        make_policy_loss(cfg.model, windows),
        TensorData(torch.arange(len(windows))),
        cfg.train,
        cfg.out,
        run_config=cfg,
        evaluators=evaluators,
    )


def train(cfg: PoliciesConfig, evaluators: Mapping[str, Evaluator] | None = None) -> TrainResult:
    """Train a policy as ``cfg`` says; resumable, DDP-ready (``torchrun``)."""
    return make_trainer(cfg, load_play(cfg.data), evaluators).fit()


def policy_from_model(model: torch.nn.Module, cfg: PoliciesConfig, act: ActConfig | None = None):
    """A ``Policy`` acting with ``model`` (e.g. a Trainer's EMA) as ``cfg`` (or ``act``) says."""
    return Policy(model.eval(), cfg.model, act or cfg.act, env_info(cfg.data.env))


def load(
    checkpoint: str | Path,
    weights: str = "ema",
    device: str = "cpu",
    act: ActConfig | None = None,
) -> tuple[Policy, PoliciesConfig]:
    """A trained policy (EMA weights by default) and its run config, from a checkpoint or run."""
    ckpt = resolve_checkpoint(checkpoint)
    cfg = load_config(PoliciesConfig, ckpt / "config.json")
    info = env_info(cfg.data.env)
    model = build_policy_model(cfg.model, info, Normalizer.empty(info))
    model = load_weights(model, ckpt, which=weights).to(device)
    return policy_from_model(model, cfg, act), cfg


def _act_override(cfg: ActConfig, opts: PolicyEvalOptions) -> ActConfig:
    changes = {k: getattr(opts, k) for k in ("sampler", "steps", "guidance")}
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})


def reseeded(tasks: list, seed: int) -> list:
    """Tasks redrawn for rollout ``seed``: PointMaze keeps the start and goal cells and redraws
    the reset noise; Fetch's seed sets block and goal, so it gets a new set of tasks (the same
    for every policy)."""
    return [dataclasses.replace(t, seed=t.seed + 7919 * seed) for t in tasks]


def evaluate_policy(
    policy: Any,
    env: str,
    *,
    goals: int = 100,
    seeds: int | Sequence[int] = 3,
    routes: int = 6,
    repeats: int = 16,
    progress: bool = False,
) -> dict[str, Any]:
    """Roll ``policy`` out on ``goals`` fixed tasks per seed: success, latency, multimodality.

    ``seeds`` is a count (seeds 0..n-1) or the rollout seeds themselves. The tasks are the
    same for every policy (see ``reseeded``); a seed also seeds the policy's sampling noise.
    The rollouts are returned under ``"_runs"`` (for figures; not JSON).
    """
    from .metrics import success_stats
    from .rollout import act_latency, rollout

    tasks = eval_tasks(env, goals, seed=0)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    rates, runs = [], []
    t0 = time.perf_counter()
    for s in seeds:
        res = rollout(policy, reseeded(tasks, s), seed=s, progress=progress)
        rates.append(float(res.success.mean()))
        runs.append(res)
    reached = [r.steps[r.success].mean() for r in runs if r.success.any()]
    out: dict[str, Any] = {
        "env": env,
        "goals": goals,
        "seeds": seeds,
        "success": success_stats(rates),
        "success_per_seed": rates,
        "steps_to_success": float(np.mean(reached)) if reached else None,
        "eval_seconds": time.perf_counter() - t0,
        "latency": act_latency(policy, env),
        "nfe_per_call": getattr(policy, "nfe", 0),
    }
    if env_info(env).maze is not None and routes > 0:
        out["multimodality"] = route_multimodality(policy, env, routes, repeats)
    out["_runs"] = runs  # for plots; dropped before writing JSON
    return out


def route_multimodality(policy: Any, env: str, pairs: int, repeats: int) -> dict[str, Any]:
    """Routes the policy and the expert take between the same cells (PointMaze)."""
    from .experts import run_expert
    from .maze import Maze
    from .metrics import multimodal_pairs, multimodality, pair_tasks, route_samples
    from .rollout import rollout

    maze = Maze.named(env_info(env).maze)
    tasks = pair_tasks(env, multimodal_pairs(maze, pairs, seed=0), repeats, seed=0)
    ours = route_samples(rollout(policy, tasks, seed=0), tasks, maze)
    expert = route_samples(run_expert(env, tasks, seed=0), tasks, maze)
    return multimodality(ours, expert)


def evaluate(opts: PolicyEvalOptions) -> dict[str, Any]:
    """``scorelab evaluate policies``: rollouts of a checkpoint, written to ``eval.json``."""
    ckpt = resolve_checkpoint(opts.checkpoint)
    policy, cfg = load(ckpt, opts.weights, opts.device)
    policy = policy_from_model(policy.model, cfg, _act_override(cfg.act, opts))
    res = evaluate_policy(
        policy,
        cfg.data.env,
        goals=opts.goals,
        seeds=opts.seeds,
        routes=opts.routes,
        repeats=opts.repeats,
        progress=opts.progress,
    )
    out = Path(opts.out) if opts.out is not None else ckpt.parent.parent / "eval"
    runs = res.pop("_runs")
    from .plots import plot_paths

    res["figure"] = str(plot_paths(out / "rollouts.png", cfg.data.env, {"policy": runs[0]}))
    res["checkpoint"] = str(ckpt)
    res["act"] = dataclasses.asdict(policy.act_cfg)
    write_json_atomic(out / "eval.json", res)
    return {
        "success_mean": res["success"]["mean"],
        "success_ci95": res["success"]["ci95"],
        "latency_ms": res["latency"]["median_ms"],
        **(
            {"route_entropy": res["multimodality"]["entropy_mean"]}
            if "multimodality" in res
            else {}
        ),
        "written": str(out / "eval.json"),
    }


def make_dataset(opts: PlayDataOptions) -> Path:
    """``scorelab data policies``: generate scripted play data and write it as .npz."""
    data = generate_play_data(opts.env, opts.episodes, opts.seed, progress=opts.progress)
    return save_play_data(data, opts.out)
