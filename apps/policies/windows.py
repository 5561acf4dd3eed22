"""Training windows over play data: an observation history, the action chunk that follows, a goal.

A window starts at step t of an episode [s, e): it holds the observations t-h+1 .. t (steps
before s repeat the episode's first observation), the actions t .. t+chunk-1 (a window never
crosses the episode's end, so t + chunk <= e) and a hindsight goal, drawn afresh on every
``batch`` call: the achieved goal of a uniformly drawn later step j in (t, e) ("future";
the last step when t is the last one) or of the episode's last step ("final").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

GOALS = ("future", "final")


class Windows:
    """The valid windows of a ``PlayData``, indexed 0 .. len - 1, batched by index."""

    def __init__(self, data: Any, obs_history: int, chunk: int, goal: str) -> None:
        if goal not in GOALS:
            raise ValueError(f"unknown goal relabelling {goal!r}; known: {', '.join(GOALS)}")
        if obs_history < 1 or chunk < 1:
            raise ValueError(f"need obs_history, chunk >= 1, got {obs_history}, {chunk}")
        self.obs_history, self.chunk, self.goal = obs_history, chunk, goal
        self.observations = torch.as_tensor(np.asarray(data.observations, dtype=np.float32))
        self.actions = torch.as_tensor(np.asarray(data.actions, dtype=np.float32))
        self.achieved_goals = torch.as_tensor(np.asarray(data.achieved_goals, dtype=np.float32))
        ends = np.asarray(data.episode_ends, dtype=np.int64).reshape(-1)
        n = len(self.observations)
        if len(self.actions) != n or len(self.achieved_goals) != n:
            raise ValueError(
                f"play data arrays disagree in length: observations {n}, "
                f"actions {len(self.actions)}, achieved_goals {len(self.achieved_goals)}"
            )
        if len(ends) == 0 or ends[-1] != n or (np.diff(ends) <= 0).any() or ends[0] <= 0:
            raise ValueError(f"episode_ends must increase strictly and end at {n}")
        starts = np.concatenate([[0], ends[:-1]])
        t, s, e = [], [], []
        for a, b in zip(starts, ends):
            k = np.arange(a, b - chunk + 1)  # empty for an episode shorter than the chunk
            t.append(k)
            s.append(np.full(len(k), a))
            e.append(np.full(len(k), b))
        self.t = torch.as_tensor(np.concatenate(t), dtype=torch.int64)
        if len(self.t) == 0:
            raise ValueError(f"no episode of the play data is as long as chunk={chunk}")
        self.ep_start = torch.as_tensor(np.concatenate(s), dtype=torch.int64)
        self.ep_end = torch.as_tensor(np.concatenate(e), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def device(self) -> torch.device:
        """Where the arrays live (``to`` moves them)."""
        return self.observations.device

    def to(self, device: torch.device | str) -> Windows:
        """Move the arrays to ``device`` (in place); returns self."""
        for name in ("observations", "actions", "achieved_goals", "t", "ep_start", "ep_end"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def goal_steps(self, idx: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The data index of each window's goal, (B,); "future" draws from ``generator``."""
        last = self.ep_end[idx] - 1
        if self.goal == "final":
            return last
        t = self.t[idx]
        lo = torch.minimum(t + 1, last)
        u = torch.rand(len(idx), generator=generator, device=self.device)
        return torch.minimum(lo + (u * (last - lo + 1)).long(), last)

    def batch(self, idx: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Raw float32 obs (B, h, obs_dim), goal (B, goal_dim), action (B, chunk, act_dim) by key.

        Returned on ``idx``'s device; goals are drawn afresh (hindsight relabelling), from the
        global torch RNG unless a ``generator`` (on this object's device) is given.
        """
        out_device = torch.as_tensor(idx).device
        idx = torch.as_tensor(idx, dtype=torch.int64, device=self.device).reshape(-1)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise IndexError(f"window index out of range [0, {len(self)})")
        t = self.t[idx]
        hist = torch.arange(1 - self.obs_history, 1, device=self.device)
        o = torch.maximum(t[:, None] + hist, self.ep_start[idx][:, None])
        a = t[:, None] + torch.arange(self.chunk, device=self.device)
        g = self.goal_steps(idx, generator)
        out = {
            "obs": self.observations[o],
            "goal": self.achieved_goals[g],
            "action": self.actions[a],
        }
        return {k: v.to(out_device) for k, v in out.items()}


__all__ = ["GOALS", "Windows"]
