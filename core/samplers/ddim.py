"""DDIM (Song, Meng & Ermon 2021) on any Gaussian path; eta = 1 is DDPM's ancestral sampler.

x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z with c = eta * the std of the exact
posterior q(x_s | x_t, x0) = eta * sigma_s / sigma_t * sqrt(sigma_t^2 - a^2 sigma_s^2),
a = alpha_t / alpha_s.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..state import State
from .base import Context, run


def ddim_step(
    ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool, eta: float = 0.0
) -> State:
    """One DDIM step from t to t_next; 1 NFE. No noise on the final step."""
    x0, eps = ctx.predict(x, t, "x0,eps")
    stochastic = eta > 0 and not last
    extra = (ctx.noise(x),) if stochastic else ()

    def one(v, xf, x0f, ef, zf=None):
        a_s, s_s, _, _ = v.path.schedule(t_next)
        if zf is None:  # deterministic: no posterior variance needed
            return v.move_to(xf, a_s * x0f + s_s * ef)
        _, var = v.path.transition(t, t_next)
        c = eta * s_s / v.path.sigma(t) * torch.sqrt(var)
        new = a_s * x0f + torch.sqrt((s_s * s_s - c * c).clamp(min=0)) * ef + c * zf
        return v.move_to(xf, new)

    return ctx.spec.map(one, x, x0, eps, *extra)


def sample_ddim(
    model: Any, x: State, ts: Tensor, path: Any, *, eta: float = 0.0, **kw: Any
) -> State:
    """DDIM with stochasticity ``eta`` (0: deterministic, 1: DDPM ancestral); 1 NFE/step."""
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    return run(partial(ddim_step, eta=eta), model, x, ts, path, **kw)


def sample_ancestral(model: Any, x: State, ts: Tensor, path: Any, **kw: Any) -> State:
    """DDPM-style ancestral sampling: DDIM with eta = 1; 1 NFE/step."""
    return sample_ddim(model, x, ts, path, eta=1.0, **kw)


__all__ = ["ddim_step", "sample_ancestral", "sample_ddim"]
