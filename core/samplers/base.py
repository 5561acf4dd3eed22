"""What every sampler shares: input checks, the step loop, noise injection, NFE counting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..parameterization import predict
from ..paths.base import GaussianPath
from ..state import MaskLike, PathLike, Spec, State, first

NoiseFn = Callable[[State], State]
Callback = Callable[[dict[str, Any]], None]


@dataclass
class Context:
    """One sampler call's bound arguments, handed to its step function."""

    model: Any
    spec: Spec
    cond: dict[str, Any]
    generator: torch.Generator | None
    noise_fn: NoiseFn | None
    memo: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: State, t: Tensor, to: str) -> State:
        """The model's prediction at (x, t) as kind ``to`` (see ``parameterization.predict``)."""
        return predict(self.model, x, t, self.spec, to, **self.cond)

    def euler(self, x: State, u: State, dt: Tensor) -> State:
        """x + dt * u with u projected per field (padding and CoM stay fixed)."""
        return self.spec.map(lambda v, xf, uf: xf + dt * v.project(uf), x, u)

    def noise(self, x: State) -> State:
        """Projected standard noise shaped like ``x`` (from ``noise_fn`` when given)."""
        if self.noise_fn is not None:
            return self.spec.project(self.noise_fn(x))
        return self.spec.randn_like(x, self.generator)


Step = Callable[[Context, State, Tensor, Tensor, bool], State]


def check_grid(ts: Tensor, like: Tensor) -> Tensor:
    """Validate a decreasing 1-D time grid and move it to ``like``'s dtype and device."""
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(
            f"time grid must be 1-D with at least 2 times, got shape {tuple(ts.shape)}"
        )
    if not bool(torch.isfinite(ts).all()):
        raise ValueError("time grid has NaN or inf values")
    if not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError("time grid must be strictly decreasing (from t_max to t_min)")
    return ts.to(dtype=like.dtype, device=like.device)


def prepare(path: PathLike, x: State, mask: MaskLike, ts: Tensor) -> tuple[Spec, Tensor]:
    """Bind and check the state, then check the grid: every sampler's entry."""
    spec = Spec(path, x, mask)
    spec.check(x)
    return spec, check_grid(ts, first(x))


def step_range(n: int, progress: bool) -> Iterable[int]:
    """range(n), behind a tqdm "sampling" bar when ``progress``."""
    if not progress:
        return range(n)
    from tqdm.auto import tqdm

    return tqdm(range(n), desc="sampling", unit="step")


def run(
    step: Step,
    model: Any,
    x: State,
    ts: Tensor,
    path: PathLike,
    *,
    mask: MaskLike = None,
    cond: dict[str, Any] | None = None,
    generator: torch.Generator | None = None,
    noise_fn: NoiseFn | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> State:
    """Check inputs once, then apply ``step`` over consecutive pairs of the grid."""
    spec, ts = prepare(path, x, mask, ts)
    ctx = Context(model, spec, dict(cond or {}), generator, noise_fn)
    n = ts.numel() - 1
    # no autograd graph across steps (a model wrapper that needs gradients, e.g. guidance,
    # opens its own torch.enable_grad() block)
    with torch.no_grad():
        for i in step_range(n, progress):
            x = step(ctx, x, ts[i], ts[i + 1], i == n - 1)
            if callback is not None:
                callback({"i": i, "t": ts[i], "t_next": ts[i + 1], "x": x})
    return x


def sigma_is_zero(path: GaussianPath, t: Tensor) -> bool:
    """True where the path has no noise at ``t`` (a grid ending exactly at the data)."""
    return bool(path.sigma(t) == 0)


class CountNFE(torch.nn.Module):
    """Wrap a model and count its evaluations (one per batched call)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model, self.nfe = model, 0
        self.prediction = getattr(model, "prediction", None)

    def forward(self, x: State, t: Tensor, **cond: Any) -> State:
        self.nfe += 1
        return self.model(x, t, **cond)


__all__ = [
    "Context",
    "CountNFE",
    "check_grid",
    "prepare",
    "run",
    "sigma_is_zero",
    "step_range",
]
