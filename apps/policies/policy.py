"""The run-time policy: observation history and goal in, a chunk of actions in the env's box out.

Diffusion kinds draw a unit-box action chunk with a core sampler (``ActConfig``: sampler,
steps, grid) from the trained model, goal-conditioned at guidance weight 1, goal-free at
weight 0 or without a goal, and with classifier-free guidance (two model calls per step)
otherwise; GCBC makes one deterministic call. Actions are mapped back to the env's box and
clipped into it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from scorelab.guidance import ClassifierFreeGuidance
from scorelab.samplers import NFE_PER_STEP, CountNFE, sample

from .config import ActConfig, ModelConfig
from .model import build_policy_model, make_path, make_policy_loss


class Policy:
    """Wrap a model from ``build_policy_model`` for acting; ``nfe`` counts model calls per act."""

    def __init__(
        self, model: nn.Module, model_cfg: ModelConfig, act_cfg: ActConfig, info: Any
    ) -> None:
        if not hasattr(model, "normalizer"):
            raise TypeError("Policy needs a model from build_policy_model (with a normalizer)")
        self.model, self.model_cfg, self.act_cfg, self.info = model, model_cfg, act_cfg, info
        self.kind = model_cfg.kind
        self.obs_history, self.chunk, self.execute = (
            model_cfg.obs_history,
            model_cfg.chunk,
            model_cfg.execute,
        )
        self.path = None if self.kind == "gcbc" else make_path(model_cfg)
        if self.path is not None and act_cfg.sampler not in NFE_PER_STEP:
            raise ValueError(
                f"act.sampler {act_cfg.sampler!r} is not a fixed-step sampler; "
                f"known: {', '.join(NFE_PER_STEP)}"
            )
        self.nfe = self.expected_nfe()

    def expected_nfe(self, goal_free: bool = False) -> int:
        """Model calls per ``act``: steps x calls per step, x 2 under guidance other than 0, 1."""
        if self.kind == "gcbc":
            return 1
        w = self.act_cfg.guidance
        guided = not goal_free and w not in (0.0, 1.0)
        return self.act_cfg.steps * NFE_PER_STEP[self.act_cfg.sampler] * (2 if guided else 1)

    def _inputs(self, obs: Any, goal: Any, device: torch.device) -> tuple[Tensor, Tensor | None]:
        obs = torch.as_tensor(obs, dtype=torch.float32, device=device)
        want = (self.obs_history, self.info.obs_dim)
        if obs.ndim != 3 or tuple(obs.shape[1:]) != want:
            raise ValueError(
                f"obs must have shape (B, {want[0]}, {want[1]}), got {tuple(obs.shape)}"
            )
        if goal is None:
            return obs, None
        goal = torch.as_tensor(goal, dtype=torch.float32, device=device)
        if goal.shape != (obs.shape[0], self.info.goal_dim):
            raise ValueError(
                f"goal must have shape ({obs.shape[0]}, {self.info.goal_dim}), "
                f"got {tuple(goal.shape)}"
            )
        return obs, goal

    def _unit_actions(self, obs: Tensor, goal: Tensor | None, generator: Any) -> Tensor:
        if self.kind == "gcbc":
            self.nfe = 1
            return self.model(obs=obs, goal=goal)
        w = self.act_cfg.guidance
        counted = CountNFE(self.model)
        cond: dict[str, Any] = {"obs": obs}
        model: nn.Module = counted
        if goal is not None and w != 0.0:
            cond["goal"] = goal
            if w != 1.0:
                model = ClassifierFreeGuidance(counted, self.path, w, cond_key="goal")
        x = sample(
            model,
            self.path,
            (obs.shape[0], self.chunk, self.info.act_dim),
            sampler=self.act_cfg.sampler,
            steps=self.act_cfg.steps,
            grid=self.act_cfg.grid,
            grid_options={"rho": self.act_cfg.rho} if self.act_cfg.grid == "karras" else None,
            generator=generator,
            dtype=obs.dtype,
            device=obs.device,
            cond=cond,
        )
        self.nfe = counted.nfe
        return x

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray | Tensor,
        goal: np.ndarray | Tensor | None,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """obs (B, obs_history, obs_dim) and goal (B, goal_dim) raw, or goal None (goal-free)
        -> actions (B, chunk, act_dim), float32, inside the env's action box."""
        norm = self.model.normalizer
        obs, goal = self._inputs(obs, goal, norm.obs_mean.device)
        was_training = self.model.training
        self.model.eval()
        try:
            u = self._unit_actions(obs, goal, generator)
        finally:
            self.model.train(was_training)
        a = norm.clip_action(norm.action_from_unit(u))
        return a.float().cpu().numpy()


__all__ = ["Policy", "build_policy_model", "make_policy_loss"]
