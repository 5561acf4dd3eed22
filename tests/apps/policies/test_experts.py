"""The scripted experts reach their goals, keep off the walls and take several routes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")

from scorelab.apps.policies.envs import Task, eval_tasks, make_env, reset_task  # noqa: E402
from scorelab.apps.policies.experts import (  # noqa: E402
    FetchPushExpert,
    PointMazeExpert,
    make_expert,
    run_expert,
)
from scorelab.apps.policies.maze import Maze  # noqa: E402

BALL_RADIUS = 0.1


def _wall_clearance(maze: Maze, xy: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest wall square."""
    walls = np.argwhere(~maze.free)
    lo = np.array([maze.cell_center(w) for w in walls]) - maze.scaling / 2
    hi = lo + maze.scaling
    gap = np.maximum(np.maximum(lo[None] - xy[:, None], 0.0), xy[:, None] - hi[None])
    return np.linalg.norm(gap, axis=-1).min(axis=1)


def test_make_expert():
    assert isinstance(make_expert("pointmaze_large"), PointMazeExpert)
    assert isinstance(make_expert("fetch_push"), FetchPushExpert)
    with pytest.raises(KeyError, match="known"):
        make_expert("nope")


@pytest.fixture(scope="module")
def medium_runs():
    return run_expert("pointmaze_medium", eval_tasks("pointmaze_medium", 30, seed=0), seed=0)


def test_pointmaze_medium_expert_reaches_its_goals(medium_runs):
    success = np.array([r["success"] for r in medium_runs])
    assert success.mean() > 0.95, np.flatnonzero(~success)
    for r in medium_runs:
        assert r["xy"].shape == (r["steps"] + 1, 2) and r["xy"].dtype == np.float32
        assert r["steps"] <= 600


def test_pointmaze_expert_never_touches_a_wall(medium_runs):
    maze = Maze.named("medium")
    clearance = np.concatenate([_wall_clearance(maze, r["xy"]) for r in medium_runs])
    # corners are cut inside the corridor: the ball (radius 0.1) keeps well off the walls
    assert clearance.min() > BALL_RADIUS + 0.05


def test_pointmaze_large_expert_reaches_its_goals():
    runs = run_expert("pointmaze_large", eval_tasks("pointmaze_large", 15, seed=0), seed=0)
    assert sum(r["success"] for r in runs) >= 14


def test_run_expert_is_deterministic(medium_runs):
    again = run_expert("pointmaze_medium", eval_tasks("pointmaze_medium", 3, seed=0), seed=0)
    for a, b in zip(medium_runs, again):
        np.testing.assert_array_equal(a["xy"], b["xy"])


def test_pointmaze_expert_follows_its_planned_route():
    maze = Maze.named("medium")
    env = make_env("pointmaze_medium")
    expert = PointMazeExpert(maze)
    try:
        for i, task in enumerate(eval_tasks("pointmaze_medium", 8, seed=2)):
            obs = reset_task(env, task)
            expert.reset(obs, np.random.default_rng(i))
            plan = tuple(expert.cells)
            assert plan[0] == task.options["reset_cell"] and plan[-1] == task.options["goal_cell"]
            assert len(plan) == maze.distance(plan[0], plan[-1]) + 1
            xy = [obs["achieved_goal"]]
            for _ in range(600):
                action = expert.act(obs)
                assert action.dtype == np.float32 and action.shape == (2,)
                assert np.abs(action).max() <= 1.0
                obs, _, _, _, info = env.step(action)
                xy.append(obs["achieved_goal"])
                if info["success"]:
                    break
            assert info["success"]
            route = maze.route(np.array(xy))
            # success counts within 0.45 of the goal: the route may stop one cell short
            assert route == plan[: len(route)] and len(route) >= len(plan) - 1
    finally:
        env.close()


def test_pointmaze_expert_takes_several_routes_between_the_same_cells():
    maze = Maze.named("medium")
    pair = max(
        ((a, b) for a in maze.free_cells for b in maze.free_cells if maze.distance(a, b) >= 4),
        key=lambda p: maze.shortest_paths_count(*p),
    )
    assert maze.shortest_paths_count(*pair) >= 2
    options = {"reset_cell": pair[0], "goal_cell": pair[1]}
    tasks = [Task("pointmaze_medium", 100 + k, options) for k in range(10)]
    runs = run_expert("pointmaze_medium", tasks, seed=0)
    assert all(r["success"] for r in runs)
    goal = pair[1]
    routes = set()
    for r in runs:
        # success counts within 0.45 of the goal, possibly from the cell before it
        route = maze.route(r["xy"])
        routes.add(route[: route.index(goal) + 1] if goal in route else (*route, goal))
    assert len(routes) >= 2, routes
    for route in routes:  # every route is one of the shortest paths
        assert route[0] == pair[0] and len(route) == maze.distance(*pair) + 1


def test_fetch_push_expert_pushes_the_block_to_the_goal():
    tasks = eval_tasks("fetch_push", 30, seed=0)
    runs = run_expert("fetch_push", tasks, seed=0)
    success = np.array([r["success"] for r in runs])
    assert success.mean() >= 0.85, np.flatnonzero(~success)
    for r in runs:
        assert r["xy"].shape == (r["steps"] + 1, 3) and r["steps"] <= 50
    moved = [np.linalg.norm(r["xy"][-1] - r["xy"][0]) for r in runs]
    assert np.median(moved) > 0.1  # the block really travels (goals are up to ~0.4 m away)


def test_fetch_expert_actions_are_bounded_and_random_per_episode():
    env = make_env("fetch_push")
    try:
        obs = reset_task(env, eval_tasks("fetch_push", 1)[0])
        first = []
        for seed in range(3):
            expert = FetchPushExpert()
            expert.reset(obs, np.random.default_rng(seed))
            a = expert.act(obs)
            assert a.dtype == np.float32 and a.shape == (4,) and np.abs(a).max() <= 1.0
            first.append((expert.behind, expert.side, expert.lift))
        assert len(set(first)) == 3
    finally:
        env.close()
