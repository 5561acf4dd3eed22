"""Policy networks and the modules the Trainer trains: BESO, a DDPM baseline and GCBC.

* ``PolicyNet``: a pre-LN transformer over the tokens [noise level, goal, obs_1..obs_h,
  action_1..action_chunk] (plus learned position embeddings) whose head on the action tokens
  is the network output. A missing goal, or a sample flagged in ``goal_drop``, gets a learned
  null goal token, so one network is both the goal-conditioned and the goal-free policy.
* ``DiffusionPolicyModel``: the core's model call ``model(x_unit, t, obs=, goal=, goal_drop=)``
  on raw obs and goals (normalized inside); "beso" wraps the net in EDM preconditioning on
  EDM's sigma(t) = t path (x0-prediction, Reuss et al. 2023), "ddpm" makes it an
  eps-predictor on the VP path that sees t as its noise input (Diffusion Policy's recipe).
* ``GCBCNet`` / ``GCBCPolicyModel``: a deterministic MLP, goal-conditioned behaviour cloning.

Actions live in the unit box [-1, 1] inside every model (``Normalizer.action_to_unit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from scorelab.broadcast import batch_time
from scorelab.losses import DSMLoss
from scorelab.parameterization import Predictor
from scorelab.paths import EDM, VP, GaussianPath
from scorelab.precond import EDMPrecond
from scorelab.time_proposals import LogLogisticSigma

from .config import ModelConfig
from .normalize import Normalizer
from .windows import Windows

NOISE_FEATURES = 64
"""Fourier features of the noise input c_noise (ln(sigma)/4 for beso, t in [0, 1] for ddpm)"""


class NoiseEmbedding(nn.Module):
    """Fixed Fourier features of a scalar noise input (B,), then a 2-layer MLP: (B, d_model)."""

    def __init__(self, d_model: int, features: int = NOISE_FEATURES) -> None:
        super().__init__()
        # geometric angular frequencies 2 pi * [1/4 .. 32]: resolve both c_noise ranges
        freqs = 2 * math.pi * torch.logspace(-2, 5, features // 2, base=2.0)
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(features, d_model), nn.GELU(), nn.Linear(d_model, d_model)
        )

    def forward(self, c: Tensor) -> Tensor:
        arg = c.to(self.freqs.dtype)[:, None] * self.freqs[None, :]
        return self.mlp(torch.cat([torch.cos(arg), torch.sin(arg)], dim=1))


def _goal_keep(goal_drop: Tensor | None, b: int, device: torch.device) -> Tensor | None:
    """(B, 1) bool: True where the sample keeps its goal; None when none is dropped."""
    if goal_drop is None:
        return None
    drop = torch.as_tensor(goal_drop, dtype=torch.bool, device=device).reshape(-1)
    if drop.shape != (b,):
        raise ValueError(f"goal_drop must have shape ({b},), got {tuple(drop.shape)}")
    return ~drop[:, None]


class PolicyNet(nn.Module):
    """Transformer over (noise level, goal, obs history, noisy action chunk) tokens.

    ``forward(x, c_noise, *, obs, goal=None, goal_drop=None)``: x (B, chunk, act_dim) unit
    actions (already scaled by the preconditioning), c_noise (B,) or a scalar, obs
    (B, obs_history, obs_dim) and goal (B, goal_dim) normalized; goal None or goal_drop[i]
    True gives sample i the learned null goal. Returns (B, chunk, act_dim).
    """

    def __init__(
        self,
        obs_dim: int,
        goal_dim: int,
        act_dim: int,
        obs_history: int,
        chunk: int,
        d_model: int = 128,
        depth: int = 4,
        heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim
        self.obs_history, self.chunk = obs_history, chunk
        self.noise = NoiseEmbedding(d_model)
        self.goal_in = nn.Linear(goal_dim, d_model)
        self.null_goal = nn.Parameter(0.02 * torch.randn(d_model))
        self.obs_in = nn.Linear(obs_dim, d_model)
        self.act_in = nn.Linear(act_dim, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(2 + obs_history + chunk, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=4 * d_model,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, act_dim)

    def goal_token(self, goal: Tensor | None, goal_drop: Tensor | None, b: int) -> Tensor:
        """(B, d_model): the goal's embedding, or the null goal where it is missing or dropped."""
        null = self.null_goal.expand(b, -1)
        if goal is None:
            return null
        if goal.shape != (b, self.goal_dim):
            raise ValueError(
                f"goal must have shape ({b}, {self.goal_dim}), got {tuple(goal.shape)}"
            )
        tok = self.goal_in(goal)
        keep = _goal_keep(goal_drop, b, tok.device)
        return tok if keep is None else torch.where(keep, tok, null)

    def forward(
        self,
        x: Tensor,
        c_noise: Tensor | float,
        *,
        obs: Tensor,
        goal: Tensor | None = None,
        goal_drop: Tensor | None = None,
    ) -> Tensor:
        b = x.shape[0]
        if x.shape[1:] != (self.chunk, self.act_dim):
            raise ValueError(
                f"x must have shape (B, {self.chunk}, {self.act_dim}), got {tuple(x.shape)}"
            )
        if obs.shape != (b, self.obs_history, self.obs_dim):
            raise ValueError(
                f"obs must have shape ({b}, {self.obs_history}, {self.obs_dim}), "
                f"got {tuple(obs.shape)}"
            )
        dtype = self.pos.dtype
        tokens = torch.cat(
            [
                self.noise(batch_time(c_noise, b, x))[:, None].to(dtype),
                self.goal_token(None if goal is None else goal.to(dtype), goal_drop, b)[:, None],
                self.obs_in(obs.to(dtype)),
                self.act_in(x.to(dtype)),
            ],
            dim=1,
        )
        h = self.norm(self.encoder(tokens + self.pos))
        return self.head(h[:, -self.chunk :]).to(x.dtype)


