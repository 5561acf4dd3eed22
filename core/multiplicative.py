"""Multiplicative diffusion on positive data with geometric Brownian motion (GBM).

After Shetty, Prasath & Seelamantula (2025), "Dale meets Langevin: a multiplicative denoising
diffusion model" (arXiv:2510.02730). The equations below are derived from the forward SDE
in the paper's setting (its equation numbers are not reproduced here).

Forward (elementwise, X > 0): dX = mu X dt + sigma X dW, so with c = mu - sigma^2 / 2

    log X_t = log X_0 + c t + sigma W_t             (log-normal marginals and transitions).

Reverse-time SDE in x (Anderson 1982 with D(x) = sigma^2 diag(x^2), div D = 2 sigma^2 x):

    dX = X o (mu - 2 sigma^2 - sigma^2 h(X, t)) dt + sigma X o dW-bar,

where h(x, t) = x o grad_x log p_t(x) is the *Hyvarinen score* the network learns. In
Y = log X (the Lamperti transform) grad_y log p_Y = h + 1, i.e. s_x = (s_y - 1) / x, and

    dY = (c - sigma^2 (h + 1)) dt + sigma dW-bar.

Samplers, from t to s = t - dt (time runs from t_max, the log-normal prior, to t_min):

* ``multiplicative`` (the Dale-Langevin, sign-preserving sampler): Euler-Maruyama in Y,
  x_s = x_t o exp(-dt (c - sigma^2 (h + 1)) + sigma sqrt(dt) z), positive by construction;
* ``additive`` (the sign-agnostic sampler): Euler-Maruyama of the x-space reverse SDE,
  x_s = x_t o (1 - dt (mu - 2 sigma^2 - sigma^2 h) + sigma sqrt(dt) z), which can leave
  the positive orthant (and then the log-based model is undefined).

As in the core's reverse-SDE samplers the last step adds no noise.

Loss (multiplicative denoising score matching, M-DSM): with log x_t = log x_0 + c t +
sigma sqrt(t) z, x_t o grad log p(x_t | x_0) = -1 - z / (sigma sqrt(t)), and

    L = E_{t, x_0, z} w(t) |h(x_t, t) + 1 + z / (sigma sqrt(t))|^2 / d,

t ~ U(t_min, t_max). ``weighting="variance"`` (default) is w(t) = sigma^2 t (Song et al.'s
lambda = variance, our choice of time weighting), which makes it the eps-MSE
|sigma sqrt(t) (h + 1) + z|^2; ``"none"`` is w = 1. Its minimizer is the true Hyvarinen
score (M-DSM equals the explicit loss E w |h - x o grad log p_t|^2 up to a constant).

Model interface: ``model(x, t, **cond)`` on positive x (B, ...), t (B,), returning the
Hyvarinen score h; a ``prediction`` attribute of ``"score"`` (the Stein score grad_x log p)
or ``"log_score"`` (grad_y log p_Y) is converted exactly.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .broadcast import append_dims, batch_time
from .checks import check_finite
from .paths.base import GaussianPath
from .samplers.base import Context, run

if TYPE_CHECKING:
    from .testing.gaussian import GaussianMixture

PREDICTIONS = ("hyvarinen", "score", "log_score")
UPDATES = ("multiplicative", "additive")
WEIGHTINGS = ("variance", "none")


def check_positive(x: Tensor, name: str = "x") -> Tensor:
    """Raise a ValueError naming ``name`` unless ``x`` is finite and strictly positive."""
    check_finite(x, name)
    if not bool((x > 0).all()):
        raise ValueError(
            f"{name} must be strictly positive for a multiplicative (GBM) process; "
            f"{int((x <= 0).sum())} entries are <= 0"
        )
    return x


class LogBrownian(GaussianPath):
    """The Gaussian path of log X_t - c t = log X_0 + sigma W_t: alpha = 1, sigma(t) = s sqrt(t)."""

    name = "log_brownian"

    def __init__(self, sigma: float, t_min: float, t_max: float) -> None:
        self.s, self.t_min, self.t_max = sigma, t_min, t_max

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def dalpha(self, t: Tensor) -> Tensor:
        return torch.zeros_like(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self.s * torch.sqrt(t)

    def dsigma(self, t: Tensor) -> Tensor:
        return 0.5 * self.s / torch.sqrt(t)


def _as_cov(v: float | Tensor, dim: int | None) -> Tensor:
    v = torch.as_tensor(v, dtype=torch.float64)
    if v.ndim == 2:
        return v
    d = dim if dim is not None else (v.numel() if v.ndim == 1 else 1)
    return torch.diag(v.expand(d).clone()) if v.ndim <= 1 else v


class GBM:
    """Geometric Brownian motion dX = mu X dt + sigma X dW on [t_min, t_max], elementwise.

    ``data_log_mean`` (scalar or (d,)) and ``data_log_var`` (scalar, (d,) variances or a
    (d, d) covariance) describe log X_0 for the prior; the default (0, 0) is data at x = 1,
    i.e. the prior is GBM's own law started from 1, log X_T ~ N(c T, sigma^2 T I).
    """

    def __init__(
        self,
        mu: float = 0.0,
        sigma: float = 1.0,
        t_min: float = 1e-3,
        t_max: float = 1.0,
        data_log_mean: float | Tensor = 0.0,
        data_log_var: float | Tensor = 0.0,
    ) -> None:
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma (the volatility) must be positive and finite, got {sigma}")
        if not math.isfinite(mu):
            raise ValueError(f"mu (the drift) must be finite, got {mu}")
        if not 0 <= t_min < t_max:
            raise ValueError(f"need 0 <= t_min < t_max, got {t_min} and {t_max}")
        self.mu, self.sigma, self.t_min, self.t_max = mu, sigma, t_min, t_max
        self.c = mu - 0.5 * sigma * sigma
        self.log_path = LogBrownian(sigma, t_min, t_max)
        self.data_log_mean = torch.as_tensor(data_log_mean, dtype=torch.float64)
        self.data_log_var = torch.as_tensor(data_log_var, dtype=torch.float64)
        cov = _as_cov(self.data_log_var, None)
        if bool((torch.linalg.eigvalsh(0.5 * (cov + cov.T)) < -1e-12).any()):
            raise ValueError("data_log_var must be non-negative (a PSD covariance)")

    # --- forward process ---------------------------------------------------------------------
    def marginal(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Sample x_t = x0 o exp(c t + sigma sqrt(t) noise) for x0 > 0 (B, ...), t (B,)."""
        check_positive(x0, "x0")
        t = append_dims(torch.as_tensor(t, dtype=x0.dtype), x0.ndim)
        return x0 * torch.exp(self.c * t + self.sigma * torch.sqrt(t) * noise)

    def transition(self, t: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """log X_t | X_s ~ N(log X_s + m, v) for s < t: (m, v) = (c (t - s), sigma^2 (t - s))."""
        dt = torch.as_tensor(t) - torch.as_tensor(s)
        return self.c * dt, self.sigma**2 * dt

    def log_moments(self, t: float | Tensor, dim: int | None = None) -> tuple[Tensor, Tensor]:
        """Mean (d,) and covariance (d, d) of log X_t for log-normal data of the stated moments."""
        t = float(t)
        cov = _as_cov(self.data_log_var, dim)
        d = cov.shape[0] if dim is None else dim
        if cov.shape != (d, d):
            raise ValueError(f"data_log_var gives a {tuple(cov.shape)} covariance, need ({d}, {d})")
        mean = self.data_log_mean.expand(d) + self.c * t
        return mean, cov + self.sigma**2 * t * torch.eye(d, dtype=torch.float64)

    def prior_sample(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Draw x_T from the log-normal prior: log X_T ~ N(log-mean + c T, log-cov + sigma^2 T I).

        The covariance acts on the flattened sample (B, d) with d = prod(shape[1:]).
        """
        d = math.prod(shape[1:])
        mean, cov = self.log_moments(self.t_max, d)
        lam, u = torch.linalg.eigh(cov)
        z = torch.randn(shape[0], d, generator=generator, dtype=torch.float64)
        y = mean + (z * lam.clamp(min=0).sqrt()) @ u.T
        return torch.exp(y).to(dtype).reshape(shape)

    def exact_model(self, log_target: GaussianMixture) -> torch.nn.Module:
        """The exact Hyvarinen score h(x, t) when log X_0 ~ ``log_target`` (flattened (B, d))."""
        return _ExactHyvarinen(log_target, self)

    def __repr__(self) -> str:
        return f"GBM(mu={self.mu}, sigma={self.sigma}, t_min={self.t_min}, t_max={self.t_max})"


class _ExactHyvarinen(torch.nn.Module):
    prediction = "hyvarinen"

    def __init__(self, log_target: GaussianMixture, process: GBM) -> None:
        super().__init__()
        self.target, self.process = log_target, process

    def forward(self, x: Tensor, t: Tensor, **_: Any) -> Tensor:
        y = torch.log(x.reshape(x.shape[0], -1)) - self.process.c * append_dims(t, 2)
        s_y = self.target.score(y, t, self.process.log_path).to(x.dtype)
        return (s_y - 1).reshape(x.shape)


def to_hyvarinen(pred: Tensor, kind: str, x: Tensor) -> Tensor:
    """Convert a prediction of ``kind`` at positive ``x`` to the Hyvarinen score x o grad log p."""
    if kind not in PREDICTIONS:
        raise ValueError(f"unknown GBM prediction {kind!r}; known: {', '.join(PREDICTIONS)}")
    if pred.shape != x.shape:
        raise ValueError(f"model output has shape {tuple(pred.shape)}, state has {tuple(x.shape)}")
    if kind == "score":
        return x * pred
    return pred - 1 if kind == "log_score" else pred


def _hyvarinen(model: Any, x: Tensor, t: Tensor | float, cond: dict[str, Any]) -> Tensor:
    tb = batch_time(t, x.shape[0], x)
    return to_hyvarinen(model(x, tb, **cond), getattr(model, "prediction", "hyvarinen"), x)


class MultiplicativeDSMLoss:
    """M-DSM: E w(t) |h(x_t, t) + 1 + z / (sigma sqrt t)|^2 / d, ``loss(model, x0, generator)``."""

    def __init__(self, process: GBM, weighting: str = "variance") -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")
        self.process, self.weighting = process, weighting

    def __call__(
        self, model: Any, x0: Tensor, generator: torch.Generator | None = None, **cond: Any
    ) -> Tensor:
        p = self.process
        check_positive(x0, "x0")
        n = x0.shape[0]
        u = torch.rand(n, generator=generator, dtype=x0.dtype, device=x0.device)
        t = p.t_min + (p.t_max - p.t_min) * u
        z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        xt = p.marginal(x0, t, z)
        h = _hyvarinen(model, xt, t, cond)
        sd = append_dims(p.sigma * torch.sqrt(t), x0.ndim)  # std of log x_t given x_0
        err = sd * (h + 1) + z if self.weighting == "variance" else h + 1 + z / sd
        return err.flatten(1).pow(2).mean(1).mean()

    def __repr__(self) -> str:
        return f"MultiplicativeDSMLoss({self.process!r}, weighting={self.weighting!r})"


def gbm_step(
    ctx: Context, x: Tensor, t: Tensor, t_next: Tensor, last: bool, *, process: GBM, update: str
) -> Tensor:
    """One reverse step t -> t_next of the ``multiplicative`` or ``additive`` sampler; 1 NFE."""
    h = _hyvarinen(ctx.model, x, t, ctx.cond)
    dt, s2 = t - t_next, process.sigma**2
    z = None if last else ctx.noise(x)
    if update == "multiplicative":
        logx = torch.log(x) - dt * (process.c - s2 * (h + 1))
        if z is not None:
            logx = logx + process.sigma * torch.sqrt(dt) * z
        return torch.exp(logx)
    factor = 1 - dt * (process.mu - 2 * s2 - s2 * h)
    if z is not None:
        factor = factor + process.sigma * torch.sqrt(dt) * z
    return x * factor


def sample_gbm(
    model: Any,
    x: Tensor,
    ts: Tensor,
    process: GBM,
    *,
    update: str = "multiplicative",
    **kw: Any,
) -> Tensor:
    """Reverse GBM from positive prior draws ``x`` (B, ...) at ``ts[0]``; 1 NFE/step.

    ``update="multiplicative"`` is the Dale-Langevin (sign-preserving) sampler,
    ``"additive"`` the sign-agnostic Euler-Maruyama in x. Other keywords (``cond``,
    ``generator``, ``noise_fn``, ``callback``, ``progress``) as for every core sampler.
    """
    if update not in UPDATES:
        raise ValueError(f"unknown GBM update {update!r}; known: {', '.join(UPDATES)}")
    if isinstance(x, dict):
        raise ValueError("sample_gbm takes a single-tensor state, got a dict of fields")
    check_positive(x, "x")
    step = partial(gbm_step, process=process, update=update)
    return run(step, model, x, ts, process.log_path, **kw)


__all__ = [
    "GBM",
    "PREDICTIONS",
    "UPDATES",
    "LogBrownian",
    "MultiplicativeDSMLoss",
    "check_positive",
    "gbm_step",
    "sample_gbm",
    "to_hyvarinen",
]
