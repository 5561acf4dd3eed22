"""Exact output laws of samplers that are affine in their random inputs (Gaussian targets).

With the exact score of a Gaussian target every ODE sampler (Euler, Heun, DDIM eta=0,
DPM-Solver, ...) is an affine map x_T -> A x_T + b, and every SDE sampler whose step is
linear in x and in its noise (Euler-Maruyama, reverse diffusion, ancestral, MRS-SDE, ...) is
affine in (x_T, z_1, ..., z_K). Pushing basis vectors through the sampler recovers the affine
maps, hence the exact output mean and covariance with no Monte Carlo error: sampler error can
be measured as an exact W2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

NoiseFn = Callable[[Tensor], Tensor]


def affine_pushforward(
    sampler: Callable[[Tensor], Tensor],
    dim: int,
    prior_std: float,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """Mean (d,) and covariance (d, d) of ``sampler(x_T)`` for x_T ~ N(0, prior_std^2 I).

    ``sampler`` maps a batch (n, d) of prior points to outputs and must be affine.
    """
    return affine_noisy_pushforward(lambda z, _: sampler(prior_std * z), dim, dtype)


def affine_noisy_pushforward(
    run: Callable[[Tensor, NoiseFn], Tensor], dim: int, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """Mean (d,) and covariance (d, d) of ``run(z, noise_fn)`` for z ~ N(0, I) and N(0, I) noise.

    ``run(z, noise_fn)`` maps a batch (n, d) of standard prior draws to outputs, drawing each
    step's noise as ``noise_fn(x)``, and must be affine in z and in every noise draw (fold a
    prior scale or shift into ``run``). A dry run of one row counts the K draws; then one call
    with a batch of 1 + d (K + 1) rows: row 0 all zeros, the next d rows put the basis vectors
    in z, and block k gets them as the k-th noise draw. Row differences to row 0 are the
    columns of the affine maps.
    """
    draws = 0

    def count(like: Tensor) -> Tensor:
        nonlocal draws
        draws += 1
        return torch.zeros_like(like)

    run(torch.zeros(1, dim, dtype=dtype), count)
    k, eye, seen = draws, torch.eye(dim, dtype=dtype), 0
    z = torch.zeros(1 + dim * (k + 1), dim, dtype=dtype)
    z[1 : 1 + dim] = eye

    def basis(like: Tensor) -> Tensor:
        nonlocal seen
        out = torch.zeros_like(like)
        lo = 1 + dim * (seen + 1)
        out[lo : lo + dim] = eye
        seen += 1
        return out

    out = run(z, basis)
    if seen != k:
        raise RuntimeError(f"noise draws changed between calls ({k} then {seen})")
    b = out[0]
    cols = out[1:] - b  # image of each basis vector, one per row
    return b, cols.T @ cols


__all__ = ["affine_noisy_pushforward", "affine_pushforward"]
