"""Configuration of the policies app: play data, policy model, action sampler and training."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scorelab.training import TrainConfig

EnvName = Literal["pointmaze_medium", "pointmaze_large", "fetch_push"]
PolicyKind = Literal["beso", "ddpm", "gcbc"]


@dataclass
class DataConfig:
    """Which play data to learn from: the scripted expert's (generated, cached) or a file."""

    env: EnvName = "pointmaze_medium"
    path: Path | None = None
    """a dataset file: ours (.npz), D4RL-style (.hdf5/.h5) or a Minari dataset folder;
    None generates the embedded default with the scripted expert (cached under cache_dir)"""
    episodes: int = 400
    """episodes of scripted play to generate (ignored with `path`)"""
    seed: int = 0
    """seed of the generated play data"""
    goal: Literal["auto", "future", "final"] = "auto"
    """hindsight goal of a training window: a uniformly drawn future state of its episode
    ("future"), the episode's last state ("final"), or "auto" (future for mazes, final for
    Fetch, whose object only moves late in an episode)"""
    cache_dir: Path = Path("runs/policies/data")
    """where generated play data is cached (one .npz per env, episodes and seed)"""

    def __post_init__(self) -> None:
        if self.episodes < 2:
            raise ValueError(f"data.episodes must be >= 2, got {self.episodes}")


@dataclass
class ModelConfig:
    """The policy: what it predicts from which inputs, and its network."""

    kind: PolicyKind = "beso"
    """beso: EDM-preconditioned score model over action chunks (few-step sampling);
    ddpm: the same network as an eps-predictor on a VP path (many-step ancestral sampling,
    as in Diffusion Policy); gcbc: a deterministic MLP (goal-conditioned behaviour cloning)"""
    obs_history: int = 2
    """observations the policy sees (the current one and the ones before it)"""
    chunk: int = 4
    """actions predicted per call"""
    execute: int = 2
    """actions of each predicted chunk executed before the policy is called again"""
    d_model: int = 64
    """transformer width (beso, ddpm); BESO's published models are 240-360 wide"""
    depth: int = 3
    """transformer layers (beso, ddpm; BESO's: 4-6) or hidden layers (gcbc)"""
    heads: int = 4
    hidden: int = 256
    """gcbc MLP width"""
    dropout: float = 0.0
    goal_dropout: float = 0.1
    """probability that a training sample's goal is replaced by the learned null goal,
    so the one network is also the goal-free policy (classifier-free guidance)"""
    sigma_data: float = 0.5
    sigma_min: float = 0.005
    """smallest noise level (BESO's: 0.005)"""
    sigma_max: float = 80.0
    """largest noise level, where sampling starts. BESO's configs use 1; we use EDM's 80 with a
    wider proposal, so sampling starts from pure noise: with sigma <= 1 the random start still
    steers the chunk (PointMaze Medium: 45% vs 96% success; docs/policies.md)"""
    sigma_scale: float = 1.5
    """scale of the log-logistic training noise, ln sigma = ln sigma_data + scale * logit(u)
    (BESO's: 0.5, with sigma_max 1)"""

    def __post_init__(self) -> None:
        for name in ("obs_history", "chunk", "execute", "d_model", "depth", "heads", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.execute > self.chunk:
            raise ValueError(f"model.execute ({self.execute}) exceeds model.chunk ({self.chunk})")
        if not 0.0 <= self.goal_dropout < 1.0:
            raise ValueError(f"model.goal_dropout must lie in [0, 1), got {self.goal_dropout}")
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError("need 0 < model.sigma_min < model.sigma_max")


@dataclass
class ActConfig:
    """How the policy draws actions at run time (diffusion kinds; gcbc ignores it)."""

    sampler: Literal["ddim", "ancestral", "euler", "heun", "dpmpp_2m"] = "ddim"
    """a core sampler; "ancestral" is DDPM's / Euler-ancestral's stochastic step"""
    steps: int = 3
    """denoising steps per action chunk (BESO acts in 3; ddpm uses 50+)"""
    guidance: float = 1.0
    """classifier-free guidance weight: 1 goal-conditioned, 0 goal-free, > 1 sharper"""
    grid: Literal["karras", "uniform", "log_snr"] = "karras"
    rho: float = 5.0
    """the Karras grid's rho (BESO's: 5)"""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"act.steps must be >= 1, got {self.steps}")
        if self.guidance < 0:
            raise ValueError(f"act.guidance must be >= 0, got {self.guidance}")


def _train_defaults() -> TrainConfig:
    return TrainConfig(
        steps=6000,
        batch_size=256,
        lr=3e-4,
        weight_decay=1e-4,
        warmup_steps=200,
        lr_decay="cosine",
        ema_decay=0.999,
        log_every=100,
        checkpoint_every=2000,
    )


@dataclass
class PoliciesConfig:
    """``scorelab train policies``: a goal-conditioned policy from scripted play data."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    act: ActConfig = field(default_factory=ActConfig)
    train: TrainConfig = field(default_factory=_train_defaults)
    out: Path = Path("runs/policies")
    """run folder: config.json, metrics.jsonl, checkpoints/"""


@dataclass
class PolicyEvalOptions:
    """``scorelab evaluate policies``: roll a trained policy out on fixed goals (<run>/eval)."""

    checkpoint: Path
    """a checkpoint folder, or a run folder (its newest checkpoint)"""
    goals: int = 100
    """evaluation episodes per seed: fixed (start, goal) tasks, the same for every policy"""
    seeds: int = 3
    """rollout seeds (the policy's sampling noise and the env's start noise)"""
    sampler: str | None = None
    """override the run's act.sampler"""
    steps: int | None = None
    """override the run's act.steps"""
    guidance: float | None = None
    """override the run's act.guidance (0: goal-free)"""
    routes: int = 6
    """PointMaze only: start/goal pairs with several shortest routes (multimodality metric)"""
    repeats: int = 16
    """PointMaze only: rollouts per pair for the multimodality metric"""
    out: Path | None = None
    """output folder (default: <run>/eval)"""
    weights: Literal["ema", "model"] = "ema"
    device: str = "cpu"
    progress: bool = True


@dataclass
class PlayDataOptions:
    """``scorelab data policies``: write scripted play data to a file (format: docs/policies.md)."""

    env: EnvName = "pointmaze_medium"
    episodes: int = 400
    seed: int = 0
    out: Path = Path("data/play.npz")
    """the .npz file to write"""
    progress: bool = True
