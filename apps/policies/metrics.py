"""Evaluation metrics of the policies app.

- ``success_stats``: mean success rate over seeds (training or evaluation seeds) with the
  sample std and a 95% Student-t interval; ``wilson_interval``: the Wilson score interval of
  one run's k successes out of n tasks.
- Multimodality in PointMaze (a proxy of our own, in the spirit of BESO's and Diffusion
  Policy's "does the policy keep the expert's modes" checks): every successful trajectory
  between the same start and goal cell is reduced to its *route* (``Maze.route``: the
  loop-erased sequence of grid cells it visits); per (start, goal) pair we compare the
  policy's route distribution with the scripted expert's by entropy (nats), the number of
  distinct routes and the total variation distance. Only successful trajectories count;
  ``multimodality`` reports how many were used. The empirical TV is biased upward at small
  samples (two expert runs of 10 routes per pair differ by TV ~0.25 in PointMaze Medium):
  compare a policy with an expert-vs-expert run of the same size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .envs import Task

Cell = tuple[int, int]
Pair = tuple[Cell, Cell]
Route = tuple[Cell, ...]


def success_stats(rates: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std and 95% Student-t interval ``ci95`` of per-seed success rates.

    With one rate the std and the interval are NaN (strict JSON writes them as null).
    """
    from scipy import stats

    x = np.asarray(rates, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("success_stats needs at least one rate")
    mean = float(x.mean())
    if n < 2:
        nan = float("nan")
        return {"mean": mean, "std": nan, "ci95": (nan, nan), "n": 1}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": (mean - half, mean + half), "n": n}


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n."""
    from scipy import stats

    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def route_distribution(routes: Sequence[Route]) -> dict[Route, float]:
    """Empirical distribution of routes: route -> relative frequency."""
    counts = Counter(tuple(map(tuple, r)) for r in routes)
    total = sum(counts.values())
    return {r: c / total for r, c in counts.items()}


def route_entropy(dist: dict[Route, float]) -> float:
    """Shannon entropy of a route distribution, in nats."""
    return float(-sum(p * math.log(p) for p in dist.values() if p > 0))


def total_variation(p: dict[Any, float], q: dict[Any, float]) -> float:
    """Total variation distance between two discrete distributions (0 equal, 1 disjoint)."""
    return 0.5 * sum(abs(p.get(r, 0.0) - q.get(r, 0.0)) for r in set(p) | set(q))


def multimodality(
    policy_routes: dict[Pair, list[Route]], expert_routes: dict[Pair, list[Route]]
) -> dict[str, Any]:
    """Per-pair and mean route entropies of policy and expert, distinct routes, mean TV.

    Keys without "expert" describe the policy. Means run over the pairs where both have at
    least one successful route; the pairs where the policy never succeeded are counted in
    ``pairs_without_policy_routes``.
    """
    per_pair, skipped = {}, 0
    for pair, exp in expert_routes.items():
        pol = policy_routes.get(pair, [])
        if not exp:
            continue
        if not pol:
            skipped += 1
            continue
        p, q = route_distribution(pol), route_distribution(exp)
        per_pair[pair] = {
            "policy_entropy": route_entropy(p),
            "expert_entropy": route_entropy(q),
            "policy_distinct": len(p),
            "expert_distinct": len(q),
            "policy_routes": len(pol),
            "expert_routes": len(exp),
            "tv": total_variation(p, q),
        }

    def mean(key: str) -> float:
        vals = [v[key] for v in per_pair.values()]
        return float(np.mean(vals)) if vals else float("nan")

    return {
        "pairs": len(per_pair),
        "pairs_without_policy_routes": skipped,
        "entropy_mean": mean("policy_entropy"),
        "expert_entropy_mean": mean("expert_entropy"),
        "distinct_mean": mean("policy_distinct"),
        "expert_distinct_mean": mean("expert_distinct"),
        "tv_mean": mean("tv"),
        "routes_used": sum(len(v) for v in policy_routes.values()),
        "expert_routes_used": sum(len(v) for v in expert_routes.values()),
        "per_pair": {f"{a}->{b}": v for (a, b), v in per_pair.items()},
    }


def multimodal_pairs(maze: Any, n: int, seed: int = 0) -> list[Pair]:
    """``n`` distinct (start, goal) cell pairs with >= 2 shortest paths and distance >= 4."""
    cells = sorted(tuple(map(int, c)) for c in maze.free_cells)
    candidates = [
        (a, b)
        for a in cells
        for b in cells
        if a != b and maze.distance(a, b) >= 4 and maze.shortest_paths_count(a, b) >= 2
    ]
    if n > len(candidates):
        raise ValueError(f"asked for {n} multimodal pairs, the maze has {len(candidates)}")
    rng = np.random.default_rng(seed)
    return [candidates[i] for i in sorted(rng.choice(len(candidates), size=n, replace=False))]


def pair_tasks(env_name: str, pairs: Sequence[Pair], repeats: int, seed: int = 0) -> list[Task]:
    """``repeats`` tasks per pair (pair-major), each with its own reset seed."""
    tasks = []
    for i, (start, goal) in enumerate(pairs):
        for r in range(repeats):
            options = {"reset_cell": np.array(start), "goal_cell": np.array(goal)}
            tasks.append(Task(env=env_name, seed=seed * 100003 + i * repeats + r, options=options))
    return tasks


def _task_pair(task: Task) -> Pair:
    opts = task.options or {}
    if "reset_cell" not in opts or "goal_cell" not in opts:
        raise ValueError(f"task {task} has no reset_cell/goal_cell options (use pair_tasks)")
    return tuple(map(int, opts["reset_cell"])), tuple(map(int, opts["goal_cell"]))


def _pair_route(route: Route, goal: Cell) -> Route:
    """Cut a route at the goal cell, or close it there: success is declared within 0.45 of
    the goal, possibly from a neighbouring cell, which would otherwise read as another route."""
    route = tuple(tuple(map(int, c)) for c in route)
    if goal in route:
        return route[: route.index(goal) + 1]
    return route + (goal,)


def route_samples(result: Any, tasks: Sequence[Task], maze: Any) -> dict[Pair, list[Route]]:
    """Routes of the successful trajectories, grouped by (start, goal) pair.

    ``result`` is a ``RolloutResult`` or ``run_expert``'s list of dicts ("success", "xy").
    Every pair of ``tasks`` is a key, with an empty list if no trajectory succeeded.
    """
    if isinstance(result, list):
        success = [bool(r["success"]) for r in result]
        paths = [np.asarray(r["xy"]) for r in result]
    else:
        success, paths = list(map(bool, result.success)), result.paths
    if len(success) != len(tasks):
        raise ValueError(f"{len(success)} trajectories for {len(tasks)} tasks")
    out: dict[Pair, list[Route]] = {}
    for task, ok, xy in zip(tasks, success, paths):
        pair = _task_pair(task)
        routes = out.setdefault(pair, [])
        if ok:
            routes.append(_pair_route(maze.route(np.asarray(xy)[:, :2]), pair[1]))
    return out


__all__ = [
    "multimodal_pairs",
    "multimodality",
    "pair_tasks",
    "route_distribution",
    "route_entropy",
    "route_samples",
    "success_stats",
    "total_variation",
    "wilson_interval",
]
