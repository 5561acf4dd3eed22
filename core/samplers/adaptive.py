"""Adaptive-step probability-flow ODE through torchdiffeq (dopri5 by default)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..parameterization import predict
from ..state import MaskLike, PathLike, State, flatten
from .base import prepare, sigma_is_zero

NOISE_FREE_GAP = 1e-5
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


def sample_adaptive(
    model: Any,
    x: State,
    ts: Tensor,
    path: PathLike,
    *,
    mask: MaskLike = None,
    cond: dict[str, Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    **_: Any,
) -> State:
    """Solve the PF-ODE from ts[0] to ts[-1] with an adaptive solver; NFE set by tolerances.

    Only the grid's endpoints are used (intermediate times are ignored); count NFE by
    wrapping the model in ``CountNFE``. The step sizes follow torchdiffeq's error norm, an
    RMS over the whole batch: samples are coupled through them.
    """
    from torchdiffeq import odeint

    spec, ts = prepare(path, x, mask, ts)
    flat, unflatten = flatten(x)
    cond = dict(cond or {})

    def rhs(t: Tensor, y: Tensor) -> Tensor:
        state = unflatten(y)
        u = spec.project(predict(model, state, t, spec, "velocity", **cond))
        return flatten(u)[0]

    ends = ts[[0, -1]].clone()
    # a noise-free end time (a flow path at t = 0) is singular for x0/eps models, and
    # dopri5 evaluates its end point: stop just short of it and finish with one Euler step
    noise_free = any(sigma_is_zero(v.path, ends[1]) for v in spec.views.values())
    if noise_free:
        ends[1] = ends[1] + NOISE_FREE_GAP * (ends[0] - ends[1])
    # land exactly on the end time: by default torchdiffeq steps past it and interpolates,
    # which would evaluate the model outside the path's time range
    options = {"step_t": ends[1:]} if method in ADAPTIVE_METHODS else None
    with torch.no_grad():
        out = odeint(rhs, flat, ends, rtol=rtol, atol=atol, method=method, options=options)[-1]
        if noise_free:
            out = out + (ts[-1] - ends[1]) * rhs(ends[1], out)
    return unflatten(out)


__all__ = ["sample_adaptive"]
