"""Variance-preserving and sub-VP SDEs with a linear beta schedule (Song et al. 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import GaussianPath


class VP(GaussianPath):
    """VP SDE: dx = -beta(t)/2 x dt + sqrt(beta(t)) dW, beta linear in t on [0, 1]."""

    name = "vp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3):
        if not 0 <= beta_min < beta_max:
            raise ValueError(f"need 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = beta_min, beta_max
        self.t_min, self.t_max = t_min, 1.0

    def beta(self, t: Tensor) -> Tensor:
        """The noise rate beta(t)."""
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def _int_beta(self, t: Tensor) -> Tensor:
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def _sigma(self, b: Tensor, ib: Tensor) -> tuple[Tensor, Tensor]:
        """sigma and sigma' from beta and its integral (the one place VP and sub-VP differ)."""
        sigma = torch.sqrt(-torch.expm1(-ib))
        return sigma, 0.5 * b * torch.exp(-ib) / sigma

    def schedule(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        # one pass shares beta and its integral: samplers call this once per time
        b, ib = self.beta(t), self._int_beta(t)
        alpha = torch.exp(-0.5 * ib)
        sigma, dsigma = self._sigma(b, ib)
        return alpha, sigma, -0.5 * b * alpha, dsigma

    def alpha(self, t: Tensor) -> Tensor:
        return torch.exp(-0.5 * self._int_beta(t))

    def dalpha(self, t: Tensor) -> Tensor:
        return self.schedule(t)[2]

    def sigma(self, t: Tensor) -> Tensor:
        return self._sigma(self.beta(t), self._int_beta(t))[0]

    def dsigma(self, t: Tensor) -> Tensor:
        return self.schedule(t)[3]

    def prior_std(self) -> float:
        return 1.0

    def log_snr(self, t: Tensor) -> Tensor:
        return -0.5 * torch.log(torch.expm1(self._int_beta(t)))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        # int_beta(t) = log(1 + e^{-2 lam}); solve the quadratic in t.
        b = torch.log1p(torch.exp(-2 * torch.as_tensor(lam)))
        d = self.beta_max - self.beta_min
        return 2 * b / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * d * b))


class SubVP(VP):
    """Sub-VP SDE: same drift as VP, sigma(t) = 1 - exp(-int beta), tighter likelihoods."""

    name = "subvp"

    def _sigma(self, b: Tensor, ib: Tensor) -> tuple[Tensor, Tensor]:
        return -torch.expm1(-ib), b * torch.exp(-ib)

    def log_snr(self, t: Tensor) -> Tensor:
        return -0.5 * self._int_beta(t) - torch.log(-torch.expm1(-self._int_beta(t)))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        return GaussianPath.t_from_log_snr(self, lam)
