"""Mean-reverting SDE of IR-SDE (Luo et al. 2023, "Image restoration with mean-reverting SDEs").

The forward SDE is dx = theta_t (mu - x) dt + sigma_t dW with
sigma_t^2 / theta_t = 2 lambda^2 fixed, so (their closed-form solution)

    x_t | x_0 = mu + (x_0 - mu) e^{-thetabar_t} + lambda sqrt(1 - e^{-2 thetabar_t}) eps,

thetabar_t = int_0^t theta_s ds, with stationary law N(mu, lambda^2 I). The shifted state
y = x - mu therefore follows the core ``GaussianPath`` with alpha = e^{-thetabar} and
sigma = lambda sqrt(1 - e^{-2 thetabar}); its forward SDE f = alpha'/alpha = -theta,
g^2 = 2 lambda^2 theta is IR-SDE's (checked in the tests). Every core sampler, loss and
conversion runs on y; the helpers below add mu back (the condition, e.g. a degraded image).

Schedules for theta on t in [0, 1], scaled so that thetabar(1) = ``thetabar_max``:
``cosine`` (IR-SDE's default: theta = 1 - cos^2-alphabar of Nichol & Dhariwal, s = 0.008,
in continuous time), ``linear`` (IR-SDE's linear betas, theta(0)/theta(1) = 0.005) and
``constant``. IR-SDE fixes thetabar_max = -log(0.01) (their ``eps``): at t = 1 the state
still keeps 1% of x_0 - mu, so N(mu, lambda^2 I) is an accurate prior only when
e^{-thetabar_max} |x_0 - mu| << lambda; raise ``thetabar_max`` otherwise.
Time convention: data at ``t_min``, prior at ``t_max = 1`` (IR-SDE's index runs 1..T).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..broadcast import append_dims
from .base import GaussianPath

_COS_S = 0.008  # Nichol & Dhariwal's offset, as in IR-SDE's cosine_theta_schedule
_LINEAR_R0 = 0.0001 / 0.02  # IR-SDE's linear schedule: beta_start / beta_end


class MeanReverting(GaussianPath):
    """IR-SDE's mean-reverting SDE as the Gaussian path of y = x - mu (alpha = e^{-thetabar})."""

    name = "mean_reverting"
    SCHEDULES = ("cosine", "linear", "constant")

    def __init__(
        self,
        lambda_: float = 10 / 255,
        schedule: str = "cosine",
        thetabar_max: float = -math.log(0.01),
        t_min: float = 1e-3,
    ) -> None:
        if schedule not in self.SCHEDULES:
            raise ValueError(
                f"unknown theta schedule {schedule!r}; known: {', '.join(self.SCHEDULES)}"
            )
        if not (math.isfinite(lambda_) and lambda_ > 0):
            raise ValueError(f"lambda_ (stationary std) must be positive and finite, got {lambda_}")
        if not (math.isfinite(thetabar_max) and thetabar_max > 0):
            raise ValueError(f"thetabar_max must be positive and finite, got {thetabar_max}")
        if not 0 <= t_min < 1:
            raise ValueError(f"need 0 <= t_min < 1, got {t_min}")
        self.lambda_, self.schedule_name, self.thetabar_max = lambda_, schedule, thetabar_max
        self.t_min, self.t_max = t_min, 1.0
        self._k = 0.5 * math.pi / (1 + _COS_S)  # cosine: phi(t) = k t + b
        self._b = _COS_S * self._k
        self._c = thetabar_max / float(self._unit_integral(torch.tensor(1.0, dtype=torch.float64)))

    # --- theta and its integral (computed in float64, returned in t's dtype) -------------
    def _unit_rate(self, t: Tensor) -> Tensor:
        if self.schedule_name == "constant":
            return torch.ones_like(t)
        if self.schedule_name == "linear":
            return _LINEAR_R0 + (1 - _LINEAR_R0) * t
        # 1 - cos^2(kt + b) / cos^2(b) = sin(kt) sin(kt + 2b) / cos^2(b), no cancellation
        k, b = self._k, self._b
        return torch.sin(k * t) * torch.sin(k * t + 2 * b) / math.cos(b) ** 2

    def _unit_integral(self, t: Tensor) -> Tensor:
        if self.schedule_name == "constant":
            return t
        if self.schedule_name == "linear":
            return _LINEAR_R0 * t + 0.5 * (1 - _LINEAR_R0) * t * t
        k, b = self._k, self._b
        u = k * t  # int_0^t sin(ku) sin(ku + 2b) du, rearranged to avoid cancellation
        inner = 0.5 * math.cos(2 * b) * (2 * u - torch.sin(2 * u)) + torch.sin(u) ** 2 * math.sin(
            2 * b
        )
        return inner / (2 * k * math.cos(b) ** 2)

    def theta(self, t: Tensor) -> Tensor:
        """Mean-reversion rate theta(t)."""
        t = torch.as_tensor(t)
        return (self._c * self._unit_rate(t.double())).to(t.dtype)

    def thetabar(self, t: Tensor) -> Tensor:
        """thetabar(t) = int_0^t theta, so that alpha = exp(-thetabar)."""
        t = torch.as_tensor(t)
        return (self._c * self._unit_integral(t.double())).to(t.dtype)

    def t_from_thetabar(self, tb: Tensor) -> Tensor:
        """Inverse of ``thetabar`` (closed form for constant and linear, bisection for cosine)."""
        u = torch.as_tensor(tb).double() / self._c
        if self.schedule_name == "constant":
            return u
        if self.schedule_name == "linear":
            r0 = _LINEAR_R0
            return 2 * u / (r0 + torch.sqrt(r0 * r0 + 2 * (1 - r0) * u))
        lo, hi = torch.zeros_like(u), torch.ones_like(u)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = self._unit_integral(mid) < u
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    # --- the GaussianPath interface ------------------------------------------------------
    def schedule(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        t = torch.as_tensor(t)
        td = t.double()
        th, tb = self._c * self._unit_rate(td), self._c * self._unit_integral(td)
        alpha = torch.exp(-tb)
        var1 = -torch.expm1(-2 * tb)  # 1 - e^{-2 thetabar}
        sigma = self.lambda_ * torch.sqrt(var1)
        dsigma = self.lambda_ * th * torch.exp(-2 * tb) / torch.sqrt(var1)
        return tuple(v.to(t.dtype) for v in (alpha, sigma, -th * alpha, dsigma))

    def alpha(self, t: Tensor) -> Tensor:
        return self.schedule(t)[0]

    def sigma(self, t: Tensor) -> Tensor:
        return self.schedule(t)[1]

    def dalpha(self, t: Tensor) -> Tensor:
        return self.schedule(t)[2]

    def dsigma(self, t: Tensor) -> Tensor:
        return self.schedule(t)[3]

    def sde(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """(f, g) = (-theta, lambda sqrt(2 theta)): IR-SDE's coefficients, in closed form."""
        th = self.theta(t)
        return -th, self.lambda_ * torch.sqrt(2 * th)

    def prior_std(self) -> float:
        """The stationary std lambda (IR-SDE's prior N(mu, lambda^2 I))."""
        return self.lambda_

    def log_snr(self, t: Tensor) -> Tensor:
        t = torch.as_tensor(t)
        tb = self._c * self._unit_integral(t.double())
        return (-math.log(self.lambda_) - 0.5 * torch.log(torch.expm1(2 * tb))).to(t.dtype)

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        # e^{2 thetabar} - 1 = e^{-2 (lam + log lambda)}
        lam = torch.as_tensor(lam)
        tb = 0.5 * torch.log1p(torch.exp(-2 * (lam.double() + math.log(self.lambda_))))
        out = self.t_from_thetabar(tb)
        return out.to(lam.dtype) if lam.is_floating_point() else out

    # --- the condition mu -------------------------------------------------------------
    def prior_sample_at(self, mu: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw x_T ~ N(mu, lambda^2 I) shaped like ``mu`` (B, ...)."""
        z = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + self.lambda_ * z

    def marginal_at(self, x0: Tensor, mu: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = mu + e^{-thetabar_t} (x0 - mu) + sigma_t noise; ``mu`` broadcasts to ``x0``."""
        check_mu(mu, x0)
        return mu + self.marginal(x0 - mu, t, noise)

    def mean_at(self, x0: Tensor, mu: Tensor, t: Tensor) -> Tensor:
        """E[x_t | x0] = mu + e^{-thetabar_t} (x0 - mu) for ``t`` of shape (B,)."""
        check_mu(mu, x0)
        return mu + append_dims(self.alpha(t), x0.ndim) * (x0 - mu)


def check_mu(mu: Tensor | None, x: Tensor) -> Tensor:
    """Check that the mean ``mu`` is a finite tensor that broadcasts to ``x`` (B, ...)."""
    if mu is None:
        raise ValueError("mu (the mean the process reverts to, e.g. the degraded input) is needed")
    if not isinstance(mu, Tensor):
        raise TypeError(f"mu must be a torch.Tensor, got {type(mu).__name__}")
    try:
        shape = torch.broadcast_shapes(mu.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"mu of shape {tuple(mu.shape)} does not broadcast to the state's shape "
            f"{tuple(x.shape)}"
        )
    if not bool(torch.isfinite(mu).all()):
        raise ValueError("mu has NaN or inf values")
    return mu


__all__ = ["MeanReverting", "check_mu"]