class GCBCNet(nn.Module):
    """MLP from (flattened obs history, goal) to an action chunk in the unit box (tanh output).

    A missing or dropped goal is zeroed and flagged by an extra input, so the same net can
    be trained goal-free as well. ``depth`` hidden layers of width ``hidden``.
    """

    def __init__(
        self,
        obs_dim: int,
        goal_dim: int,
        act_dim: int,
        obs_history: int,
        chunk: int,
        hidden: int = 256,
        depth: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim
        self.obs_history, self.chunk = obs_history, chunk
        layers: list[nn.Module] = []
        width = obs_history * obs_dim + goal_dim + 1
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, chunk * act_dim))

    def forward(
        self, obs: Tensor, goal: Tensor | None = None, goal_drop: Tensor | None = None
    ) -> Tensor:
        """obs (B, obs_history, obs_dim), goal (B, goal_dim) normalized -> (B, chunk, act_dim)."""
        b = obs.shape[0]
        if obs.shape != (b, self.obs_history, self.obs_dim):
            raise ValueError(
                f"obs must have shape (B, {self.obs_history}, {self.obs_dim}), "
                f"got {tuple(obs.shape)}"
            )
        if goal is None:
            g = obs.new_zeros(b, self.goal_dim)
            keep = obs.new_zeros(b, 1)
        else:
            k = _goal_keep(goal_drop, b, obs.device)
            keep = obs.new_ones(b, 1) if k is None else k.to(obs.dtype)
            g = torch.where(keep.bool(), goal, torch.zeros_like(goal))
        out = self.mlp(torch.cat([obs.flatten(1), g, 1 - keep], dim=1))
        return torch.tanh(out).reshape(b, self.chunk, self.act_dim)


class DiffusionPolicyModel(nn.Module):
    """The core's model call on raw inputs: ``model(x_unit, t, obs=, goal=None, goal_drop=None)``.

    ``kind`` "beso": EDM preconditioning, returns x0; "ddpm": the net as eps-predictor with t
    as its noise input. ``prediction`` tells the core which.
    """

    def __init__(
        self,
        kind: str,
        net: nn.Module,
        path: GaussianPath,
        normalizer: Normalizer,
        sigma_data: float = 0.5,
    ) -> None:
        super().__init__()
        if kind == "beso":
            self.inner: nn.Module = EDMPrecond(net, path, sigma_data)
        elif kind == "ddpm":
            self.inner = Predictor(net, "eps")
        else:
            raise ValueError(f"unknown diffusion policy kind {kind!r}; known: beso, ddpm")
        self.kind, self.path, self.normalizer = kind, path, normalizer
        self.prediction = self.inner.prediction

    @property
    def net(self) -> nn.Module:
        """The underlying ``PolicyNet``."""
        return self.inner.net

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        *,
        obs: Any,
        goal: Any = None,
        goal_drop: Tensor | None = None,
    ) -> Tensor:
        g = None if goal is None else self.normalizer.goal(goal)
        return self.inner(x, t, obs=self.normalizer.obs(obs), goal=g, goal_drop=goal_drop)


