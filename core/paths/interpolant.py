"""Flow-matching / stochastic-interpolant paths with a Gaussian base (Albergo et al. 2023).

x_t = a(t) x_data + b(t) x_noise + gamma(t) z with x_noise, z ~ N(0, I), so given x_data
x_t is Gaussian with alpha = a and sigma = sqrt(b^2 + gamma^2). With gamma = 0 the linear
path is rectified flow / conditional flow matching; ``gamma`` > 0 sets
gamma(t)^2 = gamma * t (1 - t), the noise term of the stochastic interpolant.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import GaussianPath


def interpolant_coefs(kind: str, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(a, b, a', b') of a x_data + b x_noise: linear (1 - t, t) or trig (cos, sin of pi t / 2)."""
    if kind == "linear":
        return 1 - t, t, -torch.ones_like(t), torch.ones_like(t)
    h = 0.5 * math.pi
    return torch.cos(h * t), torch.sin(h * t), -h * torch.sin(h * t), h * torch.cos(h * t)


class Interpolant(GaussianPath):
    """Linear (a = 1 - t, b = t) or trigonometric (a = cos(pi t / 2), b = sin(pi t / 2)) path."""

    KINDS = ("linear", "trig")

    def __init__(
        self, kind: str = "linear", gamma: float = 0.0, t_min: float = 0.0, t_max: float = 1.0
    ):
        if kind not in self.KINDS:
            raise ValueError(f"unknown interpolant kind {kind!r}; known: {', '.join(self.KINDS)}")
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.kind, self.gamma = kind, gamma
        self.t_min, self.t_max = t_min, t_max
        self.name = kind if gamma == 0 else f"{kind}-si"

    def _ab(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return interpolant_coefs(self.kind, t)

    def alpha(self, t: Tensor) -> Tensor:
        return self._ab(t)[0]

    def dalpha(self, t: Tensor) -> Tensor:
        return self._ab(t)[2]

    def sigma(self, t: Tensor) -> Tensor:
        b = self._ab(t)[1]
        return torch.sqrt(b * b + self.gamma * t * (1 - t))

    def dsigma(self, t: Tensor) -> Tensor:
        _, b, _, db = self._ab(t)
        if self.gamma == 0:
            return db
        return (2 * b * db + self.gamma * (1 - 2 * t)) / (2 * self.sigma(t))

    def prior_std(self) -> float:
        return 1.0

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        lam = torch.as_tensor(lam)
        if self.gamma > 0:
            return GaussianPath.t_from_log_snr(self, lam)
        if self.kind == "linear":
            return torch.sigmoid(-lam)
        return torch.atan(torch.exp(-lam)) / (0.5 * math.pi)
