"""The training engine's configuration: one typed dataclass, saved with every run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# fields that steer a run without changing what it computes: a resume may change them
RUN_CONTROL_FIELDS = (
    "steps",
    "log_every",
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
    "progress",
    "tensorboard",
    "device",
    "num_workers",
    "resume",
)


@dataclass
class TrainConfig:
    """How to train: optimizer, EMA, precision, logging and checkpoint cadence.

    ``batch_size`` is the global batch: under ``torchrun`` each of N processes takes
    ``batch_size / N`` samples, so one config means the same optimisation on 1 or N processes.
    """

    steps: int = 2000
    """optimizer steps in total (a resumed run continues up to this number)"""
    batch_size: int = 256
    """global batch size, split evenly across processes"""
    lr: float = 1e-3
    """peak AdamW learning rate"""
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    """linear learning-rate warm-up from lr/warmup_steps to lr"""
    lr_decay: Literal["constant", "cosine"] = "constant"
    """after warm-up: keep lr, or cosine-decay it to zero at `steps`"""
    grad_clip: float = 1.0
    """clip the global gradient norm to this value (0 disables clipping)"""
    ema_decay: float = 0.999
    """EMA of the weights, used for sampling and evaluation (0 disables it)"""
    ema_warmup: bool = True
    """use min(ema_decay, (1 + n) / (10 + n)) at the n-th update, so short runs average well"""
    bf16: bool = False
    """bf16 autocast for the forward pass and loss"""
    seed: int = 0
    log_every: int = 50
    """steps between JSONL metric records and progress-bar updates"""
    eval_every: int = 0
    """steps between evaluation callbacks (0: only at the end)"""
    checkpoint_every: int = 500
    """steps between checkpoints (0: only at the end)"""
    keep_checkpoints: int = 2
    """how many of the newest checkpoints to keep (0 keeps all)"""
    max_bad_steps: int = 20
    """abort after this many consecutive non-finite steps"""
    device: str = "auto"
    """"auto" (the local CUDA device under torchrun, else cuda:0 if present, else cpu), or a name"""
    num_workers: int = 0
    """DataLoader worker processes (0 loads in the training process)"""
    find_unused_parameters: bool = False
    """passed to DistributedDataParallel for models with conditionally unused parameters"""
    progress: bool = True
    tensorboard: bool = False
    """also write TensorBoard scalars (needs the `tensorboard` package)"""
    resume: bool = True
    """continue from the newest checkpoint in the run folder when there is one"""

    def __post_init__(self) -> None:
        positive = {"steps": self.steps, "batch_size": self.batch_size, "lr": self.lr}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"TrainConfig.{name} must be > 0, got {value}")
        nonneg = {
            "warmup_steps": self.warmup_steps,
            "grad_clip": self.grad_clip,
            "weight_decay": self.weight_decay,
            "eval_every": self.eval_every,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "num_workers": self.num_workers,
        }
        for name, value in nonneg.items():
            if value < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {value}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"TrainConfig.ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.log_every < 1 or self.max_bad_steps < 1:
            raise ValueError("TrainConfig.log_every and max_bad_steps must be >= 1")
