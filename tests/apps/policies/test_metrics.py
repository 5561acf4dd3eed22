"""Success statistics and route multimodality against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scorelab.apps.policies.maze import Maze
from scorelab.apps.policies.metrics import (
    multimodal_pairs,
    multimodality,
    pair_tasks,
    route_distribution,
    route_entropy,
    route_samples,
    success_stats,
    total_variation,
    wilson_interval,
)
from scorelab.apps.policies.rollout import RolloutResult

A = ((1, 1), (1, 2), (2, 2))
B = ((1, 1), (2, 1), (2, 2))
C = ((1, 1), (2, 1), (3, 1), (3, 2), (2, 2))
OPEN = [[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 0, 0, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]]


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(9, 10)
    assert lo == pytest.approx(0.5958, abs=1e-4) and hi == pytest.approx(0.9821, abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_success_stats_matches_scipy_t_interval():
    rates = [0.8, 0.9, 0.75, 0.85, 0.7]
    s = success_stats(rates)
    lo, hi = stats.t.interval(0.95, len(rates) - 1, loc=np.mean(rates), scale=stats.sem(rates))
    assert s["mean"] == pytest.approx(0.8) and s["n"] == 5
    assert s["std"] == pytest.approx(np.std(rates, ddof=1))
    assert s["ci95"] == pytest.approx((lo, hi))
    one = success_stats([0.6])
    assert one["mean"] == 0.6 and math.isnan(one["ci95"][0])


def test_route_entropy_and_total_variation():
    uniform = route_distribution([A, B, C] * 4)
    assert uniform == pytest.approx({A: 1 / 3, B: 1 / 3, C: 1 / 3})
    assert route_entropy(uniform) == pytest.approx(math.log(3))
    assert route_entropy(route_distribution([A] * 7)) == 0.0
    p, q = route_distribution([A, B]), route_distribution([A])
    assert total_variation(p, p) == 0.0
    assert total_variation(p, route_distribution([C])) == pytest.approx(1.0)
    assert total_variation(p, q) == pytest.approx(0.5)
    assert route_distribution([list(map(list, A))]) == {A: 1.0}  # lists become tuples


def test_multimodality_hand_computed():
    pair, other, never = ((1, 1), (2, 2)), ((1, 1), (3, 1)), ((3, 3), (1, 1))
    policy = {pair: [A, A, A, B], other: [C], never: []}
    expert = {pair: [A, B], other: [C, C], never: [A]}
    m = multimodality(policy, expert)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert m["pairs"] == 2 and m["pairs_without_policy_routes"] == 1
    assert m["entropy_mean"] == pytest.approx(h / 2)
    assert m["expert_entropy_mean"] == pytest.approx(math.log(2) / 2)
    assert m["tv_mean"] == pytest.approx(0.25 / 2)  # |0.75 - 0.5| on the first pair, 0 on the 2nd
    assert m["distinct_mean"] == 1.5 and m["expert_distinct_mean"] == 1.5
    assert m["routes_used"] == 5 and m["expert_routes_used"] == 5
    assert m["per_pair"]["(1, 1)->(2, 2)"]["tv"] == pytest.approx(0.25)


def test_multimodal_pairs_are_deterministic_and_multimodal():
    maze = Maze.named("medium")
    pairs = multimodal_pairs(maze, 8, seed=0)
    assert pairs == multimodal_pairs(maze, 8, seed=0) != multimodal_pairs(maze, 8, seed=1)
    assert len(set(pairs)) == 8
    for a, b in pairs:
        assert maze.distance(a, b) >= 4 and maze.shortest_paths_count(a, b) >= 2
    with pytest.raises(ValueError, match="multimodal pairs"):
        multimodal_pairs(Maze(OPEN), 100)


def test_pair_tasks_options_and_seeds():
    pairs = [((1, 1), (3, 3)), ((3, 1), (1, 3))]
    tasks = pair_tasks("pointmaze_medium", pairs, repeats=3, seed=2)
    assert len(tasks) == 6 and len({t.seed for t in tasks}) == 6
    assert all(t.env == "pointmaze_medium" for t in tasks)
    assert isinstance(tasks[0].options["reset_cell"], np.ndarray)
    assert [tuple(t.options["goal_cell"]) for t in tasks] == [(3, 3)] * 3 + [(1, 3)] * 3
    assert {t.seed for t in tasks}.isdisjoint(t.seed for t in pair_tasks("x", pairs, 3, seed=3))


def _xy(maze, cells, noise=0.2):
    """A trajectory through the centres of ``cells`` (20 points per segment, a little wobble)."""
    pts = [maze.cell_center(c) for c in cells]
    xy = np.concatenate([np.linspace(p, q, 20) for p, q in zip(pts[:-1], pts[1:])])
    return xy + noise * np.sin(np.arange(len(xy)))[:, None]


def test_route_samples_groups_successful_routes_by_pair():
    maze = Maze(OPEN)
    pairs = [((1, 1), (2, 2)), ((1, 1), (3, 3))]
    tasks = pair_tasks("pointmaze_medium", pairs, repeats=2)
    paths = [
        _xy(maze, A),
        _xy(maze, B),
        _xy(maze, [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3)]),
        _xy(maze, [(1, 1), (2, 1), (2, 2), (2, 3)]),  # stops next to the goal: closed there
    ]
    result = RolloutResult(
        success=np.array([True, True, False, True]),
        steps=np.array([len(p) - 1 for p in paths]),
        final_distance=np.zeros(4),
        paths=paths,
        goals=np.zeros((4, 2)),
        policy_seconds=0.0,
        policy_calls=0,
        env_steps=0,
    )
    routes = route_samples(result, tasks, maze)
    assert routes == {pairs[0]: [A, B], pairs[1]: [((1, 1), (2, 1), (2, 2), (2, 3), (3, 3))]}
    expert = [{"success": s, "xy": p} for s, p in zip(result.success, paths)]
    assert route_samples(expert, tasks, maze) == routes
    # a detour that comes back is loop-erased, and an overshoot past the goal is cut
    loop = _xy(maze, [(1, 1), (1, 2), (1, 3), (1, 2), (2, 2), (3, 2)])
    result.paths[0], result.success[:] = loop, [True, False, False, False]
    assert route_samples(result, tasks, maze)[pairs[0]] == [A]
    with pytest.raises(ValueError, match="trajectories for"):
        route_samples(result, tasks[:2], maze)
