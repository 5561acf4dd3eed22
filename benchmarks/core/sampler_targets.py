"""Targets of the sampler benchmark and the exact output laws of samplers on them.

``make_targets`` builds the four exact targets of ``benchmarks.core.samplers`` (an anisotropic
Gaussian and a random Gaussian mixture, each in d = 2 and d = 64, float64), each a ``Target``
that carries its sample count and the empirical W2 estimator used where no exact law is known
(POT's exact W2 in d = 2, the sliced W2 in d = 64). ``DETERMINISTIC`` and ``AFFINE_NOISY``
name the samplers whose exact output law ``scorelab.testing.affine_pushforward`` /
``affine_noisy_pushforward`` give (affine in the prior draw, and in the injected noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from scorelab.distances import sliced_w2, w2_empirical
from scorelab.testing import GaussianMixture

F64 = torch.float64
DETERMINISTIC = {"euler", "heun", "ddim", "dpmpp_2m", "adaptive"}
AFFINE_NOISY = {"euler_maruyama", "reverse_diffusion", "ancestral"}
SLICED_PROJ = 256


# --- targets ------------------------------------------------------------------------------
@dataclass
class Target:
    """An exact target and the sample count used for empirical errors and timing."""

    name: str
    mix: GaussianMixture
    n: int

    @property
    def dim(self) -> int:
        return self.mix.dim

    @property
    def gaussian(self) -> bool:
        return len(self.mix.weights) == 1

    @property
    def estimator(self) -> str:
        return (
            f"POT W2, n={self.n}"
            if self.dim <= 2
            else f"sliced W2 ({SLICED_PROJ} dirs), n={self.n}"
        )

    def distance(self, x: Tensor, y: Tensor) -> float:
        return w2_empirical(x, y) if self.dim <= 2 else sliced_w2(x, y, n_proj=SLICED_PROJ)


def anisotropic_gaussian(dim: int, seed: int) -> GaussianMixture:
    """N(m, Q diag(lam) Q^T): m ~ N(0, I / 4), lam log-spaced in [0.01, 1], Q random orthogonal."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=F64))
    lam = torch.logspace(-2, 0, dim, dtype=F64)
    mean = 0.5 * torch.randn(dim, generator=g, dtype=F64)
    return GaussianMixture.gaussian(mean, q @ torch.diag(lam) @ q.T)


def make_targets(quick: bool) -> list[Target]:
    n2, n64 = (500, 1000) if quick else (2000, 10000)
    return [
        Target("gaussian-2d", anisotropic_gaussian(2, seed=1), n2),
        Target("gaussian-64d", anisotropic_gaussian(64, seed=2), n64),
        Target("gmm8-2d", GaussianMixture.random(2, 8, seed=3), n2),
        Target("gmm4-64d", GaussianMixture.random(64, 4, seed=4), n64),
    ]
