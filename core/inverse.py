"""Linear inverse problems with a diffusion prior: the measurement, and DPS.

The problem is y = A x + n, n ~ N(0, s^2 I), with the prior p(x) given by a diffusion model on
a Gaussian path (data at ``t_min``, prior at ``t_max``; the papers' DDPM index runs the same
way). Ensemble SMC, exact as the number of particles grows, is in ``inverse_smc``.

DPS (Chung, Kim, Mccann, Klasky & Ye, ICLR 2023, "Diffusion posterior sampling for general
noisy inverse problems", Algorithm 1): at each reverse step, x0_hat(x_t) = E[x0 | x_t] from the
model (Tweedie), the gradient g = grad_{x_t} ||y - A x0_hat(x_t)||^2 by autograd through the
model, and

    x_next = (unconditional step from x_t) - zeta_t g,

with either the paper's step ``scale="dps"``: zeta_t = zeta / ||y - A x0_hat|| (per sample), or
``scale="gaussian"``: the guidance score grad log N(y; A x0_hat, s^2 I) = -g / (2 s^2) times the
step's g(t)^2 dt, taken as the exact transition variance v of the step (what the reverse-
diffusion step multiplies the score by), times zeta (1 is the unscaled likelihood). DPS
replaces p(y | x_t) by p(y | x0_hat(x_t)), so it is biased even with an exact model.
Cost per step: one model call and one vector-Jacobian product through the model (about two
forward passes); the unconditional step reuses the same model output.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from typing import Any

import torch
from torch import Tensor

from .parameterization import predict
from .paths.base import GaussianPath
from .samplers.base import Callback, Context, NoiseFn, run
from .samplers.sde import PREDICTORS

DPS_SCALES = ("dps", "gaussian")
DPS_BASES = ("ancestral", "reverse_diffusion", "euler_maruyama")


class LinearMeasurement:
    """y = A x + N(0, noise_std^2 I): A (m, d), y (m,) shared by every particle, noise_std >= 0."""

    def __init__(self, A: Tensor, y: Tensor, noise_std: float) -> None:
        a, y = torch.as_tensor(A), torch.as_tensor(y)
        if a.ndim != 2 or a.shape[0] < 1:
            raise ValueError(f"A must be a 2-D (m, d) matrix, got shape {tuple(a.shape)}")
        if y.shape != (a.shape[0],):
            raise ValueError(
                f"y must have shape ({a.shape[0]},) (one measurement shared by all particles), "
                f"got {tuple(y.shape)}"
            )
        if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(y).all())):
            raise ValueError("A and y must be finite (no NaN or inf)")
        noise_std = float(noise_std)
        if not (math.isfinite(noise_std) and noise_std >= 0):
            raise ValueError(f"noise_std must be finite and >= 0, got {noise_std}")
        self.A, self.y, self.noise_std = a, y, noise_std

    @property
    def dim(self) -> int:
        """Dimension d of x."""
        return self.A.shape[1]

    def check_state(self, x: Any) -> Tensor:
        """Raise unless ``x`` is a finite (B, d) tensor."""
        if not isinstance(x, Tensor):
            raise TypeError(
                f"inverse-problem samplers take a (B, {self.dim}) tensor state, "
                f"got {type(x).__name__}"
            )
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x has NaN or inf values")
        return x

    def residual(self, x: Tensor) -> Tensor:
        """y - A x per sample, shape (B, m)."""
        return self.y.to(x) - x @ self.A.to(x).T

    def log_likelihood(self, x: Tensor) -> Tensor:
        """log N(y; A x, noise_std^2 I) per sample, shape (B,); needs noise_std > 0."""
        return self.twist(x, 1.0, 0.0)[0]

    def gaussian_log_lik(self, pred: Tensor, r2: float | Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """log N(y; pred, s^2 I + r2 A A^T) for predictions ``pred`` (B, m).

        Returns the log-density (B,), Sigma^-1 (y - pred) (B, m) and Sigma's Cholesky factor.
        """
        a, y = self.A.to(pred), self.y.to(pred)
        cov = self.noise_std**2 * torch.eye(a.shape[0], dtype=pred.dtype) + r2 * (a @ a.T)
        try:
            chol = torch.linalg.cholesky(cov)
        except RuntimeError as err:  # torch's LinAlgError is a RuntimeError
            raise ValueError(
                "the measurement covariance s^2 I + r^2 A A^T is singular: use noise_std > 0"
            ) from err
        resid = y - pred
        sol = torch.cholesky_solve(resid.T, chol).T
        logdet = 2 * torch.log(torch.diagonal(chol)).sum()
        h = -0.5 * ((resid * sol).sum(1) + logdet + a.shape[0] * math.log(2 * math.pi))
        return h, sol, chol

    def twist(
        self, x: Tensor, alpha: float | Tensor, sigma: float | Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """h = log N(y; A x / alpha, s^2 I + (sigma / alpha)^2 A A^T), its gradient and Laplacian.

        The likelihood of x_t = alpha x0 + sigma eps under a flat prior on x0; at
        (alpha, sigma) = (1, 0) the true likelihood. Returns h (B,), grad_x h (B, d) and the
        Laplacian (a scalar: h is quadratic).
        """
        alpha, sigma = torch.as_tensor(alpha, dtype=x.dtype), torch.as_tensor(sigma, dtype=x.dtype)
        a = self.A.to(x)
        h, sol, chol = self.gaussian_log_lik((x / alpha) @ a.T, (sigma / alpha) ** 2)
        lap = -torch.trace(a.T @ torch.cholesky_solve(a, chol)) / alpha**2
        return h, sol @ a / alpha, lap

    def __repr__(self) -> str:
        return f"LinearMeasurement(m={self.A.shape[0]}, d={self.dim}, noise_std={self.noise_std})"


class _Replay(torch.nn.Module):
    """Calls the model once, then replays its (detached) output: one NFE for guide and step."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model, self.out = model, None
        self.prediction = getattr(model, "prediction", None)

    def forward(self, x: Tensor, t: Tensor, **cond: Any) -> Tensor:
        if self.out is None:
            self.out = self.model(x, t, **cond)
            return self.out
        return self.out.detach()


