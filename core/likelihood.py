"""Log-likelihood through the probability-flow ODE (Song et al. 2021; Chen et al. 2018).

Along the PF-ODE dx/dt = u(x, t) the log-density obeys d/dt log p_t(x_t) = -div u, so

    log p_{t_min}(x) = log p_{t_max}(x_{t_max}) + int_{t_min}^{t_max} div u(x_t, t) dt.

The state is integrated from t_min (data) to t_max (prior) jointly with the divergence
integral by ``torchdiffeq.odeint``. Fields live on their geometry: the velocity is projected
with ``Spec.project`` and the divergence is the trace of the projected Jacobian P J P, i.e.
taken over the free coordinates only (no padding, no centre-of-mass direction), which is
what makes the density one with respect to Lebesgue measure on the free subspace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from .parameterization import predict
from .samplers.adaptive import ADAPTIVE_METHODS
from .state import MaskLike, PathLike, Spec, State, flatten

DIVERGENCES = ("exact", "hutchinson")
_CHUNK = 64  # probe vectors per batched vector-Jacobian product
_CACHE_LIMIT = 2**24  # entries of the exact-divergence basis kept in memory


@dataclass(frozen=True)
class LikelihoodResult:
    """PF-ODE log-likelihood per sample (all (B,), nats, detached) and the solver's NFE."""

    logp: Tensor
    nll_per_dim: Tensor
    prior_logp: Tensor
    delta_logp: Tensor
    dims: Tensor
    nfe: int

    def bits_per_dim(self, bins: int | None = None, data_range: float = 2.0) -> Tensor:
        """Bits per dimension, shape (B,); with ``bins``, the dequantised discrete-data bound.

        For data of ``bins`` discrete levels mapped linearly onto an interval of width
        ``data_range`` (e.g. 8-bit images on [-1, 1]: bins=256, data_range=2), each level
        is a cell of width data_range / bins, and uniform dequantisation gives
        ``bpd = (nll_per_dim + log(bins / data_range)) / ln 2``. Pass x already dequantised
        (x + U(0, data_range / bins) per entry) for this to be the usual bound.
        ``bins=None`` gives the continuous ``nll_per_dim / ln 2``.
        """
        nll = self.nll_per_dim
        if bins is not None:
            if bins <= 0 or data_range <= 0:
                raise ValueError(f"need bins > 0 and data_range > 0, got {bins}, {data_range}")
            nll = nll + math.log(bins / data_range)
        return nll / math.log(2.0)


def _unit(y: Tensor, j: int) -> Tensor:
    e = torch.zeros_like(y)
    e[:, j] = 1.0
    return e


def _default_times(spec: Spec, t_min: float | None, t_max: float | None) -> tuple[float, float]:
    paths = [v.path for v in spec.views.values()]
    lo = max(p.t_min for p in paths) if t_min is None else t_min
    hi = min(p.t_max for p in paths) if t_max is None else t_max
    if not lo < hi:
        raise ValueError(f"need t_min < t_max, got {lo} and {hi}")
    return float(lo), float(hi)


def _quadratic_forms(u: Tensor, y: Tensor, probes: Iterable[Tensor]) -> Tensor:
    """Sum of w^T (du/dy) w over chunks of probe vectors w (P, B, D): batched VJPs."""
    total = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
    if not u.requires_grad:  # the velocity does not depend on the state
        return total
    for w in probes:
        try:
            (g,) = torch.autograd.grad(
                u, y, grad_outputs=w, retain_graph=True, is_grads_batched=True, allow_unused=True
            )
        except RuntimeError:  # an op without a batching rule: one backward pass per probe
            g = _one_by_one(u, y, w)
        if g is not None:
            total = total + (g * w).sum((0, 2))
    return total


def _one_by_one(u: Tensor, y: Tensor, w: Tensor) -> Tensor | None:
    grads = [torch.autograd.grad(u, y, wi, retain_graph=True, allow_unused=True)[0] for wi in w]
    return None if grads[0] is None else torch.stack(grads)


