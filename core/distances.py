"""Distances between sample sets and Gaussians, for checking samplers against targets."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def _sqrtm_psd(a: Tensor) -> Tensor:
    lam, u = torch.linalg.eigh(0.5 * (a + a.transpose(-1, -2)))
    return (u * lam.clamp(min=0).sqrt()[..., None, :]) @ u.transpose(-1, -2)


def gaussian_w2(m1: Tensor, c1: Tensor, m2: Tensor, c2: Tensor) -> float:
    """Exact 2-Wasserstein distance between N(m1, c1) and N(m2, c2)."""
    r2 = _sqrtm_psd(c2)
    cross = _sqrtm_psd(r2 @ c1 @ r2)
    w2sq = (m1 - m2).pow(2).sum() + torch.trace(c1 + c2 - 2 * cross)
    return math.sqrt(max(float(w2sq), 0.0))


def sliced_w2(x: Tensor, y: Tensor, n_proj: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance with ``n_proj`` random directions (fixed seed).

    Equal sample counts compare sorted projections exactly; unequal counts compare
    quantiles on a common grid.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"need (n, d) and (m, d) samples, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(x.shape[1], n_proj, generator=g, dtype=torch.float64)
    dirs /= dirs.norm(dim=0, keepdim=True)
    px, _ = torch.sort(x.double() @ dirs, dim=0)
    py, _ = torch.sort(y.double() @ dirs, dim=0)
    if px.shape[0] != py.shape[0]:
        q = torch.linspace(0, 1, max(px.shape[0], py.shape[0]), dtype=torch.float64)
        px, py = torch.quantile(px, q, dim=0), torch.quantile(py, q, dim=0)
    return float((px - py).pow(2).mean().sqrt())


def w2_empirical(x: Tensor, y: Tensor) -> float:
    """Exact empirical 2-Wasserstein distance by optimal transport (POT's EMD), uniform weights."""
    import ot

    xn, yn = x.double().cpu().numpy(), y.double().cpu().numpy()
    cost = ot.dist(xn, yn)  # squared Euclidean
    a, b = np.full(len(xn), 1 / len(xn)), np.full(len(yn), 1 / len(yn))
    return math.sqrt(max(float(ot.emd2(a, b, cost, numItermax=10_000_000)), 0.0))


def mmd_rbf(
    x: Tensor, y: Tensor, bandwidths: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
) -> float:
    """Squared MMD (unbiased U-statistic) with a sum of RBF kernels at ``bandwidths``."""
    x, y = x.double(), y.double()

    def k(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (2 * h * h)) for h in bandwidths)

    n, m = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


__all__ = ["gaussian_w2", "mmd_rbf", "sliced_w2", "w2_empirical"]
