"""Ensemble SMC for linear inverse problems with a diffusion prior: exact as particles grow.

After Chen, Ren, Min, Ying & Izzo (2025), "Solving inverse problems via diffusion-based priors:
an approximation-free ensemble sampling approach" (arXiv:2506.03979): a PDE for the posterior
path with a modified diffusion and a reweighting term, simulated by weighted particles, with no
Tweedie approximation in the weights. Only the paper's abstract was available to us; the
derivation below is ours and follows that outline (``scheme="fk"``), beside a discrete-time
twisted SMC (``scheme="twisted"``, the default) that is exact for any number of steps.

Targets q_t(x) proportional to p_t(x) exp(h_t(x)), p_t the prior model's marginal, h_t a twist;
at the grid's last time h = log N(y; A x, s^2 I) exactly, so the last target is
p_{t_min}(x) N(y; A x, s^2 I): the posterior with x_{t_min} taken as data (our convention:
data at t_min, prior at t_max; the papers' DDPM index runs the same way). Twists
(r_t = sigma_t / alpha_t, Sigma_t = s^2 I + r_t^2 A A^T):

* ``"flat"``: h_t = log N(y; A x / alpha_t, Sigma_t), the likelihood of x_t under a flat prior
  on x0; gradient and Laplacian in closed form, the same for any model.
* ``"tweedie"``: h_t = log N(y; A x0_hat(x_t), Sigma_t) with x0_hat from the step's model call,
  and as proposal drift its gradient with d x0_hat / d x_t replaced by I / alpha_t (its value
  under a flat prior), so no VJP through the network. Flat near t_max, where x_t says little
  about x0, hence far lower weight variance than ``"flat"`` (measured: ESS without resampling
  0.8 B against 0.01-0.1 B on a bimodal 2-D posterior).

Neither is an approximation of the method: the weights correct for any twist and drift.

Proposal (the modified diffusion): the prior's reverse Gaussian kernel N(mu(x_t), v I), DDPM
ancestral or Song et al.'s reverse diffusion from one model call, with its mean shifted by
v grad h_t(x_t), i.e. the reverse SDE with drift b + g^2 grad h_t, b = -f x + g^2 score. Every
step injects noise, the last one included (the weights need a proposal density).

``scheme="twisted"``: w = N(x_s; mu, v I) e^{h_s(x_s)} / (N(x_s; mu + v grad h_t, v I)
e^{h_t(x_t)}) (Wu et al. 2023's twisted SMC with our twists); the ensemble targets the
posterior of the model's own discrete chain exactly as B grows. h_s(x_s) needs the model at
x_s, so each weight is completed at the next step's model call: still one call per step.

``scheme="fk"`` (the reweighting PDE; flat twist only): in reverse time tau, the density
p e^h of the modified SDE obeys its Fokker-Planck equation plus the reaction term w (p e^h),

    w = d_tau h + b . grad h + (g^2 / 2) (Laplacian h + |grad h|^2),

so log-weights accumulating int w dtau (Feynman-Kac) keep the ensemble on q_t. Discretized
with b dtau = mu - x_t, g^2 dtau = v and int d_tau h = h_{t_next}(x_t) - h_t(x_t): first order
in the step, from the score alone.

Both start from the prior draw with weights e^{h_{t_max}}, resample systematically when the
ESS falls below ``ess_threshold`` B (``scorelab.smc.resample_if``, before each move), and
estimate log p(y) (the product of mean weights). Cost per step: one model call, no VJP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor

from .inverse import LinearMeasurement
from .paths.base import GaussianPath
from .samplers.base import Callback, Context, NoiseFn, check_grid, run
from .smc import ess, resample_if

SCHEMES = ("twisted", "fk")
TWISTS = ("tweedie", "flat")
KERNELS = ("ancestral", "reverse_diffusion")


@dataclass
class SMCInfo:
    """Diagnostics of one ensemble-SMC run."""

    ess: list[float] = field(default_factory=list)  # before each resampling decision, and last
    resampled: list[bool] = field(default_factory=list)
    logw: Tensor | None = None  # final log-weights, before the final resampling
    particles: Tensor | None = None  # final weighted particles
    log_evidence: float = 0.0  # SMC estimate of log p(y) under the model prior
    nfe: int = 0
    vjp: int = 0


@dataclass
class _Ensemble:
    logw: Tensor
    info: SMCInfo
    pending: Tensor | float = 0.0  # the twisted weight of the last move, short of h_s(x_s)
    started: bool = False


def _log_mean_exp(logw: Tensor) -> float:
    return float(torch.logsumexp(logw, 0)) - math.log(logw.numel())


def prior_kernel(
    path: GaussianPath, x: Tensor, x0: Tensor, eps: Tensor, t: Tensor, t_next: Tensor, kernel: str
) -> tuple[Tensor, Tensor]:
    """The prior's reverse Gaussian kernel N(mean, var I) from t to t_next."""
    _, var = path.transition(t, t_next)
    if kernel == "ancestral":  # DDIM with eta = 1: the exact q(x_s | x_t, x0_hat)
        a_s, s_s = path.alpha(t_next), path.sigma(t_next)
        c2 = (s_s / path.sigma(t)) ** 2 * var
        return a_s * x0 + torch.sqrt((s_s * s_s - c2).clamp(min=0)) * eps, c2
    a = path.alpha(t) / path.alpha(t_next)  # reverse diffusion: x + (1 - a) x + v score
    return (2 - a) * x - var * eps / path.sigma(t), var


