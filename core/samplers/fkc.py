r"""Feynman-Kac correctors: SMC over the reverse SDE for annealed, product and CFG targets.

Skreta, Akhound-Sadegh, Ohanesian, Bondesan, Aspuru-Guzik, Doucet, Brekelmans, Tong &
Neklyudov (2025), "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and Product of
Experts" (Sec. 3: annealing, products and CFG). The paper runs time from noise (0) to data
(1); here, as in all of scorelab, data is at ``t_min``, the prior at ``t_max``, and we
integrate downwards. Their sigma_t is our g(t).

Derivation in our convention. Each expert's marginals solve the forward Fokker-Planck
equation of dx = f x dt + g dW, so with s_i = grad log p_i,t,

    d/dt log p_i,t = -f d - f x.s_i + g^2/2 (div s_i + |s_i|^2).

The target path is q_t ∝ prod_i p_i,t ** beta_i (``scorelab.guidance``), with naive score
S = sum_i beta_i s_i. Run the proposal in tau = -t with noise level nu:
dx = b dtau + nu dW, b = -f x + a S. If the weighted law of the proposal is to be q, the
Feynman-Kac formula gives the log-weight rate

    G = d/dtau log q + div b + b.grad log q - nu^2/2 (Lap log q + |grad log q|^2).

The x.S terms cancel (the drift is linear in x); the divergences cancel exactly when
a = (g^2 + nu^2) / 2, and then, for every such nu,

    G(x, t) = g(t)^2 / 2 * ( |sum_i beta_i s_i|^2 - sum_i beta_i |s_i|^2 )  +  (B - 1) f d,

B = sum_i beta_i; the last term is constant in x and drops out of the normalized weights.
No Hessian or divergence is needed, only the experts' scores (one model call each):

* annealing p ** beta:             G = beta (beta - 1) g^2 / 2 |s|^2
* product p_1 p_2:                 G = g^2 s_1 . s_2
* CFG p ** (1 - w) p(.|c) ** w:    G = w (w - 1) g^2 / 2 |s_c - s_u|^2

which are the paper's weights. ``langevin = 0`` (nu = g, a = g^2) is the paper's proposal,
the reverse SDE with the naive score. ``langevin = lam > 0`` takes nu^2 = (1 + lam) g^2,
a = (1 + lam / 2) g^2: the same weights, with extra Langevin moves towards q_t inside
the proposal (our option; it lowers the weight variance on our Gaussian tests).

The target's prior is q_{t_max} ∝ prior ** B, a Gaussian of variance prior_std^2 / B: the
prior draw ``x`` is rescaled by 1 / sqrt(B) (exact, no initial weights; the same
p_{t_max} ≈ prior approximation every sampler makes).

Discretization (one step t -> t_next < t): evaluate the experts at (x, t) once, add
G(x, t) (t - t_next) to the log-weights (left-point rule), resample the particles together
with their scores when the ESS falls below ``ess_threshold * B`` (systematic, before the
move, so copies diverge by the move's noise), then take the core Euler-Maruyama step with
the combined score (no noise on the last step). At the end the particles are resampled
once more unless all weights are equal, so the output is equally weighted.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from torch import Tensor

from ..broadcast import batch_time
from ..guidance import GeometricTarget
from ..smc import ess, resample_if
from ..state import PathLike, Spec, State
from .base import Callback, Context, NoiseFn, run
from .sde import euler_maruyama_step


class _Given(torch.nn.Module):
    """A model that returns a prediction computed already (the step's combined eps)."""

    prediction = "eps"

    def __init__(self, eps: State) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: State, t: Tensor, **cond: Any) -> State:
        return self.eps


def log_weight_rate(target: GeometricTarget, eps: list[State], t: Tensor, spec: Spec) -> Tensor:
    """G(x, t) per particle, shape (B,), from the experts' eps predictions at time ``t``."""

    def one(view: Any, *e: Tensor) -> Tensor:
        g = view.path.sde(t)[1]
        comb = view.sqnorm(view.project(sum(b * ei for b, ei in zip(target.exponents, e))))
        each = sum(b * view.sqnorm(view.project(ei)) for b, ei in zip(target.exponents, e))
        return 0.5 * (g / view.path.sigma(t)) ** 2 * (comb - each)  # s_i = -eps_i / sigma

    return spec.reduce(one, *eps)


