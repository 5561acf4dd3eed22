"""Time broadcasting: the one place where per-sample scalars meet tensors of any rank."""

from __future__ import annotations

import torch
from torch import Tensor


def append_dims(v: Tensor, ndim: int) -> Tensor:
    """Append trailing singleton dims to ``v`` until it has ``ndim`` dims.

    ``v`` of shape (B,) against x of shape (B, ...) becomes (B, 1, ..., 1).
    """
    if v.ndim > ndim:
        raise ValueError(f"cannot broadcast a tensor of rank {v.ndim} to rank {ndim}")
    return v.reshape(*v.shape, *([1] * (ndim - v.ndim)))


def batch_time(t: float | Tensor, batch: int, like: Tensor) -> Tensor:
    """Return ``t`` as a (B,) tensor on ``like``'s device and dtype."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"time must be a scalar or of shape ({batch},), got {tuple(t.shape)}")
    return t
