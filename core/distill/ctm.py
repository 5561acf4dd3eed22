"""Consistency trajectory models (Kim et al. 2024, ICLR): learn the PF-ODE's flow map G(x_t, t, s).

Paper equations implemented (their time is EDM's noise level sigma, data at sigma = 0):

* the parameterization (eq. 5 / Sec. 3.2): G_theta(x_t, t, s) = (s/t) x_t + (1 - s/t)
  g_theta(x_t, t, s), with EDM's preconditioning inside g (g = c_skip(t) x_t + c_out(t)
  F(c_in(t) x_t, c_noise(t), c_noise(s))), so G(x, t, t) = x exactly and g(x, t, t) is a
  denoiser (x0 prediction);
* soft consistency matching (eq. 7): for t > u >= s, the target is
  G_sg(Solver_teacher(x_t, t -> u), u, s) with the EMA / stop-grad student, compared with
  G_theta(x_t, t, s) after both are mapped to the data end by the stop-grad student
  G_sg(., s, 0) (the paper's feature-space comparison; here the squared L2 distance);
* the auxiliary DSM term (eq. 8) on g_theta(x_t, t, t), weighted by ``dsm_weight``
  (the paper adapts this weight; we keep it fixed);
* gamma-sampling (Algorithm 1 / eq. 9): x <- G(x, t_n, sqrt(1 - gamma^2) t_{n+1}), then
  x <- x + gamma t_{n+1} z; gamma = 0 is deterministic multistep jumping along the ODE,
  gamma = 1 is consistency-model multistep (jump to the data end, re-noise).

Other paths: everything runs in EDM's noise level sigma/alpha on x / alpha (see
``common``), so t and s are path times and ratios s/t become ratios of noise levels; the
re-noising of gamma-sampling uses the path's exact transition. Our time convention: the
data end is ``path.t_min`` (not sigma = 0), the prior ``path.t_max``; "jump to 0" means
jump to ``t_min`` (EDM: sigma = 0.002).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from ..broadcast import append_dims, batch_time
from ..losses import DSMLoss
from ..parameterization import predict
from ..paths.base import GaussianPath
from ..precond import edm_coefficients
from ..samplers.base import Context, run
from ..state import Spec
from ..time_proposals import LogNormalSigma
from ..training.ema import EMA
from .common import check_finite, level_bounds, noise_level, ramp_levels, time_of_level

Solver = Callable[[Tensor, Tensor, Tensor], Tensor]


class CTMStudent(nn.Module):
    """A CTM student G(x_t, t, s) on ``path`` around ``net``; called as a model it is a denoiser.

    With ``precondition=True`` (default) ``net(x_in, c_noise_t, c_noise_s) -> (B, ...)`` is
    EDM-preconditioned (e.g. ``TimeMLP(dim, n_cond=2)``); with ``False`` ``net(x, t, s)``
    takes raw path times and returns g directly (an x0-space estimate). ``student(x, t)``
    returns g(x, t, t), an x0 prediction, so the student is also a diffusion model for the
    core samplers and losses; ``student(x, t, s)`` returns the jump G(x, t, s).
    """

    prediction = "x0"

    def __init__(
        self, net: nn.Module, path: GaussianPath, sigma_data: float = 0.5, precondition: bool = True
    ) -> None:
        super().__init__()
        if sigma_data <= 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data}")
        self.net, self.path, self.sigma_data, self.precondition = (
            net,
            path,
            sigma_data,
            precondition,
        )

    def _times(self, x: Tensor, t: Tensor | float, s: Tensor | float) -> tuple[Tensor, Tensor]:
        if not isinstance(x, Tensor) or x.ndim < 2:
            raise ValueError("x must be a tensor of shape (B, ...)")
        check_finite(x)
        t, s = batch_time(t, x.shape[0], x), batch_time(s, x.shape[0], x)
        if not bool((s <= t).all()):
            raise ValueError("CTM jumps need s <= t (toward the data)")
        return t, s

    def g(self, x: Tensor, t: Tensor | float, s: Tensor | float) -> Tensor:
        """The x0-space estimate g(x_t, t, s), shape of x; g(x, t, t) is a denoiser."""
        t, s = self._times(x, t, s)
        if not self.precondition:
            return self.net(x, t, s)
        a_t, lt, ls = self.path.alpha(t), noise_level(self.path, t), noise_level(self.path, s)
        c = edm_coefficients(lt, self.sigma_data)
        c_noise_s = torch.log(ls.clamp(min=1e-6)) / 4
        xs = x / append_dims(a_t, x.ndim)
        f = self.net(append_dims(c.c_in, x.ndim) * xs, c.c_noise, c_noise_s)
        return append_dims(c.c_skip, x.ndim) * xs + append_dims(c.c_out, x.ndim) * f

    def jump(self, x: Tensor, t: Tensor | float, s: Tensor | float) -> Tensor:
        """G(x_t, t, s): x moved along the PF-ODE from time t to time s <= t (shape of x)."""
        t, s = self._times(x, t, s)
        lt, ls = noise_level(self.path, t), noise_level(self.path, s)
        r = append_dims(ls / lt, x.ndim)
        a_t, a_s = (append_dims(self.path.alpha(v), x.ndim) for v in (t, s))
        return a_s * (r * x / a_t + (1 - r) * self.g(x, t, s))

    def forward(self, x: Tensor, t: Tensor, s: Tensor | None = None, **_) -> Tensor:
        """g(x, t, t) (an x0 prediction) when ``s`` is None, else the jump G(x, t, s)."""
        return self.g(x, t, t) if s is None else self.jump(x, t, s)


def _frozen(module: nn.Module) -> Callable[..., Tensor]:
    """``module`` with its parameters detached: gradients flow through inputs only."""
    params = {k: v.detach() for k, v in module.named_parameters()}

    def call(*args: Tensor) -> Tensor:
        return torch.func.functional_call(module, params, args)

    return call


def heun_solve(
    teacher: nn.Module, path: GaussianPath, x: Tensor, t: Tensor, u: Tensor, steps: int
) -> Tensor:
    """The teacher's PF-ODE from per-sample times t (B,) to u (B,), ``steps`` Heun steps each.

    Each sample gets its own EDM rho = 7 sub-grid between its noise levels (the core's
    ``sample_heun`` takes one grid for the whole batch); 2 * steps teacher calls.
    """
    spec = Spec(path, x)
    lt, lu = noise_level(path, t), noise_level(path, u)
    grid = (
        [t]
        + [
            time_of_level(path, ramp_levels(lt.new_full(lt.shape, k / steps), lt, lu))
            for k in range(1, steps)
        ]
        + [u]
    )
    for ta, tb in zip(grid[:-1], grid[1:]):
        dt = append_dims(tb - ta, x.ndim)
        v = predict(teacher, x, ta, spec, "velocity")
        v2 = predict(teacher, x + dt * v, tb, spec, "velocity")
        x = x + dt * 0.5 * (v + v2)
    return x


class CTMLoss:
    """CTM distillation loss: ``loss(student, x0, generator=None, target=None) -> dict``.

    Times are drawn on EDM's rho-ramp of noise levels over [t_min, t_max] (the path's by
    default): r_t ~ U[0, 1], r_s ~ U[r_t, 1], r_u = r_t + min(r_s - r_t, teacher_span U[0, 1])
    (0 = prior end, 1 = data end), so t >= u >= s. The teacher (any core model on ``path``)
    solves t -> u with ``teacher_steps`` Heun steps per sample (or ``solver(x, t, u)``);
    ``teacher_span < 1`` bounds the teacher's stretch of the ramp, as the paper bounds it
    to a few steps of its N-step grid; the default 1 lets u reach s (pure teacher targets
    for u = s), which gave the best one-step students on our 2-D mixtures when the teacher
    takes enough steps (long Heun steps from sigma = 80 overshoot: use >= 8). ``target`` is the EMA
    student (default: the student with its parameters detached). Returns
    {"loss": ctm + dsm_weight * dsm, "ctm": ..., "dsm": ...}, each a per-dimension mean.
    """

    def __init__(
        self,
        teacher: nn.Module,
        path: GaussianPath,
        *,
        dsm_weight: float = 0.1,
        teacher_steps: int = 8,
        teacher_span: float = 1.0,
        solver: Solver | None = None,
        rho: float = 7.0,
        t_min: float | None = None,
        t_max: float | None = None,
    ) -> None:
        if dsm_weight < 0 or not math.isfinite(dsm_weight):
            raise ValueError(f"dsm_weight must be finite and >= 0, got {dsm_weight}")
        if int(teacher_steps) != teacher_steps or teacher_steps < 1:
            raise ValueError(f"teacher_steps must be a positive integer, got {teacher_steps}")
        if not 0.0 < teacher_span <= 1.0:
            raise ValueError(f"teacher_span must lie in (0, 1], got {teacher_span}")
        if getattr(teacher, "prediction", None) is None:
            raise TypeError("the teacher needs a `prediction` attribute (wrap it in a Predictor)")
        self.teacher, self.path, self.dsm_weight, self.rho = teacher, path, dsm_weight, rho
        self.teacher_span = teacher_span
        self.t_min = path.t_min if t_min is None else t_min
        self.lo, self.hi = level_bounds(path, t_min, t_max)
        self.solver = solver or partial(heun_solve, teacher, path, steps=int(teacher_steps))
        self.dsm = DSMLoss(path, "edm", LogNormalSigma())

    def times(self, n: int, generator: torch.Generator | None, like: Tensor) -> tuple[Tensor, ...]:
        """Draw (t, u, s), each (n,), with t >= u >= s on the rho-ramp."""
        kw = dict(generator=generator, dtype=like.dtype, device=like.device)
        r_t = torch.rand(n, **kw)
        r_s = r_t + (1 - r_t) * torch.rand(n, **kw)
        r_u = r_t + torch.minimum(r_s - r_t, self.teacher_span * torch.rand(n, **kw))
        return tuple(
            time_of_level(self.path, ramp_levels(r, self.hi, self.lo, self.rho))
            for r in (r_t, r_u, r_s)
        )

    def __call__(
        self,
        student: CTMStudent,
        x0: Tensor,
        generator: torch.Generator | None = None,
        target: CTMStudent | None = None,
    ) -> dict[str, Tensor]:
        """The loss terms on a batch of data ``x0`` (B, ...)."""
        if not isinstance(x0, Tensor) or x0.ndim < 2:
            raise ValueError("x0 must be a tensor of shape (B, ...)")
        check_finite(x0, "x0")
        n = x0.shape[0]
        t, u, s = self.times(n, generator, x0)
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        xt = self.path.marginal(x0, t, eps)
        frozen = _frozen(student)
        end = torch.full_like(t, self.t_min)
        pred = frozen(student.jump(xt, t, s), s, end)
        with torch.no_grad():
            tgt_model = frozen if target is None else target
            xu = self.solver(xt, t, u)
            tgt = frozen(tgt_model(xu, u, s), s, end)
        ctm = (pred - tgt).pow(2).flatten(1).mean(1).mean()
        dsm = self.dsm(student, x0, generator)
        return {"loss": ctm + self.dsm_weight * dsm, "ctm": ctm, "dsm": dsm}


def _ctm_step(
    ctx: Context, x: Tensor, t: Tensor, t_next: Tensor, last: bool, *, gamma: float, t_end: Tensor
) -> Tensor:
    student, path = ctx.model, ctx.model.path
    if gamma == 0.0 or last:
        return student.jump(x, t, t_next)
    level = noise_level(path, t_next) * math.sqrt(1.0 - gamma * gamma)
    t_mid = torch.maximum(time_of_level(path, level), t_end)
    x_mid = student.jump(x, t, t_mid)
    a, v = path.transition(t_next, t_mid)
    return a * x_mid + v.sqrt() * ctx.noise(x_mid)


def sample_ctm(
    student: CTMStudent,
    x: Tensor,
    ts: Tensor,
    *,
    gamma: float = 0.0,
    generator: torch.Generator | None = None,
    noise_fn: Callable[[Tensor], Tensor] | None = None,
    callback: Callable[[dict], None] | None = None,
) -> Tensor:
    """CTM's gamma-sampling from x at ts[0] along the decreasing grid ``ts``; 1 NFE per step.

    Each step jumps to noise level sqrt(1 - gamma^2) sigma(t_{n+1}) and re-noises to
    t_{n+1} with the path's exact transition (on EDM: + gamma t_{n+1} z). gamma = 0 is
    deterministic; gamma = 1 jumps to the grid's end ts[-1] and re-noises (CM multistep).
    The last step jumps straight to ts[-1], without noise.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    if not isinstance(student, CTMStudent):
        raise TypeError(f"sample_ctm needs a CTMStudent, got {type(student).__name__}")
    ts = torch.as_tensor(ts)
    step = partial(_ctm_step, gamma=float(gamma), t_end=ts[-1].to(x.dtype))
    return run(
        step,
        student,
        x,
        ts,
        student.path,
        generator=generator,
        noise_fn=noise_fn,
        callback=callback,
    )


def distill_ctm(
    student: CTMStudent,
    loss: CTMLoss,
    data: Callable[[int, torch.Generator | None], Tensor],
    steps: int,
    *,
    batch: int = 256,
    lr: float = 1e-3,
    ema_decay: float = 0.99,
    generator: torch.Generator | None = None,
) -> tuple[CTMStudent, list[dict[str, float]]]:
    """A plain AdamW loop: ``data(n, generator)`` draws x0; returns (EMA student, history).

    The EMA copy (decay ``ema_decay``) is both the CTM target and the returned student.
    History rows hold the loss terms and the elapsed wall time ``wall_s``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    ema = EMA(student, ema_decay)
    hist, t0 = [], time.perf_counter()
    for _ in range(int(steps)):
        out = loss(student, data(batch, generator), generator, target=ema.module)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        ema.update(student)
        hist.append(
            {k: float(v.detach()) for k, v in out.items()} | {"wall_s": time.perf_counter() - t0}
        )
    return ema.module, hist


__all__ = [
    "CTMLoss",
    "CTMStudent",
    "distill_ctm",
    "heun_solve",
    "sample_ctm",
]
