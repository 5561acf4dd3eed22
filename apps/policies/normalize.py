"""Input normalization and action scaling, held as buffers so they are saved with the weights.

Observations and goals are standardized with the play data's mean and std (goals with the
statistics of the achieved goals, the space hindsight goals are drawn from). Actions map
affinely from the env's box ``[action_low, action_high]`` to the unit box ``[-1, 1]``,
the space the policy models them in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

CONSTANT_STD = 1e-6
"""a feature whose std is below this is constant in the data: it is centred, not scaled"""
MIN_STD = 1e-3
"""floor on the std of the other features, so a near-constant one does not blow up"""


def _std(x: Tensor) -> Tensor:
    std = x.std(dim=0, unbiased=False)
    return torch.where(std < CONSTANT_STD, torch.ones_like(std), std.clamp(min=MIN_STD))


class Normalizer(nn.Module):
    """Mean/std of observations and goals, and the action box; identity until ``fit``."""

    def __init__(self, obs_dim: int, goal_dim: int, act_dim: int) -> None:
        super().__init__()
        for name, d in (("obs_dim", obs_dim), ("goal_dim", goal_dim), ("act_dim", act_dim)):
            if d < 1:
                raise ValueError(f"{name} must be >= 1, got {d}")
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("goal_mean", torch.zeros(goal_dim))
        self.register_buffer("goal_std", torch.ones(goal_dim))
        self.register_buffer("action_low", -torch.ones(act_dim))
        self.register_buffer("action_high", torch.ones(act_dim))

    @classmethod
    def empty(cls, info: Any) -> Normalizer:
        """An identity normalizer shaped for env ``info`` (to load saved statistics into)."""
        return cls(info.obs_dim, info.goal_dim, info.act_dim)

    @classmethod
    def fit(cls, data: Any) -> Normalizer:
        """Statistics of a ``PlayData``: its observations, achieved goals and action bounds."""
        obs = torch.as_tensor(np.asarray(data.observations), dtype=torch.float64)
        goals = torch.as_tensor(np.asarray(data.achieved_goals), dtype=torch.float64)
        low = torch.as_tensor(np.asarray(data.action_low), dtype=torch.float64).reshape(-1)
        high = torch.as_tensor(np.asarray(data.action_high), dtype=torch.float64).reshape(-1)
        if obs.ndim != 2 or goals.ndim != 2 or len(obs) == 0:
            raise ValueError(
                "play data needs observations (N, obs_dim) and achieved_goals (N, goal_dim) "
                f"with N > 0, got {tuple(obs.shape)} and {tuple(goals.shape)}"
            )
        if low.shape != high.shape or not bool((high > low).all()):
            raise ValueError(
                f"play data needs action_low < action_high in every dimension, "
                f"got {low.tolist()} and {high.tolist()}"
            )
        norm = cls(obs.shape[1], goals.shape[1], low.numel())
        with torch.no_grad():
            norm.obs_mean.copy_(obs.mean(0))
            norm.obs_std.copy_(_std(obs))
            norm.goal_mean.copy_(goals.mean(0))
            norm.goal_std.copy_(_std(goals))
            norm.action_low.copy_(low)
            norm.action_high.copy_(high)
        return norm

    def _tensor(self, x: Any, dim: int, name: str) -> Tensor:
        x = torch.as_tensor(x, dtype=self.obs_mean.dtype, device=self.obs_mean.device)
        if x.ndim == 0 or x.shape[-1] != dim:
            raise ValueError(f"{name} must end in a dimension of {dim}, got {tuple(x.shape)}")
        return x

    def obs(self, x: Any) -> Tensor:
        """Standardized observations, shape (..., obs_dim)."""
        return (self._tensor(x, self.obs_mean.numel(), "obs") - self.obs_mean) / self.obs_std

    def goal(self, g: Any) -> Tensor:
        """Standardized goals, shape (..., goal_dim)."""
        return (self._tensor(g, self.goal_mean.numel(), "goal") - self.goal_mean) / self.goal_std

    def action_to_unit(self, a: Any) -> Tensor:
        """Actions (..., act_dim) in the env's box to the unit box [-1, 1]."""
        a = self._tensor(a, self.action_low.numel(), "action")
        return 2 * (a - self.action_low) / (self.action_high - self.action_low) - 1

    def action_from_unit(self, u: Any) -> Tensor:
        """Unit-box actions (..., act_dim) to the env's box; -1 and 1 give the bounds exactly."""
        u = self._tensor(u, self.action_low.numel(), "unit action")
        # lerp returns its end points exactly at weights 0 and 1
        return torch.lerp(self.action_low.expand_as(u), self.action_high.expand_as(u), (u + 1) / 2)

    def clip_action(self, a: Tensor) -> Tensor:
        """Actions clipped into the env's box."""
        return torch.maximum(torch.minimum(a, self.action_high), self.action_low)

    def extra_repr(self) -> str:
        dims = (self.obs_mean.numel(), self.goal_mean.numel(), self.action_low.numel())
        return "obs_dim={}, goal_dim={}, act_dim={}".format(*dims)


__all__ = ["Normalizer"]
