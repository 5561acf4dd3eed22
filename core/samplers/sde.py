"""Reverse-SDE samplers: Euler-Maruyama, reverse diffusion, Langevin corrector, PC and S4.

The reverse SDE of dx = f x dt + g dW is dx = (f x - g^2 score) dt + g dW-bar, run from
t_max to t_min (Song et al. 2021). The final step adds no noise (Song et al.'s
"noise removal": the last iterate is the step's mean). S4 (Jo et al. 2022, GDSS) is a
symmetric splitting of that SDE with one score evaluation per step.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..registry import Registry
from ..state import State
from .base import Context, run
from .ddim import ddim_step

PREDICTORS: Registry = Registry("predictor")


@PREDICTORS.register("euler_maruyama")
def euler_maruyama_step(ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool) -> State:
    """One Euler-Maruyama step of the reverse SDE; 1 NFE."""
    dt = t_next - t
    score = ctx.predict(x, t, "score")
    extra = () if last else (ctx.noise(x),)

    def one(v, xf, sf, zf=None):
        f, g = v.path.sde(t)
        if not bool(torch.isfinite(g) & torch.isfinite(f)):
            raise ValueError(
                f"the forward SDE of {v.path!r} is singular at t={float(t):g}; start the grid "
                "below it (e.g. t_max=0.999) or use an ODE, DDIM or reverse-diffusion sampler"
            )
        mean = xf + dt * v.project(f * xf - g * g * sf)
        return mean if zf is None else mean + g * torch.sqrt(-dt) * zf

    return ctx.spec.map(one, x, score, *extra)


@PREDICTORS.register("reverse_diffusion")
def reverse_diffusion_step(ctx: Context, x: State, t: Tensor, t_next: Tensor, last: bool) -> State:
    """Song et al.'s reverse-diffusion predictor on the exact forward transition; 1 NFE.

    With the forward step x_t = a x_s + sqrt(v) z, the reverse step is
    x_s = x_t - (a - 1) x_t + v score + sqrt(v) z (their discretised reverse SDE).
    """
    score = ctx.predict(x, t, "score")
    extra = () if last else (ctx.noise(x),)

    def one(v, xf, sf, zf=None):
        a, var = v.path.transition(t, t_next)
        mean = xf + v.project((1 - a) * xf + var * sf)
        return mean if zf is None else mean + torch.sqrt(var) * zf

    return ctx.spec.map(one, x, score, *extra)


PREDICTORS.register("ancestral")(partial(ddim_step, eta=1.0))
PREDICTORS.register("none")(lambda ctx, x, t, t_next, last: x)


def langevin_step(
    ctx: Context,
    x: State,
    t: Tensor,
    snr: float,
    noise_scale: float = 1.0,
    score: State | None = None,
) -> State:
    """One Langevin corrector step at time t with Song et al.'s signal-to-noise step size.

    As in Song et al., the step 2 (snr |z| / |score|)^2 uses norms averaged over the
    batch (per-sample ratios are unstable in low dimension, where a score can vanish);
    norms run over real entries only, per field. ``noise_scale`` < 1 shrinks the injected
    noise (GDSS's ``scale_eps``; 1 is Langevin proper). ``score`` reuses an evaluation at
    (x, t) instead of calling the model.
    """
    if score is None:
        score = ctx.predict(x, t, "score")
    z = ctx.noise(x)

    def one(v, xf, sf, zf):
        ratio = v.sqnorm(zf).sqrt().mean() / v.sqnorm(sf).sqrt().mean().clamp(min=1e-30)
        eps = 2 * (snr * ratio) ** 2
        return xf + v.project(eps * sf) + noise_scale * torch.sqrt(2 * eps) * zf

    return ctx.spec.map(one, x, score, z)


def pc_step(
    ctx: Context,
    x: State,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    predictor: str = "reverse_diffusion",
    snr: float = 0.16,
    n_corrector: int = 1,
    noise_scale: float = 1.0,
) -> State:
    """Corrector steps at t, then one predictor step to t_next (Song et al.'s PC sampler)."""
    for _ in range(n_corrector):
        x = langevin_step(ctx, x, t, snr, noise_scale)
    return PREDICTORS.get(predictor)(ctx, x, t, t_next, last)


def s4_step(
    ctx: Context,
    x: State,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    snr: float = 0.16,
    noise_scale: float = 1.0,
) -> State:
    """GDSS's S4 step: one score at (x, t) drives a Langevin correction and a split predictor.

    The predictor splits the reverse SDE into its linear part and the score drift
    -g^2 score: half a step of the linear part (the forward transition from the midpoint
    to t, inverted: x / a plus its noise), the full score-drift step with the score
    computed before the correction, then the other half; the last half adds no noise.
    """
    score = ctx.predict(x, t, "score")
    x = langevin_step(ctx, x, t, snr, noise_scale, score=score)
    t_mid = 0.5 * (t + t_next)

    def linear_half(y: State, hi: Tensor, lo: Tensor, noisy: bool) -> State:
        z = ctx.noise(y) if noisy else None

        def one(v, yf, zf=None):
            a, var = v.path.transition(hi, lo)
            mean = yf + v.project(yf / a - yf)
            return mean if zf is None else mean + torch.sqrt(var) * zf

        return ctx.spec.map(one, y, *(() if z is None else (z,)))

    x = linear_half(x, t, t_mid, True)

    def drift(v, xf, sf):
        _, g = v.path.sde(t)
        return xf + v.project(g * g * (t - t_next) * sf)

    x = ctx.spec.map(drift, x, score)
    return linear_half(x, t_mid, t_next, not last)


sample_euler_maruyama = partial(run, euler_maruyama_step)
sample_euler_maruyama.__doc__ = (
    "Reverse SDE, Euler-Maruyama: ``(model, x, ts, path, **kw)``; 1 NFE/step."
)
sample_reverse_diffusion = partial(run, reverse_diffusion_step)
sample_reverse_diffusion.__doc__ = (
    "Reverse-diffusion predictor alone: ``(model, x, ts, path, **kw)``; 1 NFE/step."
)


def sample_pc(
    model: Any,
    x: State,
    ts: Tensor,
    path: Any,
    *,
    predictor: str = "reverse_diffusion",
    snr: float = 0.16,
    n_corrector: int = 1,
    noise_scale: float = 1.0,
    **kw: Any,
) -> State:
    """Predictor-corrector sampler; (1 + n_corrector) NFE per step."""
    PREDICTORS.get(predictor)  # fail early on an unknown name
    _check_langevin(snr, noise_scale)
    if n_corrector < 0:
        raise ValueError(f"need n_corrector >= 0, got {n_corrector}")
    step = partial(
        pc_step, predictor=predictor, snr=snr, n_corrector=n_corrector, noise_scale=noise_scale
    )
    return run(step, model, x, ts, path, **kw)


def sample_s4(
    model: Any,
    x: State,
    ts: Tensor,
    path: Any,
    *,
    snr: float = 0.16,
    noise_scale: float = 1.0,
    **kw: Any,
) -> State:
    """GDSS's S4 solver (corrector + split predictor sharing one score); 1 NFE per step."""
    _check_langevin(snr, noise_scale)
    return run(partial(s4_step, snr=snr, noise_scale=noise_scale), model, x, ts, path, **kw)


def _check_langevin(snr: float, noise_scale: float) -> None:
    if snr <= 0 or noise_scale < 0:
        raise ValueError(f"need snr > 0 and noise_scale >= 0, got {snr}, {noise_scale}")


__all__ = [
    "PREDICTORS",
    "euler_maruyama_step",
    "langevin_step",
    "pc_step",
    "reverse_diffusion_step",
    "s4_step",
    "sample_euler_maruyama",
    "sample_pc",
    "sample_reverse_diffusion",
    "sample_s4",
]
