"""The score Fokker-Planck residual, a regularizer built on it, and the ODE-SDE sample gap.

Lai et al. 2023, "FP-Diffusion: improving score-based diffusion models by enforcing the
underlying score Fokker-Planck equation" (ICML; the score FPE and the DSM objective
regularized by its residual); Deveney et al. 2023, "Closing the ODE-SDE gap in
score-based diffusion models through the Fokker-Planck equation" (the gap it targets).

For the forward SDE dx = f(t) x dt + g(t) dW of a core ``GaussianPath`` (data at t_min,
prior at t_max, as in both papers), log p_t obeys

    d/dt log p = -f d - f x . s + g^2 / 2 (div s + |s|^2),

so the exact score s = grad log p satisfies the score FPE d/dt s = grad_x h with
h = -f x . s + g^2 / 2 (div s + |s|^2) (the -f d term has no x-gradient). The residual
R(x, t) = d/dt s - grad_x h is computed by autograd: d/dt s through a double-VJP (one JVP in
t: two backward passes whatever d) or a central difference, div s exactly (one VJP per
coordinate) or by Hutchinson's estimator, and grad_x h by one more VJP, all with
``create_graph=True`` so the residual trains the model. The model must act per sample (no
batch coupling such as batch norm): the batch sums used by the VJPs rely on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from .distances import sliced_w2, w2_empirical
from .parameterization import predict
from .paths.base import GaussianPath
from .registry import Registry
from .state import Spec

DIVERGENCES = ("exact", "hutchinson")
TIME_DERIVATIVES = ("autograd", "central")
Weighting = Callable[[GaussianPath, Tensor], Tensor]

FP_WEIGHTINGS: Registry[Weighting] = Registry("fp weighting")
FP_WEIGHTINGS.register("constant")(lambda path, t: torch.ones_like(t))
# Lai et al.'s default ('ll'): the likelihood weight g(t)^2 on the residual norm
FP_WEIGHTINGS.register("likelihood")(lambda path, t: path.diffusion(t) ** 2)
# sigma^2 |R|^2: the residual in eps units (s = -eps / sigma), bounded near the data end
FP_WEIGHTINGS.register("sigma2")(lambda path, t: path.sigma(t) ** 2)


def _score(model: Any, x: Tensor, t: Tensor, path: GaussianPath, cond: Mapping) -> Tensor:
    return predict(model, x, t, Spec(path, x), "score", **cond)


def _vjp(out: Tensor, inp: Tensor, v: Tensor) -> Tensor:
    (g,) = torch.autograd.grad(out, inp, v, create_graph=True, allow_unused=True)
    return torch.zeros_like(inp) if g is None else g


def _dt_autograd(s: Tensor, t: Tensor) -> Tensor:
    """d s / d t per sample by the double-VJP trick (a JVP with tangent 1 in t)."""
    u = torch.zeros_like(s, requires_grad=True)
    g = _vjp(s, t, u)  # (B,): sum_j u_ij ds_ij/dt_i, linear in u
    if not g.requires_grad:
        return torch.zeros_like(s)
    return _vjp(g, u, torch.ones_like(g))


def fp_residual(
    model: Any,
    x: Tensor,
    t: Tensor,
    path: GaussianPath,
    divergence: str = "exact",
    generator: torch.Generator | None = None,
    *,
    time_derivative: str = "autograd",
    fd_step: float = 1e-4,
    **cond: Any,
) -> Tensor:
    """Score-FPE residual R = d/dt s - grad_x[-f x.s + g^2/2 (div s + |s|^2)], shape (B, d).

    ``model`` is a core ``Predictor`` of any kind (converted to a score through the path);
    ``x`` is (B, d), ``t`` a scalar or (B,). ``divergence``: ``exact`` or ``hutchinson``
    (one Rademacher probe per sample from ``generator``); ``time_derivative``: ``autograd``
    or ``central`` (s(t + h) - s(t - h)) / 2h with h = ``fd_step``, 2 more model calls.
    """
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; known: {', '.join(DIVERGENCES)}")
    if time_derivative not in TIME_DERIVATIVES:
        raise ValueError(
            f"unknown time_derivative {time_derivative!r}; known: {', '.join(TIME_DERIVATIVES)}"
        )
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a (B, d) tensor, got {getattr(x, 'shape', None)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x has NaN or inf values")
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    t = t.expand(x.shape[0]) if t.ndim == 0 else t
    if t.shape != (x.shape[0],):
        raise ValueError(f"t must be a scalar or of shape ({x.shape[0]},), got {tuple(t.shape)}")
    f, g = path.sde(t)
    if not bool(torch.isfinite(f).all() & torch.isfinite(g).all()):
        raise ValueError(f"the forward SDE of {path!r} is singular at some t; stay inside")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        t = t.detach().clone().requires_grad_(time_derivative == "autograd")
        s = _score(model, x, t, path, cond)
        if divergence == "exact":
            eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
            div = sum(_vjp(s, x, eye[j].expand_as(s))[:, j] for j in range(x.shape[1]))
        else:
            v = torch.randint(0, 2, x.shape, generator=generator, device=x.device)
            v = 2 * v.to(x.dtype) - 1
            div = (_vjp(s, x, v) * v).sum(1)
        h = -f * (x * s).sum(1) + 0.5 * g * g * (div + (s * s).sum(1))
        rhs = _vjp(h, x, torch.ones_like(h))
        if time_derivative == "autograd":
            dsdt = _dt_autograd(s, t)
        else:
            hi = _score(model, x, t + fd_step, path, cond)
            lo = _score(model, x, t - fd_step, path, cond)
            dsdt = (hi - lo) / (2 * fd_step)
    return dsdt - rhs


class FokkerPlanckRegularized:
    """``base_loss + weight * E_t E_{x_t}[w(t) |R(x_t, t)|^2 / d]`` (Lai et al.'s FP regularizer).

    x_t = alpha x0 + sigma eps at t ~ U[t_lo, t_hi] (default: the path's [t_min, t_max];
    the residual of a learned score grows like sigma^-3 at the data end, so a cut such as
    t_lo = 0.05 is usual); ``weighting`` w(t) is a name in ``FP_WEIGHTINGS`` (constant,
    likelihood = g^2, sigma2) or a callable ``(path, t) -> (B,)``; ``n_points`` evaluates
    the residual on the first n samples of the batch only (it costs ~d + 4 backward passes).
    Calling it returns {"loss": total, "base": base loss, "fp": the FP term before ``weight``}.
    """

    def __init__(
        self,
        base_loss: Callable[..., Tensor],
        path: GaussianPath,
        weight: float = 1.0,
        t_lo: float | None = None,
        t_hi: float | None = None,
        weighting: str | Weighting = "sigma2",
        divergence: str = "exact",
        time_derivative: str = "autograd",
        n_points: int | None = None,
    ) -> None:
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"weight must be finite and >= 0, got {weight}")
        lo, hi = path.time_range(t_lo, t_hi)
        if divergence not in DIVERGENCES:
            raise ValueError(f"unknown divergence {divergence!r}; known: {', '.join(DIVERGENCES)}")
        if time_derivative not in TIME_DERIVATIVES:
            raise ValueError(f"unknown time_derivative {time_derivative!r}")
        if n_points is not None and n_points < 1:
            raise ValueError(f"n_points must be >= 1, got {n_points}")
        self.base_loss, self.path, self.weight = base_loss, path, float(weight)
        self.t_lo, self.t_hi, self.n_points = lo, hi, n_points
        self.weighting = FP_WEIGHTINGS.get(weighting) if isinstance(weighting, str) else weighting
        self.divergence, self.time_derivative = divergence, time_derivative

    def fp_term(
        self, model: Any, x0: Tensor, generator: torch.Generator | None = None, **cond: Any
    ) -> Tensor:
        """The weighted mean squared residual per dimension at fresh (t, x_t) draws."""
        if self.n_points is not None:
            x0 = x0[: self.n_points]
            cond = {k: v[: self.n_points] if isinstance(v, Tensor) else v for k, v in cond.items()}
        n, dt = x0.shape[0], x0.dtype
        t = self.t_lo + (self.t_hi - self.t_lo) * torch.rand(n, generator=generator, dtype=dt)
        xt = self.path.marginal(x0, t, torch.randn(x0.shape, generator=generator, dtype=dt))
        r = fp_residual(
            model,
            xt,
            t,
            self.path,
            self.divergence,
            generator,
            time_derivative=self.time_derivative,
            **cond,
        )
        return (self.weighting(self.path, t) * r.pow(2).sum(1)).mean() / x0.shape[1]

    def __call__(
        self, model: Any, x0: Tensor, generator: torch.Generator | None = None, **cond: Any
    ) -> dict[str, Tensor]:
        """{"loss", "base", "fp"} for one batch ``x0`` (B, d)."""
        base = self.base_loss(model, x0, generator=generator, **cond)
        if self.weight == 0:
            return {"loss": base, "base": base, "fp": torch.zeros_like(base)}
        fp = self.fp_term(model, x0, generator, **cond)
        return {"loss": base + self.weight * fp, "base": base, "fp": fp}


def ode_sde_gap(
    model: Any,
    path: GaussianPath,
    n: int,
    *,
    dim: int,
    ode_sampler: str = "heun",
    ode_steps: int = 50,
    sde_sampler: str = "euler_maruyama",
    sde_steps: int = 500,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    exact_max_dim: int = 8,
    grid_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """W2 between ``n`` ODE and ``n`` SDE samples of the same model (Deveney et al.'s gap).

    The ODE runs on its default grid (``samplers.default_grid``), the SDE on a uniform one,
    from independent prior draws (seeds ``seed`` and ``seed + 1``), so an exact model's gap
    is the W2 noise floor between two independent n-sets of one law. W2 is the exact
    empirical OT (POT) for ``dim <= exact_max_dim``, else sliced W2. ``grid_options`` go to
    both grids (e.g. ``{"t_max": 0.999}`` on a flow path, whose SDE is singular at t = 1).
    Returns {"w2", "metric", "ode", "sde"} (the two sample sets, (n, dim)).
    """
    from .samplers import default_grid, sample

    if n < 2 or dim < 1:
        raise ValueError(f"need n >= 2 and dim >= 1, got {n}, {dim}")
    runs = {}
    for key, name, steps, s in (
        ("ode", ode_sampler, ode_steps, seed),
        ("sde", sde_sampler, sde_steps, seed + 1),
    ):
        runs[key] = sample(
            model,
            path,
            (n, dim),
            sampler=name,
            steps=steps,
            grid=default_grid(name),
            grid_options=grid_options,
            generator=torch.Generator().manual_seed(s),
            dtype=dtype,
        )
    exact = dim <= exact_max_dim
    dist = w2_empirical if exact else sliced_w2
    w2 = dist(runs["ode"].detach(), runs["sde"].detach())
    return {"w2": w2, "metric": "w2_empirical" if exact else "sliced_w2", **runs}


__all__ = [
    "DIVERGENCES",
    "FP_WEIGHTINGS",
    "TIME_DERIVATIVES",
    "FokkerPlanckRegularized",
    "fp_residual",
    "ode_sde_gap",
]
