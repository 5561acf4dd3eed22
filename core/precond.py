"""EDM preconditioning (Karras et al. 2022, Table 1), for any Gaussian path.

A path with (alpha, sigma) is EDM's sigma(t) = t path after scaling x by 1/alpha, with
noise level s = sigma / alpha; the network sees c_in * x / alpha and c_noise(s), and the
wrapper returns the x0 prediction D = c_skip x / alpha + c_out F.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .broadcast import append_dims
from .paths.base import GaussianPath


@dataclass(frozen=True)
class EDMCoefficients:
    """c_skip, c_out, c_in, c_noise at noise level sigma, each shaped like sigma."""

    c_skip: Tensor
    c_out: Tensor
    c_in: Tensor
    c_noise: Tensor


def edm_coefficients(sigma: Tensor, sigma_data: float) -> EDMCoefficients:
    """EDM's preconditioning coefficients for noise level ``sigma``."""
    sd2 = sigma_data**2
    s2 = sigma * sigma
    return EDMCoefficients(
        c_skip=sd2 / (s2 + sd2),
        c_out=sigma * sigma_data / torch.sqrt(s2 + sd2),
        c_in=1 / torch.sqrt(s2 + sd2),
        c_noise=torch.log(sigma) / 4,
    )


class EDMPrecond(nn.Module):
    """Wrap ``net(x_in, c_noise, **cond)`` as an x0-predictor for a tensor state on ``path``."""

    prediction = "x0"

    def __init__(self, net: nn.Module, path: GaussianPath, sigma_data: float = 0.5) -> None:
        super().__init__()
        self.net, self.path, self.sigma_data = net, path, sigma_data

    def forward(self, x: Tensor, t: Tensor, **cond) -> Tensor:
        alpha = self.path.alpha(t)
        s = self.path.sigma(t) / alpha
        c = edm_coefficients(s, self.sigma_data)
        xs = x / append_dims(alpha, x.ndim)
        f = self.net(append_dims(c.c_in, x.ndim) * xs, c.c_noise, **cond)
        return append_dims(c.c_skip, x.ndim) * xs + append_dims(c.c_out, x.ndim) * f
