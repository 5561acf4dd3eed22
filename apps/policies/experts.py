"""Scripted experts that generate play data and serve as reference policies.

* :class:`PointMazeExpert` plans a shortest cell path to the goal, drawn uniformly among all
  shortest paths (so two episodes between the same cells may take different corridors), and
  follows the polyline through the cell centres with a pure-pursuit velocity controller: it
  chases a point a fixed arc length ahead (which rounds corners inside the corridor), brakes
  before turns and before the goal, and turns the velocity error into a force.
* :class:`FetchPushExpert` moves the gripper above a point behind the block on the side
  opposite the goal, descends, and pushes the block toward the goal, steering back onto the
  push line and re-approaching if the block slips away.

Both add a little Gaussian action noise (play-like data) and clip to the action bounds.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .envs import Task, env_info, make_env, reset_task
from .maze import Maze


class Expert(Protocol):
    """A scripted controller: reset once per episode, then one action per observation."""

    def reset(self, obs: dict, rng: np.random.Generator) -> None: ...

    def act(self, obs: dict) -> np.ndarray:
        """The next action, float32, inside the env's bounds."""
        ...


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.zeros_like(v)


class PointMazeExpert:
    """Shortest-path planner with random tie-breaking + pure-pursuit velocity controller."""

    def __init__(
        self,
        maze: Maze,
        *,
        speed: tuple[float, float] = (2.5, 3.5),
        corner_speed: float = 1.5,
        lookahead: float = 0.5,
        brake: float = 12.0,
        gain: float = 1.0,
        noise: float = 0.1,
    ) -> None:
        self.maze = maze
        self.speed_range = speed
        self.corner_speed = corner_speed
        self.lookahead = lookahead
        self.brake = brake  # planned deceleration, m/s^2 (full force gives ~24)
        self.gain = gain  # action per m/s of velocity error
        self.noise = noise
        self._rng = np.random.default_rng(0)

    def reset(self, obs: dict, rng: np.random.Generator) -> None:
        """Plan a random shortest path from the ball's cell to the goal's cell."""
        self._rng = rng
        self.speed = float(rng.uniform(*self.speed_range))
        self._plan(np.asarray(obs["achieved_goal"], float), np.asarray(obs["desired_goal"], float))

    def _plan(self, xy: np.ndarray, goal: np.ndarray) -> None:
        self.goal = goal
        cells = self.maze.random_shortest_path(
            self.maze.cell_of(xy), self.maze.cell_of(goal), self._rng
        )
        self.cells = cells
        self._on_path = set(cells)
        points = [xy] + [self.maze.cell_center(c) for c in cells[1:-1]] + [goal]
        self.points = np.array(points)
        seg = np.diff(self.points, axis=0)
        self.seg_len = np.linalg.norm(seg, axis=1)
        self.arc = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        # arc length of every vertex where the path turns (the brake points)
        turns = [
            self.arc[i]
            for i in range(1, len(seg))
            if self.seg_len[i - 1] > 1e-9
            and self.seg_len[i] > 1e-9
            and np.dot(seg[i - 1], seg[i]) < 0.99 * self.seg_len[i - 1] * self.seg_len[i]
        ]
        self.turns = np.array(turns)
        self.seg = 0
        self.s = 0.0

    def _project(self, xy: np.ndarray) -> None:
        """Advance the progress (segment, arc length) to the projection of ``xy``."""
        best = (np.inf, self.seg, self.s)
        for i in range(self.seg, min(self.seg + 2, len(self.seg_len))):
            a, d = self.points[i], self.points[i + 1] - self.points[i]
            t = (
                0.0
                if self.seg_len[i] < 1e-9
                else np.clip(np.dot(xy - a, d) / self.seg_len[i] ** 2, 0, 1)
            )
            dist = float(np.linalg.norm(a + t * d - xy))
            if dist < best[0] - 1e-9:
                best = (dist, i, self.arc[i] + t * self.seg_len[i])
        _, self.seg, s = best
        self.s = max(self.s, s)

    def _point_at(self, s: float) -> np.ndarray:
        s = min(s, self.arc[-1])
        i = int(np.clip(np.searchsorted(self.arc, s, side="right") - 1, 0, len(self.seg_len) - 1))
        t = 0.0 if self.seg_len[i] < 1e-9 else (s - self.arc[i]) / self.seg_len[i]
        return self.points[i] + min(t, 1.0) * (self.points[i + 1] - self.points[i])

    def act(self, obs: dict) -> np.ndarray:
        """Force toward a velocity that follows the planned path."""
        o = np.asarray(obs["observation"], float)
        xy, vel = o[:2], o[2:4]
        goal = np.asarray(obs["desired_goal"], float)
        if np.linalg.norm(goal - self.goal) > 1e-6 or self.maze.cell_of(xy) not in self._on_path:
            self._plan(xy, goal)  # the goal moved, or the ball was knocked off its route
        self._project(xy)
        to_end = self.arc[-1] - self.s
        ahead = self.turns[self.turns > self.s + 1e-6]
        v = min(self.speed, np.sqrt(2 * self.brake * max(to_end, 0.0)))
        if len(ahead):
            v = min(v, np.sqrt(self.corner_speed**2 + 2 * self.brake * (ahead[0] - self.s)))
        target = self._point_at(self.s + self.lookahead)
        if to_end < self.lookahead:
            # last stretch: home in on the goal itself
            target = goal
            v = min(v, 6.0 * float(np.linalg.norm(goal - xy)))
        v_des = v * _unit(target - xy)
        action = self.gain * (v_des - vel) + self.noise * self._rng.standard_normal(2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


CLEARANCE = 0.045
"""closest approach (m) of the gripper's straight way to the block's centre that cannot touch it"""


CONTACT = 0.045
"""distance (m) from the block's centre to the gripper's centre when they touch while pushing"""


HOLD = 0.015
"""block-goal distance (m) below which the gripper stops pushing"""


def _segment_distance(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> float:
    """Distance from point ``p`` to the segment ``a``-``b``."""
    ab = b - a
    t = float(np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - p))


class FetchPushExpert:
    """Scripted push: above-behind the block, down, push along the block-to-goal line."""

    def __init__(self, *, noise: float = 0.05, gain: float = 12.0) -> None:
        self.noise = noise
        self.gain = gain  # action per metre of gripper position error (1 = 5 cm command)
        self._rng = np.random.default_rng(0)

    def reset(self, obs: dict, rng: np.random.Generator) -> None:
        """Draw this episode's approach: how far behind, how far to the side, how high."""
        self._rng = rng
        self.behind = float(rng.uniform(0.055, 0.075))
        self.side = float(rng.uniform(-0.008, 0.008))
        self.lift = float(rng.uniform(0.08, 0.1))
        self.push_z = float(rng.uniform(-0.01, 0.0))
        self.pushing = False

    def act(self, obs: dict) -> np.ndarray:
        """Move the gripper (dx, dy, dz); the finger command is irrelevant (blocked) and 0."""
        o = np.asarray(obs["observation"], float)
        grip, block = o[:3], o[3:6]
        goal = np.asarray(obs["desired_goal"], float)
        d = _unit((goal - block)[:2])
        perp = np.array([-d[1], d[0]])
        rel = (grip - block)[:2]
        along, across = float(rel @ d), float(rel @ perp)
        behind = block[:2] - self.behind * d + self.side * perp
        if self.pushing and (along > -0.02 or abs(across) > 0.04):
            self.pushing = False  # lost the block: go round again
        if (
            not self.pushing
            and np.linalg.norm(grip[:2] - behind) < 0.015
            and grip[2] < block[2] + 0.02
        ):
            self.pushing = True
        dist = float(np.linalg.norm((goal - block)[:2]))
        if dist < HOLD:
            target = grip.copy()  # there: keep still rather than chase a jittery direction
        elif self.pushing:
            # the gripper's place behind the block on the block-goal line, moved toward the goal
            xy = block[:2] + (min(dist, 0.04) - CONTACT) * d + self.side * perp
            target = np.array([*xy, block[2] + self.push_z])
        elif _segment_distance(grip[:2], behind, block[:2]) > CLEARANCE:
            target = np.array([*behind, block[2] + self.push_z])  # a clear way: glide there
        elif grip[2] < block[2] + 0.06 and np.linalg.norm(rel) < 0.09:
            target = np.array([*grip[:2], block[2] + self.lift])  # the block is in the way: up
        else:
            target = np.array([*behind, block[2] + self.lift])  # over the block
        action = np.zeros(4)
        action[:3] = self.gain * (target - grip) + self.noise * self._rng.standard_normal(3)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def make_expert(env_name: str) -> Expert:
    """The scripted expert of ``env_name``."""
    info = env_info(env_name)
    if info.maze is not None:
        return PointMazeExpert(Maze.named(info.maze))
    return FetchPushExpert()


def run_expert(env_name: str, tasks: list[Task], seed: int = 0) -> list[dict]:
    """Roll the expert out on ``tasks`` until success or the time limit.

    One dict per task: ``success`` (bool), ``xy`` ((T + 1, goal_dim) achieved goals, the
    reset's included) and ``steps`` (env steps taken, T).
    """
    env = make_env(env_name)
    expert = make_expert(env_name)
    max_steps = env_info(env_name).max_steps
    out = []
    try:
        for i, task in enumerate(tasks):
            obs = reset_task(env, task)
            expert.reset(obs, np.random.default_rng([seed, i]))
            xy, success, steps = [obs["achieved_goal"].copy()], False, 0
            while steps < max_steps and not success:
                obs, _, terminated, truncated, info = env.step(expert.act(obs))
                steps += 1
                xy.append(obs["achieved_goal"].copy())
                success = bool(info.get("success", info.get("is_success", False)))
                if terminated or truncated:
                    break
            out.append({"success": success, "xy": np.array(xy, dtype=np.float32), "steps": steps})
    finally:
        env.close()
    return out


__all__ = ["Expert", "FetchPushExpert", "PointMazeExpert", "make_expert", "run_expert"]
