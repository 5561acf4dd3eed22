"""MRS (Li et al. 2025, "MRS: a fast sampler for mean reverting diffusion based on ODE and SDE
solvers", ICLR): exponential-integrator solvers of the reverse MR-ODE and MR-SDE.

MR diffusion (IR-SDE, ``paths.mean_reverting``) is dx = theta (mu - x) dt + sigma dW. In
y = x - mu it is the Gaussian path y_t = alpha_t y_0 + sigma_t eps, and MRS's semi-analytic
solutions of the reverse MR-ODE and MR-SDE, discretized with the exponential integrator
(first order below), are, with log-SNR
lambda = log(alpha / sigma) and h = lambda_s - lambda_t for a step t -> s (s nearer data):

    ODE, noise:  y_s = (alpha_s / alpha_t) y_t - sigma_s (e^h - 1) eps
    ODE, data:   y_s = (sigma_s / sigma_t) y_t + alpha_s (1 - e^{-h}) y0
    SDE, noise:  y_s = (alpha_s / alpha_t) y_t - 2 sigma_s (e^h - 1) eps
                       + sigma_s sqrt(e^{2h} - 1) z
    SDE, data:   y_s = (sigma_s / sigma_t) e^{-h} y_t + alpha_s (1 - e^{-2h}) y0
                       + sigma_s sqrt(1 - e^{-2h}) z

with y0 = x0_hat - mu. These are DPM-Solver (noise) / DPM-Solver++ (data) and their SDE
variants on y; second order is the multistep form with D = p_t + (p_t - p_prev) / (2r)
(r = h_prev / h, midpoint rule of diffusers' "dpmsolver", "dpmsolver++", "sde-dpmsolver",
"sde-dpmsolver++"). First order ODE in either prediction equals DDIM. A network of any
kind (x0, eps, score, v, velocity) is converted exactly; MRS's velocity-prediction case is
this conversion. Conventions of the model call: ``model(x, t, mu=mu, **cond)`` on the
unshifted x; an ``x0`` prediction is the clean (unshifted) x0; eps and score are
shift-free; ``v`` and ``velocity`` are those of y (velocity = dx_t/dt either way).
Time runs from t_max (prior N(mu, lambda^2 I)) down to t_min (data). The SDE solvers add
their noise on every step (it is part of the exact solution of the linear part), except a
step onto a noise-free time, which returns the x0 prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..parameterization import KINDS
from ..paths.mean_reverting import check_mu
from ..state import State
from .base import Callback, Context, run
from .ddim import ddim_step
from .dpm_solver import dpmpp_2m_step

SOLVERS = ("ode", "sde")
PREDICTIONS = ("data", "noise")


class Shifted(torch.nn.Module):
    """A model of x conditioned on ``mu`` seen as a model of y = x - mu (same prediction kind)."""

    def __init__(self, model: Any, mu: Tensor) -> None:
        super().__init__()
        kind = getattr(model, "prediction", None)
        if kind not in KINDS:
            raise TypeError(
                "the model needs one `prediction` kind of "
                f"{', '.join(KINDS)} (wrap it as scorelab.Predictor); got {kind!r}"
            )
        self.model, self.mu, self.prediction = model, mu, kind

    def forward(self, y: Tensor, t: Tensor, **cond: Any) -> Tensor:
        out = self.model(y + self.mu, t, mu=self.mu, **cond)
        if not isinstance(out, Tensor) or out.shape != y.shape:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"model output has shape {shape}, state has {tuple(y.shape)}")
        return out - self.mu if self.prediction == "x0" else out


def _memo(ctx: Context, name: str, pred: Tensor, h: Tensor | None, use_prev: bool):
    """Store this step's (prediction, h); return the previous ones if second order applies."""
    prev = ctx.memo.get(name)
    ctx.memo[name] = (pred, h)
    if use_prev and prev is not None and prev[1] is not None:
        return prev
    return None