def smc_step(
    ctx: Context,
    x: Tensor,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    measurement: LinearMeasurement,
    path: GaussianPath,
    ens: _Ensemble,
    scheme: str,
    twist: str,
    kernel: str,
    reweight: bool,
    ess_threshold: float,
) -> Tensor:
    """Finish the weights at t, resample if the ESS is low, then move with the guided kernel.

    One model call: its x0_hat serves the kernel and (``twist="tweedie"``) the twist h_t(x_t)
    that completes the previous move's weight, so the weights lag the moves by one call.
    """
    x0, eps = ctx.predict(x, t, "x0,eps")
    a_t, s_t = path.alpha(t), path.sigma(t)
    h_t, grad, lap = measurement.twist(x, a_t, s_t)
    if twist == "tweedie":
        a_mat = measurement.A.to(x)
        h_t, sol, _ = measurement.gaussian_log_lik(x0 @ a_mat.T, (s_t / a_t) ** 2)
        grad = sol @ a_mat / a_t  # its gradient with d x0_hat / d x_t taken as I / alpha_t
    if reweight and (scheme == "twisted" or not ens.started):
        ens.logw = ens.logw + ens.pending + h_t  # at the start: the initial weight e^{h_T}
    ens.started = True
    ens.info.ess.append(ess(ens.logw))
    before = ens.logw
    st = {"x": x, "x0": x0, "eps": eps, "grad": grad, "h": h_t}
    st, ens.logw, did = resample_if(st, before, ess_threshold, ctx.generator)
    if did:  # the mean weight moves into the evidence estimate before the reset
        ens.info.log_evidence += _log_mean_exp(before)
    ens.info.resampled.append(did)
    x, grad = st["x"], st["grad"]

    mean, var = prior_kernel(path, x, st["x0"], st["eps"], t, t_next, kernel)
    if not bool(var > 0):
        raise ValueError(
            f"the step {float(t):g} -> {float(t_next):g} injects no noise; ensemble SMC needs "
            "noise on every step (end the grid at t_min > 0)"
        )
    sd, z = var.sqrt(), ctx.noise(x)
    new = mean + var * grad + sd * z
    if not reweight:
        return new
    g2 = grad.pow(2).sum(1)
    if scheme == "twisted":  # log p(x_s|x_t) - log q(x_s|x_t) in closed form, minus h_t
        ens.pending = -st["h"] - sd * (z * grad).sum(1) - var * g2 / 2
        if last:
            ens.logw = ens.logw + ens.pending + measurement.log_likelihood(new)
    else:  # the Feynman-Kac reaction term over the step, at the start point
        a_s, s_s = (1.0, 0.0) if last else (path.alpha(t_next), path.sigma(t_next))
        d_tau_h = measurement.twist(x, a_s, s_s)[0] - st["h"]
        ens.logw = ens.logw + d_tau_h + ((mean - x) * grad).sum(1) + var * (lap + g2) / 2
    return new


def sample_posterior_smc(
    model: Any,
    x: Tensor,
    ts: Tensor,
    path: GaussianPath,
    measurement: LinearMeasurement,
    *,
    scheme: str = "twisted",
    twist: str = "tweedie",
    kernel: str = "ancestral",
    ess_threshold: float = 0.5,
    reweight: bool = True,
    resample_final: bool = True,
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    noise_fn: NoiseFn | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    return_info: bool = False,
) -> Tensor | tuple[Tensor, SMCInfo]:
    """Ensemble SMC from the prior draw ``x`` (B, d) = the particles, over the grid ``ts``.

    ``scheme`` "twisted" | "fk", ``twist`` "tweedie" | "flat" and ``kernel`` "ancestral" |
    "reverse_diffusion" are described in the module docstring; the grid must end at a time
    with noise (t_min > 0). Returns the final particles, resampled to equal weights unless
    ``resample_final`` is False (then use ``info.logw``). ``reweight=False`` keeps the guided
    proposal without the weights (biased; an ablation). ``info``: ESS trace, resampling steps,
    weights, log p(y), NFE.
    """
    measurement.check_state(x)
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be one GaussianPath, got {type(path).__name__}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown SMC scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    if twist not in TWISTS:
        raise ValueError(f"unknown SMC twist {twist!r}; known: {', '.join(TWISTS)}")
    if scheme == "fk" and twist != "flat":
        raise ValueError("scheme='fk' needs the analytic twist's Laplacian: use twist='flat'")
    if kernel not in KERNELS:
        raise ValueError(f"unknown SMC kernel {kernel!r}; known: {', '.join(KERNELS)}")
    if not 0.0 <= ess_threshold <= 1.0:
        raise ValueError(f"ess_threshold must be in [0, 1], got {ess_threshold}")
    if measurement.noise_std <= 0:
        raise ValueError("ensemble SMC weighs by the likelihood: needs noise_std > 0")
    grid = check_grid(ts, x)
    ens = _Ensemble(torch.zeros(x.shape[0], dtype=x.dtype), SMCInfo())
    step = partial(
        smc_step,
        measurement=measurement,
        path=path,
        ens=ens,
        scheme=scheme,
        twist=twist,
        kernel=kernel,
        reweight=reweight,
        ess_threshold=ess_threshold,
    )
    out = run(
        step,
        model,
        x,
        grid,
        path,
        cond=cond,
        generator=generator,
        noise_fn=noise_fn,
        callback=callback,
        progress=progress,
    )
    info = ens.info
    info.ess.append(ess(ens.logw))
    info.log_evidence += _log_mean_exp(ens.logw)
    info.logw, info.particles, info.nfe = ens.logw, out, grid.numel() - 1
    if resample_final:
        out, _, _ = resample_if(out, ens.logw, 1.0, generator)
    return (out, info) if return_info else out


__all__ = [
    "KERNELS",
    "SCHEMES",
    "TWISTS",
    "SMCInfo",
    "prior_kernel",
    "sample_posterior_smc",
    "smc_step",
]
