"""The training engine: one loop for every app (see ``Trainer``)."""

from .checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_weights,
    resolve_checkpoint,
    run_dir_of,
)
from .config import TrainConfig
from .data import BatchStream, TensorData
from .distributed import DistInfo
from .ema import EMA
from .metrics_log import MetricsLog, read_metrics
from .schedule import lr_at
from .trainer import Trainer, TrainResult, to_device

__all__ = [
    "EMA",
    "BatchStream",
    "CheckpointError",
    "DistInfo",
    "MetricsLog",
    "TensorData",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "latest_checkpoint",
    "list_checkpoints",
    "load_weights",
    "lr_at",
    "read_metrics",
    "resolve_checkpoint",
    "run_dir_of",
    "to_device",
]
