"""Time proposals: how a loss draws one training time per sample.

Every proposal is called as ``proposal(n, path, generator=None, dtype=..., device=...)``
and returns ``n`` times in ``[path.t_min, path.t_max]`` (or the proposal's own bounds).
Any callable with that signature can stand in for these classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from .paths.base import GaussianPath
from .registry import Registry


def _bounds(path: GaussianPath, t_min: float | None, t_max: float | None) -> tuple[float, float]:
    lo = path.t_min if t_min is None else t_min
    hi = path.t_max if t_max is None else t_max
    if lo > hi:
        raise ValueError(f"need t_min <= t_max, got {lo} > {hi}")
    return float(lo), float(hi)


class TimeProposal:
    """Base: subclasses map standard draws to times in ``_times``."""

    def __call__(
        self,
        n: int,
        path: GaussianPath,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Draw ``n`` times, shape (n,)."""
        return self._times(n, path, dict(generator=generator, dtype=dtype, device=device))

    def _times(self, n: int, path: GaussianPath, kw: dict) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:  # fields left at None (the path's bounds) are omitted
        args = [f"{f.name}={getattr(self, f.name)}" for f in fields(self)]
        return f"{type(self).__name__}({', '.join(a for a in args if not a.endswith('=None'))})"


@dataclass(frozen=True, repr=False)
class UniformTime(TimeProposal):
    """t ~ U[t_min, t_max]; bounds default to the path's (equal bounds give a fixed time)."""

    t_min: float | None = None
    t_max: float | None = None

    def __post_init__(self) -> None:
        if self.t_min is not None and self.t_max is not None and self.t_min > self.t_max:
            raise ValueError(f"need t_min <= t_max, got {self.t_min} > {self.t_max}")

    def _times(self, n: int, path: GaussianPath, kw: dict) -> Tensor:
        lo, hi = _bounds(path, self.t_min, self.t_max)
        return lo + (hi - lo) * torch.rand(n, **kw)


@dataclass(frozen=True, repr=False)
class LogNormalSigma(TimeProposal):
    """EDM's proposal (Karras et al. 2022): ln(sigma/alpha) ~ N(p_mean, p_std^2).

    The noise-to-signal ratio is mapped to a time with ``path.t_from_sigma_ratio`` and
    clamped to ``[path.t_min, path.t_max]``, so on a path with a narrower range than EDM's
    the tails pile up at the ends.
    """

    p_mean: float = -1.2
    p_std: float = 1.2

    def __post_init__(self) -> None:
        if self.p_std <= 0:
            raise ValueError(f"p_std must be > 0, got {self.p_std}")

    def _times(self, n: int, path: GaussianPath, kw: dict) -> Tensor:
        ratio = torch.exp(self.p_mean + self.p_std * torch.randn(n, **kw))
        t = path.t_from_sigma_ratio(ratio).to(kw["dtype"])
        return t.clamp(min=path.t_min, max=path.t_max)


@dataclass(frozen=True, repr=False)
class LogitNormalTime(TimeProposal):
    """SD3's proposal for flow matching (Esser et al. 2024): t = sigmoid(N(mean, std^2)).

    The unit interval is mapped linearly onto ``[t_min, t_max]`` (defaults: the path's).
    """

    mean: float = 0.0
    std: float = 1.0
    t_min: float | None = None
    t_max: float | None = None

    def __post_init__(self) -> None:
        if self.std <= 0:
            raise ValueError(f"std must be > 0, got {self.std}")

    def _times(self, n: int, path: GaussianPath, kw: dict) -> Tensor:
        lo, hi = _bounds(path, self.t_min, self.t_max)
        return lo + (hi - lo) * torch.sigmoid(self.mean + self.std * torch.randn(n, **kw))


@dataclass(frozen=True, repr=False)
class LogLogisticSigma(TimeProposal):
    """BESO's proposal (Reuss et al. 2023): ln(sigma/alpha) ~ Logistic(loc, scale), truncated.

    ``loc`` defaults to ln 0.5 (EDM's sigma_data). The draw is an inverse-CDF sample
    restricted to ``[sigma_min, sigma_max]`` (defaults: the path's noise-level range), so
    nothing piles up at the bounds; the noise level is mapped to a time with
    ``path.t_from_sigma_ratio``.
    """

    loc: float = math.log(0.5)
    scale: float = 0.5
    sigma_min: float | None = None
    sigma_max: float | None = None

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        lo, hi = self.sigma_min, self.sigma_max
        if (lo is not None and lo <= 0) or (lo is not None and hi is not None and lo >= hi):
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {lo}, {hi}")

    def cdf(self, sigma: Tensor) -> Tensor:
        """The untruncated CDF of sigma."""
        return torch.sigmoid((torch.log(sigma) - self.loc) / self.scale)

    def _times(self, n: int, path: GaussianPath, kw: dict) -> Tensor:
        lo = path.noise_level(path.t_min) if self.sigma_min is None else self.sigma_min
        hi = path.noise_level(path.t_max) if self.sigma_max is None else self.sigma_max
        # a noise-only end (infinite level) gives the untruncated tail: cdf(inf) = 1
        c_lo, c_hi = (self.cdf(torch.as_tensor(v, dtype=torch.float64)) for v in (lo, hi))
        u = c_lo + (c_hi - c_lo) * torch.rand(n, dtype=torch.float64, generator=kw["generator"])
        u = u.to(kw["device"]) if kw["device"] is not None else u
        log_sigma = self.loc + self.scale * torch.logit(u.clamp(1e-12, 1 - 1e-12))
        t = path.t_from_sigma_ratio(torch.exp(log_sigma)).to(kw["dtype"])
        return t.clamp(min=path.t_min, max=path.t_max)


TIME_PROPOSALS: Registry[type] = Registry("time proposal")
TIME_PROPOSALS.register("uniform")(UniformTime)
TIME_PROPOSALS.register("lognormal")(LogNormalSigma)
TIME_PROPOSALS.register("loglogistic")(LogLogisticSigma)
TIME_PROPOSALS.register("logit_normal")(LogitNormalTime)


def get_time_proposal(name: str, **kwargs) -> TimeProposal:
    """Build a time proposal by name: uniform, lognormal, loglogistic, logit_normal (kwargs)."""
    return TIME_PROPOSALS.get(name)(**kwargs)


__all__ = [
    "TIME_PROPOSALS",
    "LogLogisticSigma",
    "LogNormalSigma",
    "LogitNormalTime",
    "TimeProposal",
    "UniformTime",
    "get_time_proposal",
]