def dps_step(
    ctx: Context,
    x: Tensor,
    t: Tensor,
    t_next: Tensor,
    last: bool,
    *,
    measurement: LinearMeasurement,
    path: GaussianPath,
    zeta: float = 1.0,
    scale: str = "dps",
    base: str = "ancestral",
) -> Tensor:
    """One DPS step: the unconditional ``base`` step minus zeta_t grad ||y - A x0_hat||^2."""
    replay = _Replay(ctx.model)
    with torch.enable_grad():  # the sampler loop runs under no_grad
        xg = x.detach().requires_grad_(True)
        x0 = predict(replay, xg, t, ctx.spec, "x0", **ctx.cond)
        sq = measurement.residual(x0).pow(2).sum(1)
        (grad,) = torch.autograd.grad(sq.sum(), xg)
    new = PREDICTORS.get(base)(replace(ctx, model=replay), x, t, t_next, last)
    if scale == "dps":
        coef = zeta / sq.detach().sqrt().clamp(min=torch.finfo(x.dtype).tiny)
        return new - coef[:, None] * grad
    var = path.transition(t, t_next)[1]
    return new - (zeta * var / (2 * measurement.noise_std**2)) * grad


def sample_dps(
    model: Any,
    x: Tensor,
    ts: Tensor,
    path: GaussianPath,
    measurement: LinearMeasurement,
    *,
    zeta: float = 1.0,
    scale: str = "dps",
    base: str = "ancestral",
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    noise_fn: NoiseFn | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    return_info: bool = False,
) -> Tensor | tuple[Tensor, dict[str, int]]:
    """DPS from the prior draw ``x`` (B, d) over the decreasing grid ``ts``.

    Info (``return_info``): ``nfe`` and ``vjp`` per sample, one each per step.
    """
    measurement.check_state(x)
    if not isinstance(path, GaussianPath):
        raise TypeError(f"path must be one GaussianPath, got {type(path).__name__}")
    if scale not in DPS_SCALES:
        raise ValueError(f"unknown DPS scale {scale!r}; known: {', '.join(DPS_SCALES)}")
    if base not in DPS_BASES:
        raise ValueError(f"unknown DPS base step {base!r}; known: {', '.join(DPS_BASES)}")
    if not (math.isfinite(zeta) and zeta >= 0):
        raise ValueError(f"zeta must be finite and >= 0, got {zeta}")
    if scale == "gaussian" and measurement.noise_std == 0:
        raise ValueError("scale='gaussian' divides by noise_std^2: needs noise_std > 0")
    step = partial(dps_step, measurement=measurement, path=path, zeta=zeta, scale=scale, base=base)
    out = run(
        step,
        model,
        x,
        ts,
        path,
        cond=cond,
        generator=generator,
        noise_fn=noise_fn,
        callback=callback,
        progress=progress,
    )
    n = torch.as_tensor(ts).numel() - 1
    return (out, {"nfe": n, "vjp": n}) if return_info else out


__all__ = ["DPS_BASES", "DPS_SCALES", "LinearMeasurement", "dps_step", "sample_dps"]
