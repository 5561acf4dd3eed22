"""The exact Bayes noise-level estimator t_hat(x) for a Gaussian mixture under a path.

Denoising MCMC (Kim & Ye 2022) alternates Langevin steps on x at a noise level t with an
update t <- t_hat(x) from a noise-level estimator (their CIFAR-10 classifier over 1000
discrete sigma levels). For a ``GaussianMixture`` target the posterior of the time given a
noisy point is known in closed form up to a 1-D normalisation,

    p(t | x) ∝ p_t(x) u(t),  u uniform on [t_lo, t_hi],

computed here on a fine grid of times with ``GaussianMixture.log_prob_t``. The estimate is
the posterior mean (the minimiser of the squared-error loss ``noise_level_loss`` regresses
on, so a trained estimator converges to it), the posterior mode (the paper's argmax over a
classifier's levels), or a draw from the posterior (an exact Gibbs update of t).

Time convention: scorelab's, t = t_min is data and t = t_max the prior.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_int
from ..paths.base import GaussianPath
from .gaussian import GaussianMixture

ESTIMATES = ("mean", "mode", "sample")


class ExactNoiseLevel:
    """Callable ``(x) -> t`` of shape (B,): the exact posterior mean, mode or draw of t given x.

    ``levels`` times uniform in t on ``[t_lo, t_hi]`` (default the path's range) carry the
    uniform prior; ``chunk`` bounds the rows evaluated at once (memory B * levels * K * d).
    """

    def __init__(
        self,
        target: GaussianMixture,
        path: GaussianPath,
        *,
        estimate: str = "mean",
        levels: int = 512,
        t_lo: float | None = None,
        t_hi: float | None = None,
        generator: torch.Generator | None = None,
        chunk: int = 1 << 18,
    ) -> None:
        if estimate not in ESTIMATES:
            raise ValueError(f"unknown estimate {estimate!r}; known: {', '.join(ESTIMATES)}")
        check_int(levels, "levels", 2)
        lo, hi = path.time_range(t_lo, t_hi)
        self.target, self.path, self.estimate = target, path, estimate
        self.generator, self.chunk = generator, int(chunk)
        self.times = torch.linspace(lo, hi, int(levels), dtype=target.means.dtype)

    def log_posterior(self, x: Tensor) -> Tensor:
        """Normalised log p(t_j | x) over the grid ``self.times``, shape (B, levels)."""
        if x.ndim != 2 or x.shape[1] != self.target.dim:
            raise ValueError(f"x must have shape (B, {self.target.dim}), got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x has NaN or inf values")
        x = x.to(self.times.dtype)
        b, m = x.shape[0], self.times.numel()
        rows = max(1, self.chunk // m)
        out = []
        for s in range(0, b, rows):
            xs = x[s : s + rows]
            n = xs.shape[0]
            flat = xs.repeat_interleave(m, dim=0)
            tt = self.times.repeat(n)
            out.append(self.target.log_prob_t(flat, tt, self.path).reshape(n, m))
        logp = torch.cat(out)
        return logp - torch.logsumexp(logp, dim=1, keepdim=True)

    def __call__(self, x: Tensor) -> Tensor:
        logq = self.log_posterior(x)
        if self.estimate == "mean":
            t = logq.exp() @ self.times
        elif self.estimate == "mode":
            t = self.times[logq.argmax(dim=1)]
        else:
            idx = torch.multinomial(logq.exp(), 1, generator=self.generator)[:, 0]
            t = self.times[idx]
        return t.to(x.dtype)

    def __repr__(self) -> str:
        return (
            f"ExactNoiseLevel(estimate={self.estimate!r}, levels={self.times.numel()}, "
            f"t=[{float(self.times[0]):g}, {float(self.times[-1]):g}])"
        )


__all__ = ["ESTIMATES", "ExactNoiseLevel"]