def log_likelihood(
    model: Callable[..., State],
    x: State,
    path: PathLike,
    *,
    mask: MaskLike = None,
    divergence: str = "exact",
    n_probes: int = 1,
    t_min: float | None = None,
    t_max: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    options: dict | None = None,
    generator: torch.Generator | None = None,
    **cond,
) -> LikelihoodResult:
    """log p(x) in nats by the PF-ODE with exact or Hutchinson divergence.

    ``x`` is a tensor (B, ...) or a dict of fields, first projected onto each field's
    geometry (padding zeroed, centre of mass removed). Times default to the common range
    of the fields' paths; a path whose sigma(t_min) is 0 (flow matching) needs a small
    positive ``t_min`` unless the model predicts the velocity.

    ``divergence="exact"`` costs one vector-Jacobian product per coordinate per evaluation
    (batched 64 at a time; for small states). ``"hutchinson"`` uses ``n_probes`` Rademacher
    probes, projected onto the geometry, drawn once from ``generator`` and kept for the
    whole solve (unbiased, not exact).
    ``method`` and ``options`` go to ``torchdiffeq.odeint`` (e.g. ``method="rk4",
    options={"step_size": 0.01}``); adaptive methods never evaluate the model past t_max.
    The result is log p_{t_min}(x) under the model with the fields' Gaussian priors at t_max.
    """
    import torchdiffeq

    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; known: {', '.join(DIVERGENCES)}")
    if n_probes < 1:
        raise ValueError(f"n_probes must be >= 1, got {n_probes}")
    spec = Spec(path, x, mask)
    spec.check(x)
    x = spec.project(x)
    t0, t1 = _default_times(spec, t_min, t_max)
    y0, unflatten = flatten(x)  # fields concatenated into one (B, D) ODE state
    y0 = y0.detach()
    batch, dim = y0.shape

    def project_flat(v: Tensor) -> Tensor:
        return flatten(spec.project(unflatten(v)))[0]

    fixed = None  # probe vectors kept for the whole solve
    if divergence == "hutchinson":  # Rademacher probes, fixed for the whole solve
        signs = torch.randint(0, 2, (n_probes, *y0.shape), generator=generator, device=y0.device)
        fixed = torch.stack([project_flat(2.0 * z.to(y0.dtype) - 1.0) for z in signs])

    def basis() -> Iterator[Tensor]:
        """Chunks (P, B, D) of P e_j for every coordinate j free in some sample."""
        for start in range(0, dim, _CHUNK):
            rows = range(start, min(start + _CHUNK, dim))
            w = torch.stack([project_flat(_unit(y0, j)) for j in rows])
            w = w[w.flatten(1).any(1)]  # drop coordinates that are padding in every sample
            if len(w):
                yield w

    if divergence == "exact" and dim * dim * batch <= _CACHE_LIMIT:
        fixed = torch.cat(list(basis()))

    def probes() -> Iterator[Tensor]:
        return basis() if fixed is None else iter(fixed.split(_CHUNK))

    nfe = 0

    def rhs(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        nonlocal nfe
        nfe += 1
        with torch.enable_grad():
            y = state[0].detach().requires_grad_(True)
            u = predict(model, unflatten(y), t, spec, to="velocity", **cond)
            u = flatten(spec.project(u))[0]
            if not bool(torch.isfinite(u).all()):
                raise ValueError(
                    f"the PF-ODE velocity is not finite at t={float(t):.3g}; if sigma(t_min) = 0 "
                    "on this path and the model does not predict the velocity, pass a small "
                    "positive t_min (e.g. 1e-4)"
                )
            div = _quadratic_forms(u, y, probes())
            if divergence == "hutchinson":
                div = div / n_probes
        return u.detach(), div.detach()

    times = torch.tensor([t0, t1], dtype=y0.dtype, device=y0.device)
    zeros = torch.zeros(batch, dtype=y0.dtype, device=y0.device)
    opts = dict(options or {})
    if method in ADAPTIVE_METHODS:  # end a step on t_max: never evaluate the model past it
        opts.setdefault("step_t", times[1:])
    ys, deltas = torchdiffeq.odeint(
        rhs, (y0, zeros), times, rtol=rtol, atol=atol, method=method, options=opts
    )
    x_t = unflatten(ys[-1])
    prior = spec.prior_logp(x_t).detach()
    delta = deltas[-1].detach()
    logp = prior + delta
    dims = spec.dims(x)
    return LikelihoodResult(
        logp=logp,
        nll_per_dim=-logp / dims.clamp(min=1),
        prior_logp=prior,
        delta_logp=delta,
        dims=dims,
        nfe=nfe,
    )


__all__ = ["DIVERGENCES", "LikelihoodResult", "log_likelihood"]
