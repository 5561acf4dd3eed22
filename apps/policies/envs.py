"""The simulators the policies app learns and is evaluated in, and their evaluation tasks.

Three gymnasium-robotics goal environments: PointMaze Medium and Large (a force-actuated
ball in a maze, goal = a position) and FetchPush (a 7-DoF arm pushing a block to a goal on
the table). An evaluation :class:`Task` fixes everything an episode's reset draws, so every
policy is scored on the same starts and goals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym

ENV_NAMES: tuple[str, ...] = ("pointmaze_medium", "pointmaze_large", "fetch_push")

MIN_TASK_DISTANCE = 3
"""cells (breadth-first) between the start and the goal of a PointMaze evaluation task"""


@dataclass(frozen=True)
class EnvInfo:
    """What a policy needs to know about an environment, without constructing it."""

    name: str
    gym_id: str
    obs_dim: int
    goal_dim: int
    act_dim: int
    max_steps: int
    success_radius: float
    maze: str | None
    """"medium"/"large" for PointMaze, None otherwise"""


_INFOS = {
    "pointmaze_medium": EnvInfo(
        "pointmaze_medium", "PointMaze_Medium-v3", 4, 2, 2, 600, 0.45, "medium"
    ),
    "pointmaze_large": EnvInfo(
        "pointmaze_large", "PointMaze_Large-v3", 4, 2, 2, 800, 0.45, "large"
    ),
    "fetch_push": EnvInfo("fetch_push", "FetchPush-v4", 25, 3, 4, 50, 0.05, None),
}


def env_info(name: str) -> EnvInfo:
    """The :class:`EnvInfo` of ``name``; KeyError naming the known environments."""
    try:
        return _INFOS[name]
    except KeyError:
        raise KeyError(f"unknown env {name!r}; known: {', '.join(ENV_NAMES)}") from None


def _gym():
    try:
        import gymnasium as gym
        import gymnasium_robotics
    except ImportError as e:
        raise ImportError(
            "the policies app needs gymnasium, gymnasium-robotics and mujoco: "
            "pip install 'scorelab[policies]'"
        ) from e
    gym.register_envs(gymnasium_robotics)
    return gym


def make_env(name: str) -> gym.Env:
    """Construct environment ``name`` (with its registered time limit)."""
    info = env_info(name)
    return _gym().make(info.gym_id)


def split_obs(obs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A goal-env observation dict -> (observation, achieved_goal, desired_goal), float32."""
    try:
        return tuple(
            np.asarray(obs[k], dtype=np.float32)
            for k in ("observation", "achieved_goal", "desired_goal")
        )
    except KeyError as e:
        raise KeyError(f"goal-env observation lacks key {e.args[0]!r}; has {sorted(obs)}") from None


@dataclass(frozen=True)
class Task:
    """One evaluation episode: where it starts and which goal it must reach."""

    env: str
    seed: int
    options: dict[str, Any] | None
    """passed as ``env.reset(seed=seed, options=options)``"""


def eval_tasks(name: str, n: int, seed: int = 0) -> list[Task]:
    """``n`` distinct evaluation tasks of ``name``, deterministic in ``seed``.

    The first ``k`` of ``eval_tasks(name, n, seed)`` are ``eval_tasks(name, k, seed)``.

    PointMaze: distinct (reset_cell, goal_cell) pairs of free cells at least
    ``MIN_TASK_DISTANCE`` moves apart, drawn uniformly; Fetch: options None and seeds
    ``seed * 100003 + i`` (the env draws the object and the goal).
    """
    info = env_info(name)
    if n < 1:
        raise ValueError(f"need n >= 1 evaluation tasks, got {n}")
    seeds = [seed * 100003 + i for i in range(n)]
    if info.maze is None:
        return [Task(name, s, None) for s in seeds]
    from .maze import Maze

    maze = Maze.named(info.maze)
    pairs = [
        (a, b)
        for a in maze.free_cells
        for b in maze.free_cells
        if maze.distance(a, b) >= MIN_TASK_DISTANCE
    ]
    if n > len(pairs):
        raise ValueError(f"{name} has only {len(pairs)} distinct task cell pairs, asked for {n}")
    chosen = np.random.default_rng(seed).permutation(len(pairs))[:n]  # prefix-stable in n
    return [
        Task(name, s, {"reset_cell": pairs[k][0], "goal_cell": pairs[k][1]})
        for s, k in zip(seeds, chosen)
    ]


def reset_task(env: gym.Env, task: Task) -> dict:
    """Reset ``env`` to ``task``; returns the first observation dict."""
    options = None
    if task.options is not None:
        options = {k: np.asarray(v) for k, v in task.options.items()}
    return env.reset(seed=task.seed, options=options)[0]


__all__ = [
    "ENV_NAMES",
    "EnvInfo",
    "Task",
    "env_info",
    "eval_tasks",
    "make_env",
    "reset_task",
    "split_obs",
]
