"""Toy app: score models on 2-D and low-dimensional targets.

Built-in targets: an 8-mode Gaussian mixture (exact score available), two moons,
checkerboard and swiss roll; or your own points from a local .npy/.npz/.csv file.
"""

from .api import build_model, evaluate, generate, load, load_data, make_loss, sample, train
from .config import DataConfig, ModelConfig, ToyConfig

__all__ = [
    "DataConfig",
    "ModelConfig",
    "ToyConfig",
    "build_model",
    "evaluate",
    "generate",
    "load",
    "load_data",
    "make_loss",
    "sample",
    "train",
]
