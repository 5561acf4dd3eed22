"""The Gaussian path: x_t = alpha(t) x_0 + sigma(t) eps, the object every process in the core is.

Convention used throughout scorelab: ``t = t_min`` is (near) data and ``t = t_max``
is the prior; samplers integrate from ``t_max`` down to ``t_min``. Flow-matching
paths follow the same convention (x_t = (1 - t) x_data + t eps), so one sampler
serves diffusion and flow models.

The forward SDE with these marginals is dx = f(t) x dt + g(t) dW with
f = alpha'/alpha and g^2 = d(sigma^2)/dt - 2 f sigma^2 (Kingma et al. 2021,
eq. for general Gaussian diffusions); it reduces to the VP, sub-VP and VE SDEs of
Song et al. (2021) for their schedules.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..broadcast import append_dims


class GaussianPath:
    """Base class: subclasses define ``alpha``, ``sigma`` and their time derivatives.

    All methods take ``t`` as a tensor (any shape, usually (B,)) and return a tensor
    of the same shape, in ``t``'s dtype; use ``append_dims`` to meet data.
    """

    t_min: float = 0.0
    t_max: float = 1.0
    name: str = "gaussian"

    # --- schedule: subclasses override -------------------------------------------------
    def alpha(self, t: Tensor) -> Tensor:
        """Mean scale alpha(t) of x_t given x_0."""
        raise NotImplementedError

    def sigma(self, t: Tensor) -> Tensor:
        """Standard deviation sigma(t) of x_t given x_0."""
        raise NotImplementedError

    def dalpha(self, t: Tensor) -> Tensor:
        """Time derivative of alpha."""
        raise NotImplementedError

    def dsigma(self, t: Tensor) -> Tensor:
        """Time derivative of sigma."""
        raise NotImplementedError

    def time_range(
        self, t_lo: float | None = None, t_hi: float | None = None
    ) -> tuple[float, float]:
        """A sub-interval [t_lo, t_hi] of [t_min, t_max] (each end defaults to the path's)."""
        lo = self.t_min if t_lo is None else t_lo
        hi = self.t_max if t_hi is None else t_hi
        if not self.t_min <= lo < hi <= self.t_max:
            raise ValueError(
                f"need {self.t_min} <= t_lo < t_hi <= {self.t_max} (the path's range), "
                f"got {lo}, {hi}"
            )
        return float(lo), float(hi)

    def prior_std(self) -> float:
        """Std of the isotropic Gaussian prior at ``t_max`` (sigma(t_max) by default)."""
        return float(self.sigma(torch.tensor(self.t_max, dtype=torch.float64)))

    def schedule(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(alpha, sigma, alpha', sigma') at ``t`` in one call (paths may share work here)."""
        return self.alpha(t), self.sigma(t), self.dalpha(t), self.dsigma(t)

    # --- derived quantities ------------------------------------------------------------
    def log_snr(self, t: Tensor) -> Tensor:
        """lambda(t) = log(alpha / sigma), decreasing in t."""
        return torch.log(self.alpha(t)) - torch.log(self.sigma(t))

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """Inverse of ``log_snr`` by bisection on [t_min, t_max]; subclasses give closed forms."""
        lam = torch.as_tensor(lam)
        dtype = lam.dtype if lam.is_floating_point() else torch.float64
        lo = torch.full_like(lam, self.t_min, dtype=dtype)
        hi = torch.full_like(lam, self.t_max, dtype=dtype)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam  # still too clean: move right
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return 0.5 * (lo + hi)

    def noise_level(self, t: float | Tensor) -> Tensor:
        """EDM's noise level sigma/alpha at ``t`` (float64 for a float ``t``).

        Infinite where the signal is gone (alpha <= 1e-9 sigma: cos(pi/2) is 6e-17, not 0).
        """
        t = torch.as_tensor(t, dtype=torch.float64) if not isinstance(t, Tensor) else t
        a, s = self.alpha(t), self.sigma(t)
        return torch.where(a <= 1e-9 * s, torch.full_like(s, math.inf), s / a)

    def t_from_sigma_ratio(self, s: Tensor) -> Tensor:
        """Time at which the noise-to-signal ratio sigma/alpha equals ``s`` (EDM's sigma)."""
        return self.t_from_log_snr(-torch.log(torch.as_tensor(s)))

    def sde(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """(f(t), g(t)) of the forward SDE dx = f x dt + g dW, from one ``schedule`` call."""
        a, s, da, ds = self.schedule(t)
        f = da / a
        return f, torch.sqrt(torch.clamp(2 * s * ds - 2 * f * s * s, min=0.0))

    def drift_coef(self, t: Tensor) -> Tensor:
        """f(t) in the forward SDE drift f(t) x."""
        return self.sde(t)[0]

    def diffusion(self, t: Tensor) -> Tensor:
        """g(t), the forward SDE diffusion coefficient."""
        return self.sde(t)[1]

    def drift(self, x: Tensor, t: Tensor) -> Tensor:
        """Forward SDE drift f(t) x for ``x`` of shape (B, ...) and ``t`` of shape (B,)."""
        return append_dims(self.drift_coef(t), x.ndim) * x

    def marginal(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Sample x_t = alpha(t) x0 + sigma(t) noise."""
        a = append_dims(self.alpha(t), x0.ndim)
        s = append_dims(self.sigma(t), x0.ndim)
        return a * x0 + s * noise

    def transition(self, t: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        """Forward transition x_t | x_s = a x_s + sqrt(v) z for s < t: returns (a, v)."""
        (a_t, s_t, _, _), (a_s, s_s, _, _) = self.schedule(t), self.schedule(s)
        a = a_t / a_s
        return a, torch.clamp(s_t * s_t - a * a * s_s * s_s, min=0.0)

    def prior_sample(
        self, shape: tuple[int, ...], generator: torch.Generator | None = None, **kw
    ) -> Tensor:
        """Draw from the prior N(0, prior_std^2 I) at ``t_max``."""
        return self.prior_std() * torch.randn(shape, generator=generator, **kw)

    def prior_logp(
        self, x: Tensor, dims: Tensor | int | None = None, sqnorm: Tensor | None = None
    ) -> Tensor:
        """Log-density of the isotropic prior per sample, shape (B,).

        ``dims`` is the number of free dimensions per sample (defaults to all of them);
        masked or projected-out dimensions should be zero in ``x`` and left out of ``dims``.
        ``sqnorm`` is |x|^2 in the free coordinates when they are not the entries of ``x``
        (a symmetric matrix stores each free coordinate twice).
        """
        std = self.prior_std()
        if dims is None:
            dims = x[0].numel()
        sq = x.flatten(1).pow(2).sum(1) if sqnorm is None else sqnorm
        return -0.5 * sq / std**2 - torch.as_tensor(dims, dtype=x.dtype) * (
            math.log(std) + 0.5 * math.log(2 * math.pi)
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"
