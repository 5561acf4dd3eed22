"""Exact laws: mixture posteriors under linear measurements, SDEdit's law, products of Gaussians.

With y = A x + n, n ~ N(0, s^2 I) and p(x) = sum_k pi_k N(m_k, C_k), the posterior is again a
mixture. Per component, in the Kalman (Woodbury) form that allows singular C_k:

    S_k  = A C_k A^T + s^2 I,          K_k = C_k A^T S_k^-1,
    m_k' = m_k + K_k (y - A m_k),       C_k' = (I - K_k A) C_k (I - K_k A)^T + s^2 K_k K_k^T,
    pi_k' proportional to pi_k N(y; A m_k, S_k)      (normalized in log space).

C_k' is written in Joseph form, which equals C_k - K_k A C_k = (C_k^-1 + A^T A / s^2)^-1 but
stays symmetric positive semi-definite in floating point.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..paths.base import GaussianPath
from .gaussian import GaussianMixture


def _check(prior: GaussianMixture, a: Tensor, y: Tensor, noise_std: float) -> tuple[Tensor, Tensor]:
    dtype = prior.means.dtype
    a, y = torch.as_tensor(a, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    if a.ndim != 2 or a.shape[1] != prior.dim:
        raise ValueError(f"A must have shape (m, {prior.dim}), got {tuple(a.shape)}")
    if y.ndim not in (1, 2) or y.shape[-1] != a.shape[0]:
        m = a.shape[0]
        raise ValueError(f"y must have shape ({m},) or (n, {m}), got {tuple(y.shape)}")
    if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(y).all())):
        raise ValueError("A and y must be finite (no NaN or inf)")
    if not (math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std must be finite and >= 0, got {noise_std}")
    return a, y


def linear_gaussian_posterior(
    prior: GaussianMixture, A: Tensor, y: Tensor, noise_std: float
) -> GaussianMixture | list[GaussianMixture]:
    """Exact posterior p(x | y) for y = A x + N(0, noise_std^2 I); a list for a batch y (n, m)."""
    a, y = _check(prior, A, y, float(noise_std))
    m = a.shape[0]
    eye_m = torch.eye(m, dtype=a.dtype)
    covs, means = prior.covs, prior.means
    s = a @ covs @ a.T + noise_std**2 * eye_m  # (K, m, m)
    try:
        chol = torch.linalg.cholesky(s)
    except RuntimeError as err:  # torch raises LinAlgError, a RuntimeError subclass
        raise ValueError(
            "A C_k A^T + noise_std^2 I is singular for some component: use noise_std > 0"
        ) from err
    ca = covs @ a.T  # (K, d, m)
    gain = torch.cholesky_solve(ca.transpose(-1, -2), chol).transpose(-1, -2)  # C A^T S^-1
    ika = torch.eye(prior.dim, dtype=a.dtype) - gain @ a
    post_covs = ika @ covs @ ika.transpose(-1, -2) + noise_std**2 * gain @ gain.transpose(-1, -2)

    batched = y.ndim == 2
    yb = y if batched else y[None]  # (n, m)
    resid = yb[:, None, :] - means @ a.T  # (n, K, m)
    post_means = means + torch.einsum("kdm,nkm->nkd", gain, resid)
    white = torch.linalg.solve_triangular(chol, resid[..., None], upper=False)[..., 0]
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
    logn = -0.5 * (white.pow(2).sum(-1) + logdet + m * math.log(2 * math.pi))
    logw = torch.log(prior.weights) + logn
    weights = torch.softmax(logw, dim=-1)
    out = [GaussianMixture(weights[i], post_means[i], post_covs) for i in range(yb.shape[0])]
    return out if batched else out[0]


def sdedit_law(
    target: GaussianMixture, path: GaussianPath, x_in: Tensor, t0: float, t_end: float | None = None
) -> tuple[Tensor, Tensor]:
    """Exact law (mean, cov) of SDEdit's output for one input and a single-Gaussian target.

    SDEdit draws x_t0 ~ N(alpha_t0 x_in, sigma_t0^2 I) and samples p(x_s | x_t0) exactly (a
    reverse SDE with the exact score) at s = ``t_end`` (default ``path.t_min``). (x_s, x_t)
    is jointly Gaussian with Cov(x_t, x_s) = (a_t / a_s) S_s, so x_s | x_t = N(a_s m + K (x_t -
    a_t m), S_s - (a_t / a_s) K S_s) with K = (a_t / a_s) S_s S_t^-1; averaging over x_t adds
    K (sigma_t^2 I) K^T to the covariance.
    """
    if len(target.weights) != 1:
        raise ValueError("the SDEdit law is closed-form for a single Gaussian only")
    m, c = target.means[0], target.covs[0]
    tt = torch.tensor([t0, path.t_min if t_end is None else t_end], dtype=m.dtype)
    (a_t, a_s), (s_t, s_s) = path.alpha(tt), path.sigma(tt)
    eye = torch.eye(m.numel(), dtype=m.dtype)
    ss, st = a_s**2 * c + s_s**2 * eye, a_t**2 * c + s_t**2 * eye
    k = (a_t / a_s) * ss @ torch.linalg.inv(st)
    mean = a_s * m + k @ (a_t * x_in.to(m.dtype) - a_t * m)
    return mean, ss - (a_t / a_s) * k @ ss + s_t**2 * k @ k.T


def geometric_gaussian(
    gaussians: list[GaussianMixture], exponents: list[float], path: GaussianPath, t: float
) -> tuple[Tensor, Tensor]:
    """Mean and covariance of prod_i p_i,t ** beta_i for single Gaussians p_i noised to ``t``.

    A power and a product of Gaussians is Gaussian: precision sum_i beta_i P_i, mean
    C sum_i beta_i P_i m_i (the exact target of annealing, products of experts and CFG).
    """
    ms, precs = [], []
    for g in gaussians:
        if len(g.weights) != 1:
            raise ValueError("geometric_gaussian takes single Gaussians only")
        pm = g.marginal(path, t)
        ms.append(pm.means[0])
        precs.append(torch.linalg.inv(pm.covs[0]))
    cov = torch.linalg.inv(sum(b * p for b, p in zip(exponents, precs)))
    mean = cov @ sum(b * p @ m for b, p, m in zip(exponents, precs, ms))
    return mean, 0.5 * (cov + cov.T)


__all__ = ["geometric_gaussian", "linear_gaussian_posterior", "sdedit_law"]
