"""Time proposals: how a loss draws one training time per sample.

Every proposal is called as ``proposal(n, path, generator=None, dtype=..., device=...)``
and returns ``n`` times in ``[path.t_min, path.t_max]`` (or the proposal's own bounds).
Any callable with that signature can stand in for these classes.
"""

from __future__ import annotations

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


class UniformTime:
    """t ~ U[t_min, t_max]; bounds default to the path's (equal bounds give a fixed time)."""

    def __init__(self, t_min: float | None = None, t_max: float | None = None) -> None:
        if t_min is not None and t_max is not None and t_min > t_max:
            raise ValueError(f"need t_min <= t_max, got {t_min} > {t_max}")
        self.t_min, self.t_max = t_min, t_max

    def __call__(
        self,
        n: int,
        path: GaussianPath,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Draw ``n`` times, shape (n,)."""
        lo, hi = _bounds(path, self.t_min, self.t_max)
        u = torch.rand(n, generator=generator, dtype=dtype, device=device)
        return lo + (hi - lo) * u

    def __repr__(self) -> str:
        args = [
            f"{k}={v}" for k, v in (("t_min", self.t_min), ("t_max", self.t_max)) if v is not None
        ]
        return f"UniformTime({', '.join(args)})"


class LogNormalSigma:
    """EDM's proposal (Karras et al. 2022): ln(sigma/alpha) ~ N(p_mean, p_std^2).

    The noise-to-signal ratio is mapped to a time with ``path.t_from_sigma_ratio`` and
    clamped to ``[path.t_min, path.t_max]``, so on a path with a narrower range than EDM's
    the tails pile up at the ends.
    """

    def __init__(self, p_mean: float = -1.2, p_std: float = 1.2) -> None:
        if p_std <= 0:
            raise ValueError(f"p_std must be > 0, got {p_std}")
        self.p_mean, self.p_std = p_mean, p_std

    def __call__(
        self,
        n: int,
        path: GaussianPath,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Draw ``n`` times, shape (n,)."""
        z = torch.randn(n, generator=generator, dtype=dtype, device=device)
        ratio = torch.exp(self.p_mean + self.p_std * z)
        t = path.t_from_sigma_ratio(ratio).to(dtype)
        return t.clamp(min=path.t_min, max=path.t_max)

    def __repr__(self) -> str:
        return f"LogNormalSigma(p_mean={self.p_mean}, p_std={self.p_std})"


class LogitNormalTime:
    """SD3's proposal for flow matching (Esser et al. 2024): t = sigmoid(N(mean, std^2)).

    The unit interval is mapped linearly onto ``[t_min, t_max]`` (defaults: the path's).
    """

    def __init__(
        self,
        mean: float = 0.0,
        std: float = 1.0,
        t_min: float | None = None,
        t_max: float | None = None,
    ) -> None:
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.mean, self.std, self.t_min, self.t_max = mean, std, t_min, t_max

    def __call__(
        self,
        n: int,
        path: GaussianPath,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Draw ``n`` times, shape (n,)."""
        lo, hi = _bounds(path, self.t_min, self.t_max)
        z = torch.randn(n, generator=generator, dtype=dtype, device=device)
        return lo + (hi - lo) * torch.sigmoid(self.mean + self.std * z)

    def __repr__(self) -> str:
        args = [f"mean={self.mean}", f"std={self.std}"]
        args += [
            f"{k}={v}" for k, v in (("t_min", self.t_min), ("t_max", self.t_max)) if v is not None
        ]
        return f"LogitNormalTime({', '.join(args)})"


TIME_PROPOSALS: Registry[type] = Registry("time proposal")
TIME_PROPOSALS.register("uniform")(UniformTime)
TIME_PROPOSALS.register("lognormal")(LogNormalSigma)
TIME_PROPOSALS.register("logit_normal")(LogitNormalTime)


def get_time_proposal(name: str, **kwargs) -> UniformTime | LogNormalSigma | LogitNormalTime:
    """Build a time proposal by name: uniform, lognormal, logit_normal (kwargs to the class)."""
    return TIME_PROPOSALS.get(name)(**kwargs)


__all__ = [
    "TIME_PROPOSALS",
    "LogNormalSigma",
    "LogitNormalTime",
    "UniformTime",
    "get_time_proposal",
]
