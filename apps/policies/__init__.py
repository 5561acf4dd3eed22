"""Policies app: goal-conditioned score-based diffusion policies (BESO) with simulator rollouts.

Play data from scripted experts in gymnasium-robotics PointMaze (Medium, Large) and FetchPush;
a score model over action chunks with EDM preconditioning that acts in 3 denoising steps and is
goal-free through classifier-free guidance; GCBC and a many-step DDPM policy as baselines.
Needs the extra: ``pip install 'scorelab[policies]'``.
"""

from .api import evaluate, evaluate_policy, goal_mode, load, load_play, make_dataset, train
from .config import (
    ActConfig,
    DataConfig,
    ModelConfig,
    PlayDataOptions,
    PoliciesConfig,
    PolicyEvalOptions,
)

__all__ = [
    "ActConfig",
    "DataConfig",
    "ModelConfig",
    "PlayDataOptions",
    "PoliciesConfig",
    "PolicyEvalOptions",
    "evaluate",
    "evaluate_policy",
    "goal_mode",
    "load",
    "load_play",
    "make_dataset",
    "train",
]
