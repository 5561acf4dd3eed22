"""Probability-flow ODE samplers: Euler and Heun (EDM's Algorithm 1 without churn)."""

from __future__ import annotations

from functools import partial

from torch import Tensor

from ..state import State
from .base import Context, run, sigma_is_zero


def euler_step(ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool) -> State:
    """One Euler step of dx/dt = u(x, t); 1 NFE."""
    return ctx.euler(x, ctx.predict(x, t, "velocity"), t_next - t)


def heun_step(ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool) -> State:
    """One Heun (trapezoidal predictor-corrector) step; 2 NFE, 1 when t_next is noise-free."""
    dt = t_next - t
    u = ctx.predict(x, t, "velocity")
    x_euler = ctx.euler(x, u, dt)
    if any(sigma_is_zero(v.path, t_next) for v in ctx.spec.views.values()):
        return x_euler
    u_next = ctx.predict(x_euler, t_next, "velocity")
    avg = ctx.spec.map(lambda v, a, b: 0.5 * (a + b), u, u_next)
    return ctx.euler(x, avg, dt)


sample_euler = partial(run, euler_step)
sample_euler.__doc__ = (
    "Probability-flow ODE, Euler: ``sample_euler(model, x, ts, path, **kw)``; 1 NFE/step."
)
sample_heun = partial(run, heun_step)
sample_heun.__doc__ = (
    "Probability-flow ODE, Heun: ``sample_heun(model, x, ts, path, **kw)``; 2 NFE/step."
)

__all__ = ["euler_step", "heun_step", "sample_euler", "sample_heun"]
