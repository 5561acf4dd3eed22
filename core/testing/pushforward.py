"""Exact output law of a deterministic sampler driven by a linear (Gaussian-target) score.

With the exact score of a Gaussian target every ODE sampler (Euler, Heun, DDIM eta=0,
DPM-Solver, ...) is an affine map x_T -> A x_T + b, so its output is exactly Gaussian.
Pushing d + 1 points through the sampler recovers A and b, hence the output mean and
covariance, with no Monte Carlo error: sampler error can be measured as an exact W2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def affine_pushforward(
    sampler: Callable[[Tensor], Tensor],
    dim: int,
    prior_std: float,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """Mean (d,) and covariance (d, d) of ``sampler(x_T)`` for x_T ~ N(0, prior_std^2 I).

    ``sampler`` maps a batch (n, d) of prior points to outputs and must be affine.
    """
    pts = torch.cat([torch.zeros(1, dim, dtype=dtype), torch.eye(dim, dtype=dtype)])
    out = sampler(pts)
    b = out[0]
    a = (out[1:] - b).T  # column j is the image of e_j
    return b, prior_std**2 * a @ a.T


__all__ = ["affine_pushforward"]
