"""Editing a given input with a diffusion prior: SDEdit and CODE.

**SDEdit** (Meng et al. 2022, "SDEdit: guided image synthesis and editing with stochastic
differential equations", Alg. 1): noise the input to t0 with the forward marginal,
x_t0 = alpha(t0) x + sigma(t0) z, then solve the reverse SDE from t0 down to t_min. With
the exact score and an exact solver the edit's law is

    int p(x_tmin | x_t0) q(x_t0 | x) dx_t0,

the forward-then-posterior law (closed form for a Gaussian target, see the tests). Any core
sampler can be named (a PF-ODE gives the deterministic variant).

**CODE** (van Delft, Martorella & Alahi 2024, "CODE: Confident Ordinary Differential
Editing", Sec. 3): encode the input by the probability-flow ODE from t_min up to t0,
correct the latent with K Langevin steps on p_t0,

    x <- x + e score(x, t0) + sqrt(2 e) z,   then one noise-free step x <- x + e score,

and decode by the PF-ODE back to t_min. Confidence-based clipping (CBC) keeps each latent
inside the per-coordinate interval [alpha(t) lo - eta sigma(t), alpha(t) hi + eta sigma(t)]
that x_t = alpha x0 + sigma eps occupies with probability ~ erf(eta / sqrt 2) for data in
[lo, hi] (``data_range``; the paper's images: [-1, 1]); at the prior end it is the
mean +- eta * sigma interval of N(0, sigma^2). It is applied after every encoding step and
before every Langevin step, as in the paper's code; ``eta = inf`` turns it off. Our step
size is relative: e = step_size * sigma(t0)^2 (the paper's epsilon scaled by the latent's
noise variance, its ``min_variance`` option), so one value serves every t0 and path.

Time convention: scorelab's, data at ``path.t_min`` and the prior at ``path.t_max``; the
encoding integrates upward in t with its own small Heun loop (core samplers run on
decreasing grids only) and decodes with a core sampler over the same grid, reversed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .checks import check_finite, check_int
from .parameterization import predict
from .paths.base import GaussianPath
from .samplers import CountNFE, default_grid, get_grid, get_sampler
from .state import Spec


@dataclass
class EditInfo:
    """Intermediate states and model evaluations of one edit."""

    latent: Tensor  # the encoded (SDEdit: noised) input at t0
    corrected: Tensor  # the latent after the Langevin corrections (== latent for SDEdit)
    nfe: int  # model evaluations per input, all stages


def _check_input(model: Any, x: Tensor, path: GaussianPath, t0: float) -> float:
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be a GaussianPath, got {type(path).__name__}")
    check_finite(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be (B, ...) with a batch dim, got shape {tuple(x.shape)}")
    t0 = float(t0)
    if not path.t_min < t0 <= path.t_max:
        raise ValueError(f"t0 must be in (t_min, t_max] = ({path.t_min}, {path.t_max}], got {t0}")
    if getattr(model, "prediction", None) is None:
        raise TypeError("the model has no `prediction` attribute; wrap it with scorelab.Predictor")
    return t0


def sdedit(
    model: Any,
    x: Tensor,
    path: GaussianPath,
    t0: float,
    *,
    sampler: str = "euler_maruyama",
    steps: int = 100,
    grid: str | None = None,
    generator: torch.Generator | None = None,
    return_info: bool = False,
    **options: Any,
) -> Tensor | tuple[Tensor, EditInfo]:
    """SDEdit: x_t0 = alpha(t0) x + sigma(t0) z, then sampler ``sampler`` from t0 to t_min.

    ``grid`` defaults to the sampler's usual one (uniform for stochastic samplers);
    ``options`` go to the sampler. Returns edits shaped like ``x``.
    """
    t0 = _check_input(model, x, path, t0)
    check_int(steps, "steps", 1)
    fn = get_sampler(sampler)
    ts = get_grid(grid or default_grid(sampler), path, steps, t_min=path.t_min, t_max=t0)
    tt = torch.full((x.shape[0],), t0, dtype=x.dtype, device=x.device)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    latent = path.marginal(x, tt, z)
    counted = CountNFE(model)
    out = fn(counted, latent, ts, path, generator=generator, **options)
    if not return_info:
        return out
    return out, EditInfo(latent=latent, corrected=latent, nfe=counted.nfe)


def confidence_clip(
    x: Tensor, t: float, path: GaussianPath, eta: float, data_range: tuple[float, float]
) -> Tensor:
    """CODE's confidence-based clipping of x_t to alpha(t) [lo, hi] +- eta sigma(t)."""
    if math.isinf(eta):
        return x
    tt = torch.tensor(t, dtype=x.dtype, device=x.device)
    a, s = path.alpha(tt), path.sigma(tt)
    lo, hi = data_range
    return x.clamp(float(a * lo - eta * s), float(a * hi + eta * s))


