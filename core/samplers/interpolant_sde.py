"""Sampling a stochastic interpolant: the ODE dX = b dt and the eps-SDE, from base to data.

Albergo, Boffi & Vanden-Eijnden (2023), "Stochastic interpolants: a unifying framework for
flows and diffusions": for any eps(t) >= 0 their forward generative SDE
dX = (b + eps s) dtau + sqrt(2 eps) dW carries rho_base to rho_data in THEIR time tau
(base at tau = 0). In our time t = 1 - tau (data at t = 0) our b
is minus theirs, and the marginals rho_t satisfy d_t rho + div(b rho) = 0. Adding
0 = eps (Laplacian rho - div(s rho)) and writing it in tau = 1 - t gives
d_tau rho = -div((-b + eps s) rho) + eps Laplacian rho, i.e. with our decreasing grid
(dt = t_next - t < 0) the Euler-Maruyama step is

    X_next = X + dt (b - eps s) + sqrt(2 eps |dt|) xi,

so in our direction the score term enters with a MINUS sign next to b (the sign is tested:
``+ eps s`` fails the same check). eps = 0 is the probability-flow ODE dX/dt = b.

Singular ends: the score of a learned model (s = -eta/gamma) is singular where gamma = 0,
at t = 0 and t = 1. A step from t to t_next evaluates the fields at t only, so the last
time of the grid (t = 0) is never evaluated; the first one (t = 1) is evaluated, so either
start the grid below 1 or use an eps(t) that vanishes there (e.g. eps(t) = c t (1 - t)):
the score is only called where eps(t) > 0, and a non-finite score raises an error. As in
the core's reverse-SDE samplers, the last step adds no noise (its mean is the output).

NFE per step: 1 for the ODE or for one ``Predictor`` on a core path (b and s from one call);
2 where eps(t) > 0 with separate velocity and score callables; Heun (ODE only): 2.
Own loop rather than ``samplers.base.run``: the fields here are plain callables, and a
two-sided interpolant (non-Gaussian base) has no core ``GaussianPath`` for ``run``'s ``Spec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..parameterization import from_x0_eps, predict
from ..paths.base import GaussianPath
from ..state import Spec
from .base import Callback, check_grid, step_range

VectorField = Callable[[Tensor, Tensor], Tensor]
Eps = float | Callable[[Tensor], Tensor | float]
METHODS = ("euler", "heun")


def _eps_at(eps: Eps, t: Tensor) -> float:
    e = float(eps(t)) if callable(eps) else float(eps)
    if not (e >= 0 and e < float("inf")):
        raise ValueError(f"eps(t) must be finite and >= 0, got {e} at t={float(t):g}")
    return e


def _fields(
    velocity: Any, score: VectorField | None, path: GaussianPath | None, x: Tensor
) -> Callable[[Tensor, Tensor, bool], tuple[Tensor, Tensor | None]]:
    """A function (x, t, need_score) -> (b, s or None) from the user's arguments."""
    if path is not None:
        if score is not None:
            raise ValueError("with a core path, pass one Predictor as `velocity` and no `score`")
        if getattr(velocity, "prediction", None) is None:
            raise TypeError("with a core path, `velocity` must be a Predictor (has .prediction)")
        spec = Spec(path, x)

        def from_predictor(xc: Tensor, t: Tensor, need_score: bool):
            tb = t.expand(xc.shape[0])
            x0, e = predict(velocity, xc, tb, spec, "x0,eps")
            b = from_x0_eps(x0, e, "velocity", xc, tb, path)
            return b, (from_x0_eps(x0, e, "score", xc, tb, path) if need_score else None)

        return from_predictor

    def separate(xc: Tensor, t: Tensor, need_score: bool):
        tb = t.expand(xc.shape[0])
        b = velocity(xc, tb)
        if b.shape != xc.shape:
            raise ValueError(f"velocity returned shape {tuple(b.shape)}, x has {tuple(xc.shape)}")
        if not need_score:
            return b, None
        if score is None:
            raise ValueError("eps(t) > 0 needs a `score` (or a Predictor with `path`)")
        s = score(xc, tb)
        if s.shape != xc.shape:
            raise ValueError(f"score returned shape {tuple(s.shape)}, x has {tuple(xc.shape)}")
        return b, s

    return separate


def sample_interpolant(
    velocity: Any,
    x: Tensor,
    ts: Tensor,
    *,
    score: VectorField | None = None,
    eps: Eps = 0.0,
    path: GaussianPath | None = None,
    method: str = "euler",
    generator: torch.Generator | None = None,
    noise_fn: Callable[[Tensor], Tensor] | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> Tensor:
    """Integrate the interpolant ODE (eps = 0) or eps-SDE from ``x`` at ``ts[0]`` down the grid.

    ``velocity`` and ``score`` are callables ``f(x, t)`` with ``x`` (B, ...) and ``t`` (B,),
    in our time (data at t = 0); or ``velocity`` is a core ``Predictor`` and ``path`` its
    Gaussian path, giving b and s from one call. ``eps`` is a constant or ``eps(t)`` >= 0;
    ``ts`` is a strictly decreasing grid. ``method``: ``euler`` (Euler-Maruyama) or ``heun``
    (ODE only, an Euler last step onto t = 0). Returns the state at ``ts[-1]``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if not isinstance(x, Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a (B, ...) tensor, got {getattr(x, 'shape', None)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x has NaN or inf values")
    if not callable(eps):
        _eps_at(eps, torch.tensor(0.0))  # a bad constant fails before any model call
    ts = check_grid(ts, x)
    fields = _fields(velocity, score, path, x)
    n = ts.numel() - 1
    with torch.no_grad():
        for i in step_range(n, progress):
            t, t_next = ts[i], ts[i + 1]
            dt, e = t_next - t, _eps_at(eps, t)
            if method == "heun" and e > 0:
                raise ValueError("method='heun' integrates the ODE only; use eps = 0 or 'euler'")
            b, s = fields(x, t, e > 0)
            if s is not None:
                if not bool(torch.isfinite(s).all()):
                    raise ValueError(
                        f"the score is not finite at t={float(t):g}; let eps(t) vanish where "
                        "the score is singular (gamma = 0) or start the grid below 1"
                    )
                b = b - e * s
            x_new = x + dt * b
            if method == "heun" and float(t_next) > 0:
                b_next, _ = fields(x_new, t_next, False)
                x_new = x + dt * 0.5 * (b + b_next)
            if e > 0 and i < n - 1:
                z = (
                    noise_fn(x)
                    if noise_fn is not None
                    else torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                )
                x_new = x_new + (2 * e * (-dt)).sqrt() * z
            x = x_new
            if callback is not None:
                callback({"i": i, "t": t, "t_next": t_next, "x": x})
    return x


__all__ = ["METHODS", "sample_interpolant"]
