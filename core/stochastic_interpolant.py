"""Stochastic interpolants between two arbitrary laws (Albergo, Boffi & Vanden-Eijnden 2023).

"Stochastic interpolants: a unifying framework for flows and diffusions" (arXiv:2303.08797).
The interpolant is x_t = I(t, x_data, x_base) + gamma(t) z with z ~ N(0, I) independent of
the pair (x_data, x_base), here with I = a(t) x_data + b(t) x_base:

* ``linear``: a = 1 - t, b = t;  ``trig``: a = cos(pi t / 2), b = sin(pi t / 2)
  (the same names and coefficients as the core ``scorelab.Interpolant``);
* ``gamma``: ``"sqrt"`` gamma = sqrt(c t (1 - t)) (the paper's main choice, with c = 2),
  ``"quadratic"`` gamma = c t (1 - t), ``"zero"`` (a deterministic interpolant).

**Time convention.** Ours: t = 0 is the data (rho_data), t = 1 the base (rho_base, any law
given by samples, N(0, I) by default), as everywhere in scorelab. The paper runs the other
way: its x0 ~ rho_0 is our base, its x1 ~ rho_1 our data, and its time is tau = 1 - t. Its
velocity b is therefore minus ours: here b(x, t) = E[d x_t / dt | x_t = x] in OUR time.

The paper's quadratic objectives for the velocity, the denoiser and the score, in our time:

* velocity   L_b = E[ 1/2 |b(x_t, t)|^2 - (dI/dt + gamma'(t) z) . b(x_t, t) ]
* denoiser   L_eta = E[ 1/2 |eta(x_t, t)|^2 - z . eta(x_t, t) ],  score s = -eta / gamma
* score      L_s = E[ 1/2 |s(x_t, t)|^2 + gamma(t)^{-1} z . s(x_t, t) ]

Each is minimized by the conditional expectation of its target. With the sqrt gamma the
velocity target has gamma' ~ t^{-1/2} near the ends (infinite variance of L_b over uniform
t); ``antithetic=True`` (the paper's antithetic sampling) evaluates at x_t and at the
mirrored I - gamma z, which cancels that term to first order. With a Gaussian base N(0, I) and
gamma^2 = c t (1 - t) the interpolant is the core path ``Interpolant(kind, gamma=c)``.
Losses sum over coordinates (the paper's objective) and average over the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .broadcast import append_dims
from .paths.interpolant import Interpolant, interpolant_coefs

KINDS = Interpolant.KINDS
GAMMAS = ("sqrt", "quadratic", "zero")
VectorField = Callable[[Tensor, Tensor], Tensor]

# t (1 - t) is floored here inside gamma' for the sqrt gamma, so gamma' is finite at the
# ends (it multiplies z, and gamma = 0 there: with antithetic pairs the term cancels exactly)
_TINY = 1e-12


class StochasticInterpolant:
    """x_t = a(t) x_data + b(t) x_base + gamma(t) z; data at t = 0, base at t = 1."""

    def __init__(self, kind: str = "linear", gamma: str = "sqrt", gamma_scale: float = 1.0):
        if kind not in KINDS:
            raise ValueError(f"unknown interpolant kind {kind!r}; known: {', '.join(KINDS)}")
        if gamma not in GAMMAS:
            raise ValueError(f"unknown gamma {gamma!r}; known: {', '.join(GAMMAS)}")
        if not (math.isfinite(gamma_scale) and gamma_scale >= 0):
            raise ValueError(f"gamma_scale must be finite and >= 0, got {gamma_scale}")
        self.kind, self.gamma_kind, self.gamma_scale = kind, gamma, float(gamma_scale)

    def coefs(self, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(a, b, a', b') of I = a x_data + b x_base at times ``t``."""
        return interpolant_coefs(self.kind, t)

    def gamma(self, t: Tensor) -> Tensor:
        """gamma(t), zero at both ends."""
        c, u = self.gamma_scale, t * (1 - t)
        if self.gamma_kind == "sqrt":
            return torch.sqrt(c * u.clamp(min=0))
        if self.gamma_kind == "quadratic":
            return c * u
        return torch.zeros_like(t)

    def dgamma(self, t: Tensor) -> Tensor:
        """gamma'(t); for the sqrt gamma t (1 - t) is floored at 1e-12 (finite at the ends)."""
        c = self.gamma_scale
        if self.gamma_kind == "sqrt":
            return c * (1 - 2 * t) / (2 * torch.sqrt(c * (t * (1 - t)).clamp(min=_TINY)))
        if self.gamma_kind == "quadratic":
            return c * (1 - 2 * t)
        return torch.zeros_like(t)

    def dgamma_sq(self, t: Tensor) -> Tensor:
        """d(gamma^2)/dt, exact at the ends too (2 gamma gamma' without the 0 * inf there)."""
        c, u, du = self.gamma_scale, t * (1 - t), 1 - 2 * t
        if self.gamma_kind == "sqrt":
            return c * du
        if self.gamma_kind == "quadratic":
            return 2 * c * c * u * du
        return torch.zeros_like(t)

    def interpolate(self, x_data: Tensor, x_base: Tensor, t: Tensor, z: Tensor) -> Tensor:
        """x_t for a batch: inputs (B, ...), ``t`` (B,)."""
        a, b, _, _ = (append_dims(c, x_data.ndim) for c in self.coefs(t))
        return a * x_data + b * x_base + append_dims(self.gamma(t), x_data.ndim) * z

    def velocity_target(self, x_data: Tensor, x_base: Tensor, t: Tensor, z: Tensor) -> Tensor:
        """d x_t / dt = a' x_data + b' x_base + gamma' z, whose conditional mean is b."""
        _, _, da, db = (append_dims(c, x_data.ndim) for c in self.coefs(t))
        return da * x_data + db * x_base + append_dims(self.dgamma(t), x_data.ndim) * z

    def gaussian_path(self) -> Interpolant:
        """The core path with the same marginals given x_data when the base is N(0, I)."""
        if self.gamma_kind == "quadratic":
            raise ValueError(
                "gamma = c t (1 - t) has no core Interpolant path (it needs gamma^2 = c t (1 - t))"
            )
        c = self.gamma_scale if self.gamma_kind == "sqrt" else 0.0
        return Interpolant(self.kind, gamma=c)

    def __repr__(self) -> str:
        return (
            f"StochasticInterpolant(kind={self.kind!r}, gamma={self.gamma_kind!r}, "
            f"gamma_scale={self.gamma_scale})"
        )


