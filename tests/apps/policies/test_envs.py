"""Environment facts, evaluation tasks, and the maze geometry against the simulator."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")

from scorelab.apps.policies.envs import (  # noqa: E402
    ENV_NAMES,
    MIN_TASK_DISTANCE,
    Task,
    env_info,
    eval_tasks,
    make_env,
    reset_task,
    split_obs,
)
from scorelab.apps.policies.maze import Maze  # noqa: E402

MAZES = ("pointmaze_medium", "pointmaze_large")


def test_env_info_and_unknown_name():
    assert env_info("pointmaze_medium").maze == "medium"
    assert env_info("pointmaze_large").max_steps == 800
    assert env_info("fetch_push").success_radius == 0.05
    with pytest.raises(KeyError, match="pointmaze_medium, pointmaze_large, fetch_push"):
        env_info("antmaze")


@pytest.mark.parametrize("name", ENV_NAMES)
def test_make_env_matches_env_info(name):
    info = env_info(name)
    env = make_env(name)
    try:
        assert env.spec.id == info.gym_id and env.spec.max_episode_steps == info.max_steps
        assert env.action_space.shape == (info.act_dim,)
        np.testing.assert_array_equal(env.action_space.low, -1.0)
        np.testing.assert_array_equal(env.action_space.high, 1.0)
        obs = reset_task(env, eval_tasks(name, 1)[0])
        o, ag, dg = split_obs(obs)
        assert o.shape == (info.obs_dim,) and ag.shape == dg.shape == (info.goal_dim,)
        assert o.dtype == ag.dtype == dg.dtype == np.float32
    finally:
        env.close()


def test_split_obs_names_a_missing_key():
    with pytest.raises(KeyError, match="desired_goal"):
        split_obs({"observation": np.zeros(4), "achieved_goal": np.zeros(2)})


@pytest.mark.parametrize("name", MAZES)
def test_maze_tasks_are_deterministic_distinct_and_far_apart(name):
    tasks = eval_tasks(name, 60, seed=3)
    assert tasks == eval_tasks(name, 60, seed=3)
    assert tasks != eval_tasks(name, 60, seed=4)
    assert tasks[:7] == eval_tasks(name, 7, seed=3)  # fewer tasks: a prefix
    maze = Maze.named(env_info(name).maze)
    pairs = {(t.options["reset_cell"], t.options["goal_cell"]) for t in tasks}
    assert len(pairs) == 60
    for a, b in pairs:
        assert maze.distance(a, b) >= MIN_TASK_DISTANCE
    assert len({t.seed for t in tasks}) == 60


def test_fetch_tasks_are_seeds():
    tasks = eval_tasks("fetch_push", 5, seed=2)
    assert tasks == [Task("fetch_push", 2 * 100003 + i, None) for i in range(5)]
    with pytest.raises(ValueError, match="n >= 1"):
        eval_tasks("fetch_push", 0)


def test_too_many_maze_tasks():
    with pytest.raises(ValueError, match="distinct task cell pairs"):
        eval_tasks("pointmaze_medium", 100_000)


@pytest.mark.parametrize("name", MAZES)
def test_maze_geometry_matches_the_simulator(name):
    maze = Maze.named(env_info(name).maze)
    env = make_env(name)
    try:
        inner = env.unwrapped.maze
        assert (maze.x_center, maze.y_center) == (inner.x_map_center, inner.y_map_center)
        for cell in maze.free_cells:
            np.testing.assert_allclose(
                maze.cell_center(cell), inner.cell_rowcol_to_xy(np.array(cell))
            )
        for task in eval_tasks(name, 15, seed=1):
            obs = reset_task(env, task)
            start, goal = task.options["reset_cell"], task.options["goal_cell"]
            # the env adds uniform noise of at most 0.25 around the cell centres
            assert np.abs(obs["achieved_goal"] - maze.cell_center(start)).max() <= 0.2501
            assert np.abs(obs["desired_goal"] - maze.cell_center(goal)).max() <= 0.2501
            assert maze.cell_of(obs["achieved_goal"]) == start
            assert maze.cell_of(obs["desired_goal"]) == goal
    finally:
        env.close()


def test_reset_task_is_reproducible_and_accepts_array_options():
    env = make_env("pointmaze_medium")
    try:
        task = eval_tasks("pointmaze_medium", 1, seed=5)[0]
        a = reset_task(env, task)
        b = reset_task(
            env, Task(task.env, task.seed, {k: np.array(v) for k, v in task.options.items()})
        )
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    finally:
        env.close()
    env = make_env("fetch_push")
    try:
        task = eval_tasks("fetch_push", 1)[0]
        np.testing.assert_array_equal(
            reset_task(env, task)["desired_goal"], reset_task(env, task)["desired_goal"]
        )
    finally:
        env.close()