def _fkc_step(
    ctx: Context,
    x: Tensor,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    info: dict[str, Any],
    threshold: float,
    window: tuple[float, float] | None,
    langevin: float,
) -> Tensor:
    target: GeometricTarget = ctx.model
    eps = target.expert_eps(x, batch_time(t, x.shape[0], x), **ctx.cond)
    comb = target.combine(eps)
    logw = info["logw"] + log_weight_rate(target, eps, t, ctx.spec) * (t - t_next)
    info["ess"].append(ess(logw))
    resampled = False
    if window is None or window[0] <= float(t) <= window[1]:
        both, logw, resampled = resample_if({"x": x, "eps": comb}, logw, threshold, ctx.generator)
        x, comb = both["x"], both["eps"]
    info["logw"] = logw
    info["resampled"].append(resampled)
    if langevin:
        comb = comb * (1 + 0.5 * langevin)
    x = euler_maruyama_step(
        Context(_Given(comb), ctx.spec, {}, ctx.generator, ctx.noise_fn), x, t, t_next, last
    )
    if langevin and not last:
        # the rest of the noise, lam g^2 |dt|, as an independent draw (the sum has the law)
        view = ctx.spec.views["x"]
        g = view.path.sde(t)[1]
        x = x + math.sqrt(langevin) * g * torch.sqrt(t - t_next) * view.project(ctx.noise(x))
    return x


def sample_fkc(
    target: GeometricTarget,
    x: Tensor,
    ts: Tensor,
    path: PathLike,
    *,
    ess_threshold: float = 0.5,
    resample_window: tuple[float, float] | None = None,
    langevin: float = 0.0,
    final_resample: bool = True,
    rescale_prior: bool = True,
    return_info: bool = False,
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    noise_fn: NoiseFn | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Any]]:
    """Feynman-Kac corrected reverse SDE over the particles ``x`` (B, ...); see the module doc.

    ``target``: a composed model from ``scorelab.guidance`` (``Annealed``,
    ``ProductOfExperts``, ``ClassifierFreeGuidance``); ``x``: a draw from the path's prior
    at ``ts[0]``, rescaled to the target's prior by 1 / sqrt(sum beta) unless
    ``rescale_prior=False`` (for an ``x`` drawn from it already). NFE per step: the
    target's model calls (1 annealed, one per expert, 2 for CFG or 1 batched call of 2B).

    ``ess_threshold``: resample when ESS < threshold * B (0 never, 1 every step with
    unequal weights); with ``resample_window=(lo, hi)`` only while lo <= t <= hi (the
    weights keep accumulating outside, the target is unchanged). ``langevin`` >= 0: extra
    Langevin noise in the proposal (module doc), 0 = the paper's. ``ess_threshold=0,
    final_resample=False`` runs the proposal alone: the same sampler without correction.
    ``return_info=True`` also returns a dict: ``ess`` (before resampling) and
    ``resampled`` per step, ``final_resampled``, ``logw`` of the returned particles and
    ``nfe`` (model calls over the run). Tensor states only.
    """
    if not isinstance(target, GeometricTarget):
        raise TypeError(
            "sample_fkc corrects a composed target from scorelab.guidance (Annealed, "
            f"ProductOfExperts, ClassifierFreeGuidance), got {type(target).__name__}"
        )
    if not isinstance(x, Tensor):
        raise ValueError(
            f"sample_fkc supports single-tensor states only, got a {type(x).__name__}; "
            "flatten structured states into one tensor first"
        )
    if not 0.0 <= ess_threshold <= 1.0:
        raise ValueError(f"ess_threshold must be in [0, 1], got {ess_threshold}")
    if not (math.isfinite(langevin) and langevin >= 0):
        raise ValueError(f"langevin must be finite and >= 0, got {langevin}")
    if resample_window is not None:
        lo, hi = (float(v) for v in resample_window)
        if not lo <= hi:
            raise ValueError(f"resample_window must be (lo, hi) with lo <= hi, got {(lo, hi)}")
        resample_window = (lo, hi)
    if rescale_prior:
        x = x / math.sqrt(target.total)
    info: dict[str, Any] = {"ess": [], "resampled": [], "logw": x.new_zeros(x.shape[0])}
    calls = target.calls
    step = partial(
        _fkc_step, info=info, threshold=ess_threshold, window=resample_window, langevin=langevin
    )
    x = run(
        step,
        target,
        x,
        ts,
        path,
        cond=cond,
        generator=generator,
        noise_fn=noise_fn,
        callback=callback,
        progress=progress,
    )
    logw = info["logw"]
    info["final_resampled"] = False
    if final_resample and not bool((logw == logw[0]).all()):
        x, logw, info["final_resampled"] = resample_if(x, logw, 1.0, generator)
    info["logw"], info["nfe"] = logw, target.calls - calls
    return (x, info) if return_info else x


__all__ = ["log_weight_rate", "sample_fkc"]
