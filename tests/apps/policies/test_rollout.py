"""Rollouts in the real PointMaze Medium: a scripted straight-line policy, the random floor."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")

from scorelab.apps.policies.envs import Task, env_info, eval_tasks  # noqa: E402
from scorelab.apps.policies.maze import Maze  # noqa: E402
from scorelab.apps.policies.rollout import (  # noqa: E402
    RandomPolicy,
    _history,
    act_latency,
    rollout,
)

ENV = "pointmaze_medium"
# start and goal cells joined by a straight free corridor in the Medium map
STRAIGHT = [((2, 4), (2, 6)), ((6, 1), (6, 3)), ((4, 4), (4, 6)), ((4, 1), (6, 1))]


class Straight:
    """Scripted stand-in: a PD push straight toward the goal, the same action over the chunk."""

    obs_history, chunk, execute = 2, 4, 2

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def act(self, obs, goal, generator=None):
        self.seen.append(np.array(obs))
        x = obs[:, -1]
        a = np.clip(3.0 * (goal - x[:, :2]) - 0.5 * x[:, 2:], -1, 1)
        return np.repeat(a[:, None], self.chunk, 1).astype(np.float32)


def _tasks(pairs, repeats=2):
    return [
        Task(ENV, 10 * i + r, {"reset_cell": np.array(a), "goal_cell": np.array(b)})
        for i, (a, b) in enumerate(pairs)
        for r in range(repeats)
    ]


def test_history_pads_with_the_first_observation():
    obs = [np.full(2, k, dtype=np.float32) for k in range(3)]
    assert _history(obs[:1], 3)[:, 0].tolist() == [0, 0, 0]
    assert _history(obs[:2], 3)[:, 0].tolist() == [0, 0, 1]
    assert _history(obs, 2)[:, 0].tolist() == [1, 2]


def test_straight_policy_reaches_goals_in_open_corridors():
    maze, policy = Maze.named("medium"), Straight()
    tasks = _tasks(STRAIGHT)
    r = rollout(policy, tasks)
    radius = env_info(ENV).success_radius
    assert r.success.all()
    assert (r.final_distance <= radius).all() and (r.steps < 120).all()
    for task, path, steps, goal in zip(tasks, r.paths, r.steps, r.goals):
        assert path.shape == (steps + 1, 2)
        assert maze.cell_of(path[0]) == tuple(task.options["reset_cell"])
        # the task ended at the first step within the success radius
        d = np.linalg.norm(path - goal, axis=1)
        assert d[-1] <= radius < d[:-1].min()
    goal_cells = [maze.cell_of(g) for g in r.goals]
    assert goal_cells == [tuple(t.options["goal_cell"]) for t in tasks]
    assert r.env_steps == r.steps.sum()
    # first call: histories are the reset observation repeated; the batch shrinks as tasks end
    first = policy.seen[0]
    assert first.shape == (len(tasks), 2, 4) and np.array_equal(first[:, 0], first[:, 1])
    assert [len(s) for s in policy.seen] == sorted((len(s) for s in policy.seen), reverse=True)
    assert r.policy_calls == len(policy.seen) == int(np.ceil(r.steps.max() / 2))


def test_straight_policy_fails_behind_a_wall():
    # (1, 2) -> (1, 5): a wall block between them, the straight push gets stuck
    r = rollout(Straight(), _tasks([((1, 2), (1, 5))]), max_steps=80)
    assert not r.success.any()
    assert (r.steps == 80).all() and (r.final_distance > 1.5).all()


def test_batch_size_reuses_envs_without_changing_results():
    tasks = _tasks(STRAIGHT[:3])
    full, pooled = rollout(Straight(), tasks), rollout(Straight(), tasks, batch_size=2)
    assert np.array_equal(full.steps, pooled.steps)
    for a, b in zip(full.paths, pooled.paths):
        np.testing.assert_array_equal(a, b)


def test_random_policy_is_reproducible_and_fails_far_goals():
    maze, info = Maze.named("medium"), env_info(ENV)
    tasks = eval_tasks(ENV, 150, seed=1)
    far = [t for t in tasks if maze.distance(*t.options.values()) >= 6][:12]
    a = rollout(RandomPolicy(info, chunk=4, execute=2), far, seed=3)
    b = rollout(RandomPolicy(info, chunk=4, execute=2), far, seed=3)
    c = rollout(RandomPolicy(info, chunk=4, execute=2), far[:4], seed=4, max_steps=50)
    assert a.success.mean() <= 0.25
    for p, q in zip(a.paths, b.paths):
        np.testing.assert_array_equal(p, q)
    assert not np.allclose(a.paths[0][:50], c.paths[0][:50])
    assert (c.steps == 50).all() and len(c.paths[0]) == 51


def test_random_policy_actions_in_bounds():
    acts = RandomPolicy(env_info(ENV), chunk=3, execute=2).act(np.zeros((5, 1, 4)), None)
    assert acts.shape == (5, 3, 2) and acts.dtype == np.float32
    assert acts.min() >= -1 and acts.max() <= 1 and acts.std() > 0.4


def test_rollout_rejects_bad_inputs():
    with pytest.raises(ValueError, match="one env"):
        rollout(Straight(), [Task(ENV, 0, None), Task("pointmaze_large", 0, None)])

    class Short(Straight):
        def act(self, obs, goal, generator=None):
            return np.zeros((len(obs), 1, 2), np.float32)

    with pytest.raises(ValueError, match="policy.act returned shape"):
        rollout(Short(), _tasks(STRAIGHT[:1], 1))


def test_act_latency_reports_per_call_and_per_action():
    lat = act_latency(RandomPolicy(env_info(ENV), chunk=4, execute=2), ENV, repeats=10)
    assert 0 < lat["median_ms"] <= lat["p90_ms"]
    assert lat["median_ms_per_action"] == pytest.approx(lat["median_ms"] / 2)


def test_fetch_rollout_records_object_paths():
    info = env_info("fetch_push")
    r = rollout(RandomPolicy(info), eval_tasks("fetch_push", 2), max_steps=5)
    assert r.goals.shape == (2, 3) and [p.shape for p in r.paths] == [(6, 3), (6, 3)]
    assert not r.success.any() and (r.final_distance > info.success_radius).all()