def score_from_denoiser(eta: VectorField, interpolant: StochasticInterpolant) -> VectorField:
    """The score s = -eta / gamma of a denoiser eta(x, t) ~ E[z | x_t = x] (raises at gamma = 0)."""

    def score(x: Tensor, t: Tensor) -> Tensor:
        g = interpolant.gamma(t)
        if bool((g <= 0).any()):
            raise ValueError(
                "the score -eta/gamma is singular where gamma(t) = 0 (t = 0 or 1); "
                "evaluate it strictly inside (0, 1)"
            )
        return -eta(x, t) / append_dims(g, x.ndim)

    return score


def gaussian_fields(
    interpolant: StochasticInterpolant,
    mean_data: Tensor,
    cov_data: Tensor,
    mean_base: Tensor,
    cov_base: Tensor,
) -> tuple[VectorField, VectorField]:
    """Exact (b, s) for independent x_data ~ N(m_d, C_d) and x_base ~ N(m_b, C_b) in R^d.

    x_t ~ N(mu_t, S_t) with mu_t = a m_d + b m_b, S_t = a^2 C_d + b^2 C_b + gamma^2 I, so
    s = -S_t^{-1} (x - mu_t); by Gaussian conditioning b = E[a' x_d + b' x_b + gamma' z | x_t]
    = mu_t' + (S_t' / 2) S_t^{-1} (x - mu_t), as Cov(dx_t/dt, x_t) = S_t' / 2.
    """
    eye = torch.eye(mean_data.shape[-1], dtype=mean_data.dtype)

    def moments(t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a, b, da, db = (c[:, None, None] for c in interpolant.coefs(t))
        g2, dg2 = interpolant.gamma(t)[:, None, None] ** 2, interpolant.dgamma_sq(t)[:, None, None]
        mu = a[..., 0] * mean_data + b[..., 0] * mean_base
        dmu = da[..., 0] * mean_data + db[..., 0] * mean_base
        cov = a * a * cov_data + b * b * cov_base + g2 * eye
        dcov = 2 * (a * da * cov_data + b * db * cov_base) + dg2 * eye
        return mu, dmu, cov, dcov

    def shared(t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        # a sampler's batch shares one time: factor the d x d system once, not per sample
        if t.ndim == 1 and t.numel() > 1 and bool((t == t[0]).all()):
            return tuple(m[:1] for m in moments(t[:1]))
        return moments(t)

    def velocity(x: Tensor, t: Tensor) -> Tensor:
        mu, dmu, cov, dcov = shared(t)
        return dmu + 0.5 * (dcov @ torch.linalg.solve(cov, (x - mu)[..., None]))[..., 0]

    def score(x: Tensor, t: Tensor) -> Tensor:
        mu, _, cov, _ = shared(t)
        return -torch.linalg.solve(cov, (x - mu)[..., None])[..., 0]

    return velocity, score


def _check_pair(x_data: Tensor, x_base: Tensor | None, generator: torch.Generator | None):
    if not isinstance(x_data, Tensor) or x_data.ndim < 2:
        raise ValueError(f"x_data must be a (B, ...) tensor, got {getattr(x_data, 'shape', None)}")
    if not bool(torch.isfinite(x_data).all()):
        raise ValueError("x_data has NaN or inf values")
    if x_base is None:
        return torch.randn(
            x_data.shape, generator=generator, dtype=x_data.dtype, device=x_data.device
        )
    if x_base.shape != x_data.shape:
        raise ValueError(
            f"x_base must have x_data's shape {tuple(x_data.shape)}, got {tuple(x_base.shape)}"
        )
    if not bool(torch.isfinite(x_base).all()):
        raise ValueError("x_base has NaN or inf values")
    return x_base


class _InterpolantLoss:
    """Shared call: draw t ~ U[t_lo, t_hi] and z, build x_t, average a per-sample objective."""

    def __init__(
        self, interpolant: StochasticInterpolant, t_lo: float, t_hi: float, antithetic: bool
    ) -> None:
        if not 0.0 <= t_lo < t_hi <= 1.0:
            raise ValueError(f"need 0 <= t_lo < t_hi <= 1, got {t_lo}, {t_hi}")
        self.interpolant, self.t_lo, self.t_hi = interpolant, t_lo, t_hi
        self.antithetic = antithetic

    def _objective(self, model: VectorField, x_data, x_base, t, z) -> Tensor:
        raise NotImplementedError

    def per_sample(
        self,
        model: VectorField,
        x_data: Tensor,
        x_base: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The objective per sample, shape (B,) (summed over coordinates)."""
        x_base = _check_pair(x_data, x_base, generator)
        n, dt = x_data.shape[0], x_data.dtype
        t = self.t_lo + (self.t_hi - self.t_lo) * torch.rand(n, generator=generator, dtype=dt)
        z = torch.randn(x_data.shape, generator=generator, dtype=dt)
        out = self._objective(model, x_data, x_base, t, z)
        if self.antithetic:
            out = 0.5 * (out + self._objective(model, x_data, x_base, t, -z))
        return out

    def __call__(
        self,
        model: VectorField,
        x_data: Tensor,
        x_base: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Mean objective over the batch (a scalar); x_base ~ N(0, I) when None."""
        return self.per_sample(model, x_data, x_base, generator).mean()


def _dot(u: Tensor, v: Tensor) -> Tensor:
    return (u * v).flatten(1).sum(1)


def _call(model: VectorField, x: Tensor, t: Tensor) -> Tensor:
    out = model(x, t)
    if out.shape != x.shape:
        raise ValueError(f"model output has shape {tuple(out.shape)}, x_t has {tuple(x.shape)}")
    return out


class VelocityLoss(_InterpolantLoss):
    """L_b = E[1/2 |b|^2 - (dI/dt + gamma' z) . b]; minimized by the velocity b (our time)."""

    def __init__(
        self,
        interpolant: StochasticInterpolant,
        t_lo: float = 0.0,
        t_hi: float = 1.0,
        antithetic: bool = True,
    ) -> None:
        super().__init__(interpolant, t_lo, t_hi, antithetic)

    def _objective(self, model, x_data, x_base, t, z):
        si = self.interpolant
        xt = si.interpolate(x_data, x_base, t, z)
        b = _call(model, xt, t)
        return 0.5 * _dot(b, b) - _dot(si.velocity_target(x_data, x_base, t, z), b)


class DenoiserLoss(_InterpolantLoss):
    """L_eta = E[1/2 |eta|^2 - z . eta]; minimized by eta = E[z | x_t], the score is -eta/gamma."""

    def __init__(
        self,
        interpolant: StochasticInterpolant,
        t_lo: float = 1e-3,
        t_hi: float = 1 - 1e-3,
        antithetic: bool = False,
    ) -> None:
        super().__init__(interpolant, t_lo, t_hi, antithetic)

    def _objective(self, model, x_data, x_base, t, z):
        eta = _call(model, self.interpolant.interpolate(x_data, x_base, t, z), t)
        return 0.5 * _dot(eta, eta) - _dot(z, eta)


class ScoreLoss(_InterpolantLoss):
    """L_s = E[1/2 |s|^2 + z . s / gamma]; minimized by the score (needs gamma > 0 inside)."""

    def __init__(
        self,
        interpolant: StochasticInterpolant,
        t_lo: float = 1e-3,
        t_hi: float = 1 - 1e-3,
        antithetic: bool = False,
    ) -> None:
        if interpolant.gamma_kind == "zero" or interpolant.gamma_scale == 0:
            raise ValueError("the score objective needs gamma > 0 (got a zero gamma)")
        if t_lo <= 0 or t_hi >= 1:
            raise ValueError(f"the score objective needs 0 < t_lo < t_hi < 1, got {t_lo}, {t_hi}")
        super().__init__(interpolant, t_lo, t_hi, antithetic)

    def _objective(self, model, x_data, x_base, t, z):
        si = self.interpolant
        s = _call(model, si.interpolate(x_data, x_base, t, z), t)
        return 0.5 * _dot(s, s) + _dot(z, s) / si.gamma(t)


__all__ = [
    "GAMMAS",
    "KINDS",
    "DenoiserLoss",
    "ScoreLoss",
    "StochasticInterpolant",
    "VelocityLoss",
    "gaussian_fields",
    "score_from_denoiser",
]
