"""What CTM and SiD share: noise-level bookkeeping, a Karras-ramp time draw and a small MLP.

Both methods are written in EDM's noise level ``sigma/alpha`` (Karras et al. 2022): on a
path with (alpha, sigma), x / alpha is EDM's x at noise level sigma/alpha, so the same
code serves EDM (alpha = 1, sigma = t), VE and VP. Our time convention: ``t_min`` is data,
``t_max`` the prior.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..paths.base import GaussianPath

SIGMA_CAP = 80.0  # EDM's sigma_max: where a path's noise level is infinite (flow at t = 1)


def noise_level(path: GaussianPath, t: Tensor) -> Tensor:
    """EDM's noise level sigma(t) / alpha(t), shape of ``t``."""
    return path.sigma(t) / path.alpha(t)


def time_of_level(path: GaussianPath, level: Tensor) -> Tensor:
    """The path time at noise level ``level`` (inverse of ``noise_level``), clamped to the path."""
    t = path.t_from_sigma_ratio(level).to(level.dtype)
    return t.clamp(min=path.t_min, max=path.t_max)


def ramp_levels(r: Tensor, hi: Tensor | float, lo: Tensor | float, rho: float = 7.0) -> Tensor:
    """EDM's rho-ramp: noise levels from ``hi`` (r = 0) to ``lo`` (r = 1), per entry of ``r``."""
    hi, lo = torch.as_tensor(hi, dtype=r.dtype), torch.as_tensor(lo, dtype=r.dtype)
    return (hi ** (1 / rho) + r * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho


def level_bounds(
    path: GaussianPath, t_min: float | None = None, t_max: float | None = None
) -> tuple[float, float]:
    """(lowest, highest) noise level over [t_min, t_max] (defaults: the path's), capped at 80."""
    lo_t = path.t_min if t_min is None else t_min
    hi_t = path.t_max if t_max is None else t_max
    if not lo_t < hi_t:
        raise ValueError(f"need t_min < t_max, got {lo_t} and {hi_t}")
    tt = torch.tensor([lo_t, hi_t], dtype=torch.float64)
    a, s = path.alpha(tt), path.sigma(tt)
    lv = [min(float(si / ai), SIGMA_CAP) if ai > 1e-9 * si else SIGMA_CAP for ai, si in zip(a, s)]
    return lv[0], lv[1]


class TimeMLP(nn.Module):
    """MLP ``net(x, *c) -> (B, dim)`` conditioned on ``n_cond`` per-sample scalars c_i (B,).

    Each scalar enters through fixed Fourier features at ``freqs`` geometric frequencies
    (1 to 2^(freqs-1)) plus itself, concatenated to x and added (through a learned linear
    map) to every hidden pre-activation. Meant for EDM-preconditioned inputs, where the
    scalars are c_noise = log(sigma) / 4, of order one.
    """

    def __init__(
        self, dim: int, n_cond: int = 1, hidden: int = 128, depth: int = 3, freqs: int = 6
    ) -> None:
        super().__init__()
        if min(dim, n_cond, hidden, depth, freqs) < 1:
            raise ValueError(
                f"need dim, n_cond, hidden, depth, freqs >= 1, got {dim}, {n_cond}, {hidden}, "
                f"{depth}, {freqs}"
            )
        self.dim, self.n_cond = dim, n_cond
        self.register_buffer("freqs", 2.0 ** torch.arange(freqs) * math.pi / 2, persistent=False)
        n_feat = n_cond * (2 * freqs + 1)
        self.inp = nn.Linear(dim + n_feat, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth - 1))
        self.cond_proj = nn.ModuleList(nn.Linear(n_feat, hidden) for _ in range(depth - 1))
        self.out = nn.Linear(hidden, dim)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, *c: Tensor) -> Tensor:
        """Output (B, dim) for x (B, dim) and ``n_cond`` scalars each (B,)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"need x of shape (B, {self.dim}), got {tuple(x.shape)}")
        if len(c) != self.n_cond:
            raise ValueError(f"need {self.n_cond} conditioning scalars, got {len(c)}")
        dtype = self.inp.weight.dtype
        cs = torch.stack([torch.as_tensor(ci).to(dtype).expand(x.shape[0]) for ci in c], 1)
        arg = cs[:, :, None] * self.freqs.to(dtype)
        feat = torch.cat([cs, arg.sin().flatten(1), arg.cos().flatten(1)], 1)
        h = self.act(self.inp(torch.cat([x.to(dtype), feat], 1)))
        for layer, proj in zip(self.layers, self.cond_proj):
            h = self.act(layer(h) + proj(feat))
        return self.out(h).to(x.dtype)


def check_finite(x: Tensor, name: str = "x") -> Tensor:
    """Raise a ValueError naming ``name`` if ``x`` has NaN or inf entries."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has NaN or inf values")
    return x


__all__ = [
    "SIGMA_CAP",
    "TimeMLP",
    "check_finite",
    "level_bounds",
    "noise_level",
    "ramp_levels",
    "time_of_level",
]
