"""DPM-Solver++(2M) (Lu et al. 2022), multistep second order in data prediction.

In log-SNR lambda = log(alpha/sigma), with h = lambda_s - lambda_t:
x_s = (sigma_s / sigma_t) x_t - alpha_s expm1(-h) D, where D is x0 on the first step and
(1 + 1/(2r)) x0_t - 1/(2r) x0_prev with r = h_prev / h afterwards. A step onto a
noise-free time returns x0 (as k-diffusion does); ``lower_order_final`` makes the last
step first order (diffusers' default below 15 steps).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..state import State
from .base import Context, run


def dpmpp_2m_step(
    ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool, lower_order_final: bool = False
) -> State:
    """One DPM-Solver++(2M) step; 1 NFE. Keeps the previous x0 and h in ``ctx.memo``."""
    x0 = ctx.predict(x, t, "x0")

    def one(v, xf, x0f):
        prev = ctx.memo.get(v.name)
        a_s, s_s, _, _ = v.path.schedule(t_next)
        if s_s == 0:
            new, h = x0f, None
        else:
            a_t, s_t, _, _ = v.path.schedule(t)
            h = torch.log(a_s / s_s) - torch.log(a_t / s_t)  # log-SNR increment
            d = x0f
            if prev is not None and prev[1] is not None and not (last and lower_order_final):
                r = prev[1] / h
                d = (1 + 1 / (2 * r)) * x0f - (1 / (2 * r)) * prev[0]
            new = s_s / s_t * xf - a_s * torch.expm1(-h) * d
        ctx.memo[v.name] = (x0f, h)
        return v.move_to(xf, new)

    return ctx.spec.map(one, x, x0)


def sample_dpmpp_2m(
    model: Any, x: State, ts: Tensor, path: Any, *, lower_order_final: bool = False, **kw: Any
) -> State:
    """DPM-Solver++(2M): ``(model, x, ts, path, **kw)``; 1 NFE/step."""
    return run(
        partial(dpmpp_2m_step, lower_order_final=lower_order_final), model, x, ts, path, **kw
    )


__all__ = ["dpmpp_2m_step", "sample_dpmpp_2m"]
