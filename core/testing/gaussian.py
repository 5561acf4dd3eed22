"""Gaussian and Gaussian-mixture targets with closed-form scores under every path.

Under a Gaussian path x_t = alpha x0 + sigma eps, a mixture sum_k pi_k N(mu_k, S_k)
stays a mixture with components N(alpha mu_k, alpha^2 S_k + sigma^2 I). Each S_k is
held by its eigendecomposition U diag(lam) U^T, in which the noised covariance is
diagonal, so scores, denoisers and log-densities at per-sample times cost O(B K d^2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..broadcast import append_dims
from ..parameterization import Predictor, from_x0_eps
from ..paths.base import GaussianPath


class GaussianMixture:
    """Mixture of full-covariance Gaussians in R^d: weights (K,), means (K, d), covs (K, d, d)."""

    def __init__(self, weights: Tensor, means: Tensor, covs: Tensor) -> None:
        weights, means, covs = (torch.as_tensor(v) for v in (weights, means, covs))
        if (
            means.ndim != 2
            or covs.shape != means.shape + means.shape[-1:]
            or weights.shape != means.shape[:1]
        ):
            raise ValueError(
                f"need weights (K,), means (K, d), covs (K, d, d); got {tuple(weights.shape)}, "
                f"{tuple(means.shape)}, {tuple(covs.shape)}"
            )
        if (weights < 0).any() or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-6):
            raise ValueError("mixture weights must be non-negative and sum to 1")
        self.weights, self.means, self.covs = weights, means, 0.5 * (covs + covs.transpose(-1, -2))
        self.lam, self.U = torch.linalg.eigh(self.covs)
        if (self.lam < -1e-10).any():
            raise ValueError("component covariances must be positive semi-definite")
        self.lam = self.lam.clamp(min=0.0)

    # --- construction ------------------------------------------------------------------
    @classmethod
    def gaussian(cls, mean: Tensor, cov: Tensor) -> GaussianMixture:
        """A single Gaussian N(mean, cov)."""
        mean = torch.as_tensor(mean)
        return cls(torch.ones(1, dtype=mean.dtype), mean[None], torch.as_tensor(cov)[None])

    @classmethod
    def ring(
        cls, k: int = 8, radius: float = 2.0, std: float = 0.25, dtype: torch.dtype = torch.float64
    ) -> GaussianMixture:
        """An equal-weight ring of ``k`` isotropic 2-D Gaussians of std ``std`` at ``radius``."""
        ang = torch.arange(k, dtype=dtype) * 2 * math.pi / k
        means = radius * torch.stack([ang.cos(), ang.sin()], 1)
        covs = std**2 * torch.eye(2, dtype=dtype).expand(k, 2, 2)
        return cls(torch.full((k,), 1 / k, dtype=dtype), means, covs)

    @classmethod
    def random(
        cls,
        dim: int,
        components: int = 4,
        *,
        spread: float = 2.0,
        scale: float = 0.3,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> GaussianMixture:
        """A random well-separated mixture: means ~ spread * N(0, I), anisotropic covariances."""
        g = torch.Generator().manual_seed(seed)
        means = spread * torch.randn(components, dim, generator=g, dtype=dtype)
        q, _ = torch.linalg.qr(torch.randn(components, dim, dim, generator=g, dtype=dtype))
        lam = scale**2 * torch.exp(0.5 * torch.randn(components, dim, generator=g, dtype=dtype))
        covs = q @ torch.diag_embed(lam) @ q.transpose(-1, -2)
        w = torch.rand(components, generator=g, dtype=dtype) + 0.5
        return cls(w / w.sum(), means, covs)

    @property
    def dim(self) -> int:
        """Dimension d."""
        return self.means.shape[1]

    def to(self, dtype: torch.dtype) -> GaussianMixture:
        """The same mixture in another dtype."""
        return GaussianMixture(self.weights.to(dtype), self.means.to(dtype), self.covs.to(dtype))

    # --- the target itself ---------------------------------------------------------------
    def mean(self) -> Tensor:
        """Mixture mean (d,)."""
        return self.weights @ self.means

    def cov(self) -> Tensor:
        """Mixture covariance (d, d)."""
        m = self.mean()
        d = self.means - m
        return (self.weights[:, None, None] * (self.covs + d[:, :, None] * d[:, None, :])).sum(0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n samples, shape (n, d)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        return self.means[k] + torch.einsum("nij,nj->ni", self.U[k], self.lam[k].sqrt() * z)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at x (n, d)."""
        zero = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        return self._posterior(x, 1.0 + zero, zero, need="logp")  # alpha = 1, sigma = 0

    # --- under a path --------------------------------------------------------------------
    def marginal(self, path: GaussianPath, t: float) -> GaussianMixture:
        """The noised marginal p_t as a mixture."""
        tt = torch.tensor(t, dtype=self.means.dtype)
        a, s = path.alpha(tt), path.sigma(tt)
        eye = torch.eye(self.dim, dtype=self.means.dtype)
        return GaussianMixture(self.weights, a * self.means, a * a * self.covs + s * s * eye)

    def _posterior(self, x: Tensor, a: Tensor, s: Tensor, need: str) -> Tensor:
        """Shared closed form; ``a``, ``s`` are (n,) alpha and sigma."""
        x = x.to(self.means.dtype)
        a, s = a.to(x.dtype)[:, None, None], s.to(x.dtype)[:, None, None]  # (n, 1, 1)
        y = torch.einsum("kji,nkj->nki", self.U, x[:, None, :] - a * self.means[None])
        var = a * a * self.lam[None] + s * s  # (n, K, d), diagonal in each eigenbasis
        logn = -0.5 * (y * y / var + torch.log(2 * math.pi * var)).sum(-1)
        logw = torch.log(self.weights)[None] + logn
        if need == "logp":
            return torch.logsumexp(logw, dim=1)
        r = torch.softmax(logw, dim=1)[..., None]  # responsibilities (n, K, 1)
        if need == "score":
            return -torch.einsum("kij,nkj->ni", self.U, r * y / var)
        return torch.einsum("nk,ki->ni", r[..., 0], self.means) + torch.einsum(
            "kij,nkj->ni", self.U, r * a * self.lam[None] * y / var
        )

    def _times(self, x: Tensor, t: float | Tensor, path: GaussianPath) -> tuple[Tensor, Tensor]:
        t = torch.as_tensor(t, dtype=self.means.dtype)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t.to(self.means.dtype)
        return path.alpha(t), path.sigma(t)

    def score(self, x: Tensor, t: float | Tensor, path: GaussianPath) -> Tensor:
        """grad_x log p_t(x), exact; x (n, d), t scalar or (n,)."""
        return self._posterior(x, *self._times(x, t, path), need="score")

    def x0(self, x: Tensor, t: float | Tensor, path: GaussianPath) -> Tensor:
        """E[x0 | x_t = x], exact."""
        return self._posterior(x, *self._times(x, t, path), need="x0")

    def log_prob_t(self, x: Tensor, t: float | Tensor, path: GaussianPath) -> Tensor:
        """log p_t(x), exact."""
        return self._posterior(x, *self._times(x, t, path), need="logp")

    def _flow_gain(self, path: GaussianPath, t: Tensor, s: Tensor) -> Tensor:
        """Per-eigendirection gain (..., d) of the PF-ODE flow from t to s (single Gaussian)."""
        if len(self.weights) != 1:
            raise ValueError("the PF-ODE flow is closed-form for a single Gaussian only")
        lam = self.lam[0]
        (a_t, s_t), (a_s, s_s) = (
            (path.alpha(u)[..., None], path.sigma(u)[..., None]) for u in (t, s)
        )
        return torch.sqrt(a_s**2 * lam + s_s**2) / torch.sqrt(a_t**2 * lam + s_t**2)

    def flow_map(
        self, path: GaussianPath, x: Tensor, t: float | Tensor, s: float | Tensor
    ) -> Tensor:
        """Exact PF-ODE flow map x_t -> x_s for a single Gaussian; t, s scalars or (n,).

        For one Gaussian component the PF-ODE keeps (x_t - alpha_t mu) / sqrt(alpha_t^2 lam
        + sigma_t^2) constant in each eigendirection, so the flow is affine in x.
        """
        x = x.to(self.means.dtype)
        t, s = (torch.as_tensor(u, dtype=x.dtype).expand(x.shape[0]) for u in (t, s))
        u, mu = self.U[0], self.means[0]
        a_t, a_s = path.alpha(t)[:, None], path.alpha(s)[:, None]
        return a_s * mu + (self._flow_gain(path, t, s) * ((x - a_t * mu) @ u)) @ u.T

    def ode_pushforward(
        self, path: GaussianPath, t_from: float, t_to: float, prior_std: float
    ) -> tuple[Tensor, Tensor]:
        """Exact law (mean, cov) of the PF-ODE solution from N(0, prior_std^2 I) at ``t_from``.

        The pushforward of the prior through ``flow_map``: the exact answer an ODE sampler
        converges to, prior mismatch included.
        """
        tt = torch.tensor([t_from, t_to], dtype=self.means.dtype)
        r = self._flow_gain(path, tt[0], tt[1])
        u = self.U[0]
        mean = self.flow_map(path, torch.zeros(1, self.dim, dtype=self.means.dtype), t_from, t_to)
        return mean[0], u @ torch.diag(r * r * prior_std**2) @ u.T

    def predictor(self, path: GaussianPath, prediction: str = "x0") -> Predictor:
        """The exact model as a ``Predictor`` of any kind, in the input's dtype."""
        return Predictor(_ExactNet(self, path, prediction), prediction)


class _ExactNet(torch.nn.Module):
    def __init__(self, target: GaussianMixture, path: GaussianPath, kind: str) -> None:
        super().__init__()
        self.target, self.path, self.kind = target, path, kind

    def forward(self, x: Tensor, t: Tensor, **_) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        a = append_dims(self.path.alpha(t).to(x.dtype), 2)
        s = append_dims(self.path.sigma(t).to(x.dtype), 2)
        if self.kind in ("score", "eps"):  # from the score: exact at small sigma
            eps = -s * self.target.score(flat, t, self.path).to(x.dtype)
            x0 = (flat - s * eps) / a
        else:  # from the denoiser: exact where alpha -> 0
            x0 = self.target.x0(flat, t, self.path).to(x.dtype)
            eps = (flat - a * x0) / s
        return from_x0_eps(x0, eps, self.kind, flat, t.to(x.dtype), self.path).reshape(x.shape)
