"""Variance-exploding SDE (Song et al. 2021) and EDM's sigma(t) = t (Karras et al. 2022)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import GaussianPath


class VE(GaussianPath):
    """VE SDE: sigma(t) = sigma_min (sigma_max / sigma_min)^t, alpha = 1, on [t_min, 1]."""

    name = "ve"

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, t_min: float = 1e-5):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.t_min, self.t_max = t_min, 1.0

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def dalpha(self, t: Tensor) -> Tensor:
        return torch.zeros_like(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def dsigma(self, t: Tensor) -> Tensor:
        return self.sigma(t) * math.log(self.sigma_max / self.sigma_min)

    def prior_std(self) -> float:
        return self.sigma_max

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        return (-torch.as_tensor(lam) - math.log(self.sigma_min)) / math.log(
            self.sigma_max / self.sigma_min
        )


class EDM(GaussianPath):
    """EDM's path: alpha = 1, sigma(t) = t on [sigma_min, sigma_max]; carries sigma_data."""

    name = "edm"

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 80.0, sigma_data: float = 0.5):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max, self.sigma_data = sigma_min, sigma_max, sigma_data
        self.t_min, self.t_max = sigma_min, sigma_max

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def dalpha(self, t: Tensor) -> Tensor:
        return torch.zeros_like(t)

    def sigma(self, t: Tensor) -> Tensor:
        return t

    def dsigma(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def prior_std(self) -> float:
        return self.sigma_max

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        return torch.exp(-torch.as_tensor(lam))