def pf_ode_encode(
    model: Any,
    x: Tensor,
    path: GaussianPath,
    ts: Tensor,
    *,
    clip: Any = None,
) -> Tensor:
    """Integrate the PF-ODE upward along the increasing grid ``ts`` with Heun; 2 NFE/step.

    ``clip(x, t)`` (optional) is applied after every step (CODE's clipping while encoding).
    """
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or ts.numel() < 2 or not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError("the encoding grid must be 1-D, strictly increasing, >= 2 times")
    spec = Spec(path, x)
    with torch.no_grad():
        for t, t_next in zip(ts[:-1], ts[1:]):
            dt = float(t_next - t)
            u = predict(model, x, float(t), spec, "velocity")
            x_e = x + dt * u
            u2 = predict(model, x_e, float(t_next), spec, "velocity")
            x = x + 0.5 * dt * (u + u2)
            if clip is not None:
                x = clip(x, float(t_next))
    return x


def code_edit(
    model: Any,
    x: Tensor,
    path: GaussianPath,
    t0: float,
    *,
    eta: float = math.inf,
    langevin_steps: int = 10,
    step_size: float = 0.1,
    ode_steps: int = 50,
    grid: str = "karras",
    data_range: tuple[float, float] = (-1.0, 1.0),
    decoder: str = "heun",
    generator: torch.Generator | None = None,
    return_info: bool = False,
) -> Tensor | tuple[Tensor, EditInfo]:
    """CODE: PF-ODE encode to t0, K Langevin corrections (with CBC), PF-ODE decode to t_min.

    ``eta`` is the clipping width in standard deviations (inf: off); ``step_size`` is
    relative to sigma(t0)^2; ``langevin_steps = 0`` is a plain encode-decode (DDIM
    inversion). Encoding and decoding share the ``grid`` of ``ode_steps`` steps.
    """
    t0 = _check_input(model, x, path, t0)
    check_int(ode_steps, "ode_steps", 1)
    check_int(langevin_steps, "langevin_steps", 0)
    if not (eta > 0):  # also rejects NaN
        raise ValueError(f"eta must be positive (inf turns clipping off), got {eta}")
    if not (step_size > 0 and math.isfinite(step_size)):
        raise ValueError(f"step_size must be positive and finite, got {step_size}")
    lo, hi = (float(v) for v in data_range)
    if not lo <= hi:
        raise ValueError(f"data_range must be (lo, hi) with lo <= hi, got {data_range}")
    fn = get_sampler(decoder)
    ts = get_grid(grid, path, ode_steps, t_min=path.t_min, t_max=t0)

    def clip(v: Tensor, t: float) -> Tensor:
        return confidence_clip(v, t, path, eta, (lo, hi))

    counted = CountNFE(model)
    latent = pf_ode_encode(counted, x, path, ts.flip(0), clip=clip)
    spec = Spec(path, x)
    tt = torch.tensor(t0, dtype=x.dtype)
    e = step_size * float(path.sigma(tt)) ** 2
    z_all = [
        torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        for _ in range(langevin_steps)
    ]
    y = latent
    with torch.no_grad():
        for i in range(langevin_steps + (1 if langevin_steps else 0)):
            y = clip(y, t0)
            score = predict(counted, y, t0, spec, "score")
            y = y + e * score
            if i < langevin_steps:  # the last pass is the paper's noise-free step
                y = y + math.sqrt(2 * e) * z_all[i]
    out = fn(counted, y, ts, path)
    if not return_info:
        return out
    return out, EditInfo(latent=latent, corrected=y, nfe=counted.nfe)


__all__ = [
    "EditInfo",
    "code_edit",
    "confidence_clip",
    "pf_ode_encode",
    "sdedit",
]
