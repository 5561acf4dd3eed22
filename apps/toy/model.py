"""A small time-conditioned MLP for score models on low-dimensional data."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_embedding(t: Tensor, freqs: Tensor, scale: float = 1000.0) -> Tensor:
    """Features [sin(scale t f), cos(scale t f)] of t (B,) at frequencies f (F,): shape (B, 2F)."""
    arg = (scale * t)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class MLPScoreNet(nn.Module):
    """MLP with SiLU mapping (x, t) to a vector of the same dimension as x.

    Time enters through a fixed sinusoidal embedding of 1000 t (DDPM style, a non-trainable
    buffer of ``time_features // 2`` geometric frequencies from 1 down to ~1e-4), so times
    in [0, 1] resolve finely and larger times (e.g. VE noise levels) stay distinguishable
    through the low frequencies. The embedding is concatenated to x at the input and, through a
    learned linear map per layer, also added to the pre-activation of every hidden layer.
    ``depth`` is the number of hidden layers of width ``hidden``. Inputs are computed in
    the parameters' dtype and the output is returned in x's dtype.
    """

    def __init__(
        self, dim: int = 2, hidden: int = 256, depth: int = 3, time_features: int = 64
    ) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError(f"need dim, hidden, depth >= 1, got {dim}, {hidden}, {depth}")
        if time_features < 2 or time_features % 2:
            raise ValueError(f"time_features must be even and >= 2, got {time_features}")
        self.dim, self.hidden, self.depth, self.time_features = dim, hidden, depth, time_features
        half = time_features // 2
        freqs = torch.exp(-math.log(1e4) * torch.arange(half, dtype=torch.float32) / max(half, 1))
        self.register_buffer("freqs", freqs, persistent=False)
        self.inp = nn.Linear(dim + time_features, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth - 1))
        self.time_proj = nn.ModuleList(nn.Linear(time_features, hidden) for _ in range(depth - 1))
        self.out = nn.Linear(hidden, dim)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Output (B, dim) at x (B, dim) and t (B,) or a scalar (broadcast to the batch)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"need x of shape (B, {self.dim}), got {tuple(x.shape)}")
        dtype = self.inp.weight.dtype
        t = torch.as_tensor(t, device=x.device).to(dtype)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        elif t.shape != (x.shape[0],):
            raise ValueError(
                f"need t of shape () or ({x.shape[0]},) for x {tuple(x.shape)}, "
                f"got {tuple(t.shape)}"
            )
        temb = sinusoidal_embedding(t, self.freqs.to(dtype))
        h = self.act(self.inp(torch.cat([x.to(dtype), temb], dim=1)))
        for layer, proj in zip(self.layers, self.time_proj):
            h = self.act(layer(h) + proj(temb))
        return self.out(h).to(x.dtype)


__all__ = ["MLPScoreNet", "sinusoidal_embedding"]
