"""Sequential Monte Carlo over weighted particles: effective sample size and resampling.

Shared by the Feynman-Kac correctors (``samplers.fkc``) and ensemble SMC for inverse
problems (``inverse``). Particles are a batch (the first dim of every field) with log-weights
of shape (B,); ``resample_if`` resamples systematically when the effective sample size falls
below a fraction of B, and resets the log-weights to zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from .state import State


def normalized_weights(logw: Tensor) -> Tensor:
    """Normalized weights softmax(logw), shape (B,)."""
    if logw.ndim != 1 or logw.numel() == 0:
        raise ValueError(f"log-weights must have shape (B,) with B >= 1, got {tuple(logw.shape)}")
    if bool(torch.isnan(logw).any()) or bool((logw == float("inf")).any()):
        raise ValueError("log-weights hold NaN or +inf")
    if bool((logw == float("-inf")).all()):
        raise ValueError("every particle has zero weight (all log-weights are -inf)")
    return torch.softmax(logw, dim=0)


def ess(logw: Tensor) -> float:
    """Effective sample size 1 / sum(w_i^2) of normalized weights, in [1, B]."""
    w = normalized_weights(logw)
    return float(1.0 / w.pow(2).sum())


def systematic_resample(logw: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Indices (B,) drawn by systematic resampling: one uniform, B evenly spaced points.

    Particle i is copied floor(B w_i) or ceil(B w_i) times: the lowest-variance unbiased
    scheme of the standard ones (Douc, Cappe & Moulines 2005).
    """
    w = normalized_weights(logw).double()
    n = w.numel()
    u = torch.rand((), generator=generator, dtype=torch.float64, device=w.device)
    points = (u + torch.arange(n, dtype=torch.float64, device=w.device)) / n
    cdf = torch.cumsum(w, 0)
    cdf[-1] = 1.0  # guard against round-off leaving the last point beyond the sum
    return torch.searchsorted(cdf, points, right=True).clamp(max=n - 1)


def take(x: State, idx: Tensor) -> State:
    """Select particles ``idx`` along the batch dim of every field."""
    if isinstance(x, Mapping):
        return {k: v[idx] for k, v in x.items()}
    return x[idx]


def resample_if(
    x: State,
    logw: Tensor,
    threshold: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[State, Tensor, bool]:
    """Resample systematically when ESS < threshold * B; returns (x, logw, resampled).

    ``threshold`` 0 never resamples; 1 resamples unless the weights are equal. After
    resampling every log-weight is 0.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"ESS threshold must be in [0, 1], got {threshold}")
    if threshold == 0.0 or ess(logw) >= threshold * logw.numel():
        return x, logw, False
    idx = systematic_resample(logw, generator)
    return take(x, idx), torch.zeros_like(logw), True


def weighted_mean(x: Tensor, logw: Tensor) -> Tensor:
    """Self-normalized importance estimate of E[x] over particles (B, ...) -> (...)."""
    w = normalized_weights(logw).to(x.dtype)
    return torch.einsum("b,b...->...", w, x)


__all__ = [
    "ess",
    "normalized_weights",
    "resample_if",
    "systematic_resample",
    "take",
    "weighted_mean",
]
