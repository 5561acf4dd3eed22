"""Roll a policy out on evaluation tasks: many environments stepped in lockstep, one batched
policy call per step of the batch, action chunks executed open-loop for ``policy.execute`` steps.

A task ends at success (``info["success"]``/``info["is_success"]`` or achieved-goal distance
<= the env's success radius), when the env terminates or truncates, or after ``max_steps``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from .envs import Task, env_info, eval_tasks, make_env, reset_task, split_obs


class ActingPolicy(Protocol):
    """What ``rollout`` needs from a policy (``policy.Policy`` and ``RandomPolicy`` have it)."""

    obs_history: int
    chunk: int
    execute: int

    def act(self, obs: Any, goal: Any, generator: torch.Generator | None = None) -> np.ndarray:
        """(B, obs_history, obs_dim), (B, goal_dim) -> (B, chunk, act_dim) raw actions."""
        ...


@dataclass
class RolloutResult:
    """Outcome of one rollout over ``n`` tasks (in task order)."""

    success: np.ndarray
    """(n,) bool"""
    steps: np.ndarray
    """(n,) int: env steps taken until success or the end of the episode"""
    final_distance: np.ndarray
    """(n,) distance between achieved and desired goal when the task ended"""
    paths: list[np.ndarray]
    """achieved goals per task, (steps_i + 1, goal_dim) including the reset state"""
    goals: np.ndarray
    """(n, goal_dim) desired goals"""
    policy_seconds: float
    """wall time spent inside ``policy.act``"""
    policy_calls: int
    env_steps: int

    @property
    def success_rate(self) -> float:
        """Fraction of tasks that reached their goal."""
        return float(np.mean(self.success)) if len(self.success) else float("nan")

    def summary(self) -> dict[str, float]:
        """Scalar summary: success rate, mean steps (of successes), timings."""
        ok = self.success.astype(bool)
        return {
            "tasks": len(self.success),
            "success_rate": self.success_rate,
            "mean_steps_success": float(self.steps[ok].mean()) if ok.any() else float("nan"),
            "mean_final_distance": float(np.mean(self.final_distance)),
            "policy_seconds": self.policy_seconds,
            "policy_calls": self.policy_calls,
            "env_steps": self.env_steps,
            "ms_per_policy_call": 1e3 * self.policy_seconds / max(self.policy_calls, 1),
        }


class RandomPolicy:
    """Uniform random actions inside the bounds: the floor every policy must beat."""

    def __init__(
        self,
        info: Any,
        obs_history: int = 1,
        chunk: int = 1,
        execute: int = 1,
        seed: int = 0,
        low: float = -1.0,
        high: float = 1.0,
    ) -> None:
        if not 1 <= execute <= chunk:
            raise ValueError(f"need 1 <= execute <= chunk, got execute={execute}, chunk={chunk}")
        self.act_dim = info.act_dim
        self.obs_history, self.chunk, self.execute = obs_history, chunk, execute
        self.low, self.high = float(low), float(high)
        self.nfe = 0
        self._generator = torch.Generator().manual_seed(seed)

    def act(self, obs: Any, goal: Any, generator: torch.Generator | None = None) -> np.ndarray:
        """(B, h, obs_dim) observations -> (B, chunk, act_dim) uniform actions (goal ignored)."""
        g = generator if generator is not None else self._generator
        u = torch.rand((len(obs), self.chunk, self.act_dim), generator=g, device=g.device)
        return (self.low + (self.high - self.low) * u).cpu().numpy().astype(np.float32)


def _policy_device(policy: Any) -> torch.device:
    """Where the policy's random numbers must be drawn: its ``device``, its model's, or CPU."""
    if getattr(policy, "device", None) is not None:
        return torch.device(policy.device)
    model = getattr(policy, "model", None)
    if isinstance(model, torch.nn.Module):
        p = next(model.parameters(), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


def _generator(policy: Any, seed: int) -> torch.Generator:
    return torch.Generator(device=_policy_device(policy)).manual_seed(seed)


def _history(obs: list[np.ndarray], h: int) -> np.ndarray:
    """The last ``h`` observations, padded at the start by repeating the first one."""
    last = obs[-h:]
    return np.stack([last[0]] * (h - len(last)) + last)


class _Episode:
    """Book-keeping of one running task."""

    def __init__(self, first: dict, radius: float) -> None:
        o, a, d = split_obs(first)
        self.obs, self.achieved, self.goal = [o], [a], d
        self.radius = radius
        self.steps = 0
        self.success = self.distance() <= radius
        self.done = self.success

    def distance(self) -> float:
        return float(np.linalg.norm(self.achieved[-1] - self.goal))

    def step(self, out: tuple, max_steps: int) -> None:
        obs, _, terminated, truncated, info = out
        o, a, d = split_obs(obs)
        self.obs.append(o)
        self.achieved.append(a)
        self.goal = d
        self.steps += 1
        flag = info.get("success", info.get("is_success", False))
        self.success = bool(flag) or self.distance() <= self.radius
        self.done = self.success or terminated or truncated or self.steps >= max_steps


def rollout(
    policy: ActingPolicy,
    tasks: list[Task],
    *,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = False,
    batch_size: int | None = None,
) -> RolloutResult:
    """Run ``policy`` on every task; returns per-task success, steps, paths and timings.

    ``batch_size`` environments (default: one per task) are stepped together; a finished
    task's environment takes the next pending task. ``seed`` seeds the generator handed to
    ``policy.act``, so a rollout is reproducible. ``max_steps`` defaults to the env's limit.
    """
    if not tasks:
        raise ValueError("rollout needs at least one task")
    names = {t.env for t in tasks}
    if len(names) != 1:
        raise ValueError(f"all tasks of a rollout must share one env, got {sorted(names)}")
    info = env_info(tasks[0].env)
    limit = info.max_steps if max_steps is None else int(max_steps)
    if limit < 1:
        raise ValueError(f"max_steps must be >= 1, got {limit}")
    h, execute = int(policy.obs_history), int(policy.execute)
    n = len(tasks)
    slots = [make_env(info.name) for _ in range(min(n, batch_size or n))]
    episodes: list[_Episode | None] = [None] * n
    running: dict[int, int] = {}  # slot -> task index
    pending = iter(range(n))
    generator = _generator(policy, seed)
    policy_seconds, calls, env_steps = 0.0, 0, 0
    bar = _progress(n, progress)

    def fill() -> None:
        for s in range(len(slots)):
            while s not in running:
                i = next(pending, None)
                if i is None:
                    return
                ep = _Episode(reset_task(slots[s], tasks[i]), info.success_radius)
                episodes[i] = ep
                if ep.done:  # already at the goal after reset
                    bar.update(1)
                else:
                    running[s] = i

    try:
        fill()
        while running:
            order = sorted(running)
            eps = [episodes[running[s]] for s in order]
            obs = np.stack([_history(ep.obs, h) for ep in eps]).astype(np.float32)
            goal = np.stack([ep.goal for ep in eps]).astype(np.float32)
            t0 = time.perf_counter()
            actions = np.asarray(policy.act(obs, goal, generator=generator))
            policy_seconds += time.perf_counter() - t0
            calls += 1
            if actions.ndim != 3 or actions.shape[0] != len(eps) or actions.shape[1] < execute:
                raise ValueError(
                    f"policy.act returned shape {actions.shape}; expected "
                    f"({len(eps)}, >= {execute}, {info.act_dim})"
                )
            for k in range(execute):
                for j, s in enumerate(order):
                    ep = eps[j]
                    if ep.done:
                        continue
                    ep.step(slots[s].step(actions[j, k]), limit)
                    env_steps += 1
                    if ep.done:
                        del running[s]
                        bar.update(1)
            fill()
    finally:
        bar.close()
        for env in slots:
            env.close()
    return RolloutResult(
        success=np.array([ep.success for ep in episodes], dtype=bool),
        steps=np.array([ep.steps for ep in episodes], dtype=np.int64),
        final_distance=np.array([ep.distance() for ep in episodes]),
        paths=[np.asarray(ep.achieved, dtype=np.float32) for ep in episodes],
        goals=np.stack([ep.goal for ep in episodes]).astype(np.float32),
        policy_seconds=policy_seconds,
        policy_calls=calls,
        env_steps=env_steps,
    )


def _progress(n: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=n, desc="rollout", unit="task", disable=not enabled, leave=False)


def act_latency(
    policy: ActingPolicy, env_name: str, repeats: int = 50, seed: int = 0, warmup: int = 3
) -> dict[str, float]:
    """Batch-1 ``policy.act`` wall time on a real observation: median and p90, in ms per call
    and per executed action (warm-up calls excluded)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    env = make_env(env_name)
    try:
        o, _, d = split_obs(reset_task(env, eval_tasks(env_name, 1, seed=seed)[0]))
    finally:
        env.close()
    obs = np.repeat(o[None, None].astype(np.float32), int(policy.obs_history), axis=1)
    goal = d[None].astype(np.float32)
    generator = _generator(policy, seed)
    times = []
    for r in range(warmup + repeats):
        t0 = time.perf_counter()
        policy.act(obs, goal, generator=generator)
        if r >= warmup:
            times.append(1e3 * (time.perf_counter() - t0))
    med, p90 = float(np.median(times)), float(np.percentile(times, 90))
    execute = int(policy.execute)
    return {
        "median_ms": med,
        "p90_ms": p90,
        "median_ms_per_action": med / execute,
        "p90_ms_per_action": p90 / execute,
        "repeats": repeats,
    }


__all__ = ["ActingPolicy", "RandomPolicy", "RolloutResult", "act_latency", "rollout"]