class GCBCPolicyModel(nn.Module):
    """``model(obs=, goal=None, goal_drop=None)`` on raw inputs -> unit actions (B, chunk, act)."""

    def __init__(self, net: GCBCNet, normalizer: Normalizer) -> None:
        super().__init__()
        self.kind, self.net, self.normalizer = "gcbc", net, normalizer

    def forward(self, *, obs: Any, goal: Any = None, goal_drop: Tensor | None = None) -> Tensor:
        g = None if goal is None else self.normalizer.goal(goal)
        return self.net(self.normalizer.obs(obs), g, goal_drop)


def make_path(cfg: ModelConfig) -> GaussianPath:
    """The path of a diffusion kind: EDM's sigma(t) = t for beso, VP (defaults) for ddpm."""
    if cfg.kind == "beso":
        return EDM(sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max, sigma_data=cfg.sigma_data)
    if cfg.kind == "ddpm":
        return VP()
    raise ValueError(f"model.kind {cfg.kind!r} has no diffusion path (beso, ddpm do)")


def build_policy_model(cfg: ModelConfig, info: Any, normalizer: Normalizer) -> nn.Module:
    """The module the Trainer trains for ``cfg.kind`` on env ``info``; it holds ``normalizer``."""
    dims = (info.obs_dim, info.goal_dim, info.act_dim, cfg.obs_history, cfg.chunk)
    if cfg.kind == "gcbc":
        return GCBCPolicyModel(GCBCNet(*dims, cfg.hidden, cfg.depth, cfg.dropout), normalizer)
    net = PolicyNet(*dims, cfg.d_model, cfg.depth, cfg.heads, cfg.dropout)
    return DiffusionPolicyModel(cfg.kind, net, make_path(cfg), normalizer, cfg.sigma_data)


def make_policy_loss(cfg: ModelConfig, windows: Windows) -> Callable[[nn.Module, Tensor], Tensor]:
    """``fn(model, idx) -> scalar``: the training loss on the windows ``idx``.

    Goals, goal dropout and noise come from the global torch RNG (which the Trainer
    checkpoints). beso: EDM-weighted DSM with log-logistic noise levels around sigma_data;
    ddpm: eps-MSE at uniform times; gcbc: MSE of the unit action chunk.
    """
    if cfg.kind == "gcbc":
        dsm = None
    else:
        path = make_path(cfg)
        if cfg.kind == "beso":
            proposal = LogLogisticSigma(
                math.log(cfg.sigma_data), cfg.sigma_scale, cfg.sigma_min, cfg.sigma_max
            )
            dsm = DSMLoss(path, weighting="edm", time_proposal=proposal)
        else:
            dsm = DSMLoss(path)

    def loss(model: nn.Module, idx: Tensor) -> Tensor:
        batch = windows.batch(idx)
        b = len(batch["obs"])
        drop = None
        if cfg.goal_dropout > 0:
            drop = (torch.rand(b) < cfg.goal_dropout).to(batch["obs"].device)
        # the normalizer's buffers sit on the model's device: map the actions with them
        norm = getattr(model, "module", model).normalizer
        x0 = norm.action_to_unit(batch["action"])
        cond = dict(obs=batch["obs"], goal=batch["goal"], goal_drop=drop)
        if dsm is None:
            return (model(**cond) - x0).pow(2).mean()
        return dsm(model, x0, **cond)

    return loss


__all__ = [
    "DiffusionPolicyModel",
    "GCBCNet",
    "GCBCPolicyModel",
    "NoiseEmbedding",
    "PolicyNet",
    "build_policy_model",
    "make_path",
    "make_policy_loss",
]