def mrs_step(
    ctx: Context,
    x: State,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    solver: str = "sde",
    order: int = 2,
    prediction: str = "data",
    lower_order_final: bool = False,
) -> State:
    """One MRS step on y from t to t_next; 1 NFE. Keeps the last prediction in ``ctx.memo``."""
    x0, eps = ctx.predict(x, t, "x0,eps")
    noise = ctx.noise(x) if solver == "sde" else None
    second = order == 2 and not (last and lower_order_final)

    def one(v, yf, x0f, ef, zf=None):
        a_t, s_t, _, _ = v.path.schedule(t)
        a_s, s_s, _, _ = v.path.schedule(t_next)
        if s_s == 0:  # onto a noise-free time: the data prediction is the answer
            _memo(ctx, v.name, x0f if prediction == "data" else ef, None, False)
            return v.move_to(yf, x0f)
        h = torch.log(a_s / s_s) - torch.log(a_t / s_t)
        p = x0f if prediction == "data" else ef
        prev = _memo(ctx, v.name, p, h, second)
        d = p if prev is None else p + (p - prev[0]) * (h / (2 * prev[1]))  # D0 + D1 / 2
        if prediction == "data":
            if solver == "ode":
                new = s_s / s_t * yf - a_s * torch.expm1(-h) * d
            else:
                new = s_s / s_t * torch.exp(-h) * yf - a_s * torch.expm1(-2 * h) * d
                new = new + s_s * torch.sqrt(-torch.expm1(-2 * h)) * zf
        elif solver == "ode":
            new = a_s / a_t * yf - s_s * torch.expm1(h) * d
        else:
            # second order: 2 D0 + D1 (diffusers' sde-dpmsolver midpoint), i.e. twice d
            new = a_s / a_t * yf - 2 * s_s * torch.expm1(h) * d
            new = new + s_s * torch.sqrt(torch.expm1(2 * h)) * zf
        return v.move_to(yf, new)

    extra = () if noise is None else (noise,)
    return ctx.spec.map(one, x, x0, eps, *extra)


def sample_shifted(
    sampler: Callable[..., Tensor],
    model: Any,
    x: Tensor,
    ts: Tensor,
    path: Any,
    *,
    mu: Tensor,
    callback: Callback | None = None,
    **kw: Any,
) -> Tensor:
    """Run a core ``sampler`` on y = x - mu with ``model(x, t, mu=mu, **cond)``; return x.

    ``x`` (B, ...) is the prior draw in x (e.g. ``path.prior_sample_at(mu)``); callbacks
    receive x (shifted back). This is how the Euler-Maruyama reference of the MR reverse SDE
    runs: ``sample_shifted(sample_euler_maruyama, model, x, ts, path, mu=mu)``.
    """
    if isinstance(x, dict):
        raise ValueError("MR samplers take a single-tensor state, got a dict of fields")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    mu = check_mu(mu, x).to(x.dtype)
    cb = None
    if callback is not None:

        def cb(info: dict[str, Any]) -> None:
            callback({**info, "x": info["x"] + mu})

    return sampler(Shifted(model, mu), x - mu, ts, path, callback=cb, **kw) + mu


def sample_mrs(
    model: Any,
    x: Tensor,
    ts: Tensor,
    path: Any,
    *,
    mu: Tensor,
    solver: str = "ode",
    order: int = 2,
    prediction: str = "data",
    lower_order_final: bool = False,
    **kw: Any,
) -> Tensor:
    """MRS: ``solver`` "ode" | "sde", ``order`` 1 | 2, ``prediction`` "data" | "noise"; 1 NFE/step.

    ``x`` is the prior draw at ``ts[0]`` (unshifted), ``mu`` the condition, broadcastable
    to ``x``; other keywords (``cond``, ``generator``, ``noise_fn``, ``callback``,
    ``progress``, ``mask``) as for every core sampler.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown MRS solver {solver!r}; known: {', '.join(SOLVERS)}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown MRS prediction {prediction!r}; known: {', '.join(PREDICTIONS)}")
    if order not in (1, 2):
        raise ValueError(f"MRS order must be 1 or 2, got {order!r}")
    if solver == "ode" and order == 1:
        step = partial(ddim_step, eta=0.0)  # DPM-Solver-1 = DPM-Solver++1 = DDIM
    elif solver == "ode" and prediction == "data":
        step = partial(dpmpp_2m_step, lower_order_final=lower_order_final)
    else:
        step = partial(
            mrs_step,
            solver=solver,
            order=order,
            prediction=prediction,
            lower_order_final=lower_order_final,
        )
    return sample_shifted(partial(run, step), model, x, ts, path, mu=mu, **kw)


__all__ = ["PREDICTIONS", "SOLVERS", "Shifted", "mrs_step", "sample_mrs", "sample_shifted"]
