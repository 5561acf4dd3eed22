"""Cheap input checks at the public entry points, with errors that name the problem."""

from __future__ import annotations

import torch
from torch import Tensor


def check_finite(x: Tensor, name: str) -> Tensor:
    """Raise a ValueError naming ``name`` if ``x`` holds NaN or inf."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(f"{name} has {n_nan} NaN and {n_inf} inf values")
    return x


def check_int(value: int, name: str, lo: int = 1) -> int:
    """Raise a ValueError naming ``name`` unless ``value`` is an integer >= ``lo`` (not a bool)."""
    if isinstance(value, bool) or int(value) != value or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def check_rank(x: Tensor, min_ndim: int, name: str) -> Tensor:
    """Raise a ValueError if ``x`` has fewer than ``min_ndim`` dims."""
    if x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dims (batch first), got shape {tuple(x.shape)}"
        )
    return x
