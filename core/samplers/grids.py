"""Time grids, built apart from the samplers: decreasing times from t_max to t_min.

Each grid returns ``steps + 1`` times (``steps`` integration steps). The Karras and
log-SNR grids are spaced in the path's noise level sigma/alpha or log-SNR and mapped
back to the path's time, so one grid serves VP, VE, EDM and flow-matching paths. Where
an endpoint has an infinite noise level (a flow path at t = 1) it is kept as the first
time and the spaced points start from EDM's sigma_max = 80; a noise-free end (t = 0) is
kept as the last time, the log-SNR grid stepping to it from sigma = 0.002.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..paths.base import GaussianPath
from ..registry import Registry

GRIDS: Registry = Registry("time grid")
_SIGMA_CLAMP = (0.002, 80.0)


def _bounds(path: GaussianPath, t_min: float | None, t_max: float | None) -> tuple[float, float]:
    lo = path.t_min if t_min is None else t_min
    hi = path.t_max if t_max is None else t_max
    if not lo < hi:
        raise ValueError(f"need t_min < t_max, got {lo} and {hi}")
    return lo, hi


def _check_steps(steps: int) -> None:
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")


def _finish(path: GaussianPath, ts: Tensor, lo: float, hi: float) -> Tensor:
    ts = ts.clamp(lo, hi)
    ts[0], ts[-1] = hi, lo
    if not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError(f"grid is not strictly decreasing on {path!r}; use fewer steps")
    return ts


@GRIDS.register("uniform")
def uniform_grid(
    path: GaussianPath, steps: int, t_min: float | None = None, t_max: float | None = None
) -> Tensor:
    """Times uniform in t from t_max to t_min."""
    _check_steps(steps)
    lo, hi = _bounds(path, t_min, t_max)
    return torch.linspace(hi, lo, steps + 1, dtype=torch.float64)


def _spaced(path: GaussianPath, steps: int, lo: float, hi: float, to_t) -> Tensor:
    """Grid whose points come from ``to_t(n, s_hi, s_lo)`` over noise levels sigma/alpha.

    A noise-only endpoint (infinite sigma/alpha) is kept as the first time, and the
    remaining ``steps`` points start from EDM's sigma_max.
    """
    s_hi, s_lo = float(path.noise_level(hi)), float(path.noise_level(lo))
    if math.isinf(s_hi):
        ts = to_t(steps, _SIGMA_CLAMP[1], s_lo)
        ts = torch.cat([torch.tensor([hi], dtype=ts.dtype), ts])
    else:
        ts = to_t(steps + 1, s_hi, s_lo)
    return _finish(path, ts, lo, hi)


@GRIDS.register("karras")
def karras_grid(
    path: GaussianPath,
    steps: int,
    rho: float = 7.0,
    t_min: float | None = None,
    t_max: float | None = None,
) -> Tensor:
    """EDM's rho-schedule in the noise level sigma/alpha (Karras et al. 2022, eq. 5)."""
    _check_steps(steps)
    lo, hi = _bounds(path, t_min, t_max)

    def to_t(n: int, s_hi: float, s_lo: float) -> Tensor:
        ramp = torch.linspace(0, 1, n, dtype=torch.float64)
        sig = (s_hi ** (1 / rho) + ramp * (s_lo ** (1 / rho) - s_hi ** (1 / rho))) ** rho
        return path.t_from_sigma_ratio(sig)

    return _spaced(path, steps, lo, hi, to_t)


@GRIDS.register("log_snr")
def log_snr_grid(
    path: GaussianPath, steps: int, t_min: float | None = None, t_max: float | None = None
) -> Tensor:
    """Times uniform in log-SNR lambda = log(alpha / sigma) (DPM-Solver's 'logSNR' grid)."""
    _check_steps(steps)
    lo, hi = _bounds(path, t_min, t_max)

    def to_t(n: int, s_hi: float, s_lo: float) -> Tensor:
        lam_hi = -math.log(s_lo if s_lo > 0 else _SIGMA_CLAMP[0])
        lam = torch.linspace(-math.log(s_hi), lam_hi, n, dtype=torch.float64)
        return path.t_from_log_snr(lam)

    return _spaced(path, steps, lo, hi, to_t)


def get_grid(name: str, path: GaussianPath, steps: int, **kwargs) -> Tensor:
    """Build a grid by name: uniform, karras or log_snr."""
    return GRIDS.get(name)(path, steps, **kwargs)


__all__ = ["GRIDS", "get_grid", "karras_grid", "log_snr_grid", "uniform_grid"]
