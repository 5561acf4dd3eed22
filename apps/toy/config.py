"""Configuration of the toy app: data, model and training, saved with every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scorelab.training import TrainConfig

Target = Literal["gmm", "moons", "checkerboard", "swissroll", "file"]


@dataclass
class DataConfig:
    """Which points to learn: a built-in 2-D target, or a local file of points."""

    target: Target = "moons"
    path: Path | None = None
    """for target "file": a .npy/.npz/.csv/.txt array of shape (n, d)"""
    n_train: int = 50_000
    """training points drawn from a built-in target"""
    n_test: int = 5_000
    """held-out points (a built-in target's independent draw, or a file's last rows)"""
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.target == "file") != (self.path is not None):
            raise ValueError('data.path is needed for target "file" and only for it')
        if self.n_train < 2 or self.n_test < 2:
            raise ValueError("data.n_train and data.n_test must be >= 2")


@dataclass
class ModelConfig:
    """The score model: an MLP over (x, t), its path and what it predicts."""

    path: Literal["vp", "subvp", "ve", "edm", "linear", "trig"] = "vp"
    """the noising path (linear/trig train by flow matching, the others by DSM)"""
    prediction: Literal["eps", "x0", "v", "velocity", "score"] = "eps"
    dim: int = 2
    """data dimension (set from the data when training)"""
    hidden: int = 256
    depth: int = 3
    time_features: int = 64


def _train_defaults() -> TrainConfig:
    return TrainConfig(
        steps=4000,
        batch_size=512,
        lr=2e-3,
        warmup_steps=200,
        lr_decay="cosine",
        ema_decay=0.995,
        log_every=100,
        checkpoint_every=1000,
    )


@dataclass
class ToyConfig:
    """``scorelab train toy``: a small score model on a 2-D or low-dimensional target."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_train_defaults)
    out: Path = Path("runs/toy")
    """run folder: config.json, metrics.jsonl, checkpoints/"""
