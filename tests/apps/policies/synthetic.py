"""Stand-ins for PlayData and EnvInfo with only the fields the policy code reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Play:
    """The PlayData fields the windows, the normalizer and the models read."""

    observations: np.ndarray
    actions: np.ndarray
    achieved_goals: np.ndarray
    episode_ends: np.ndarray
    action_low: np.ndarray = field(default_factory=lambda: -np.ones(2, np.float32))
    action_high: np.ndarray = field(default_factory=lambda: np.ones(2, np.float32))


@dataclass
class Info:
    """The EnvInfo fields the models and the policy read."""

    obs_dim: int = 2
    goal_dim: int = 2
    act_dim: int = 2
    name: str = "synthetic"
