"""Score identity distillation (Zhou et al. 2024, ICML): a data-free one-step generator.

A generator x_g = G_theta(z) is trained so that its noised law matches the teacher's
marginals, using only the teacher f_phi (an x0 predictor, EDM's denoiser) and noise.
A fake denoiser f_psi tracks the generator's own noised law by DSM on detached generator
samples (the paper's eq. 9, EDM's loss and lognormal sigma), alternating with the
generator loss (the paper's eq. 16 / Algorithm 1, in x0 space):

    L_theta = (1 - alpha) w(t) ||f_phi(x_t) - f_psi(x_t)||^2
              + w(t) (f_phi(x_t) - f_psi(x_t))^T (f_psi(x_t) - x_g),     alpha = 1.2,

with x_t = x_g + sigma_t eps, gradients through x_g and x_t only (phi and psi frozen), and
w(t) = 1 / mean|x_g - f_phi(x_t)| (stop-gradient, per sample) as in the reference code.
Generator-loss times: EDM's rho-ramp of noise levels with r ~ U[1 - t_frac, 1] (r = 1 is
the data end; the reference code's t_max = 800 / 1000 is ``t_frac = 0.8``).

One-step generation follows SiD: x_g = f_theta(sigma(t_1) z, t_1), the generator being a
denoiser network evaluated on pure noise at sigma_init = 2.5 (EDM). Few-step generation
(our choice, in the spirit of few-step SiD, Zhou et al. 2025): with stage times
t_1 > t_2 > ... > t_k, stage j > 1 noises the previous output to t_j with the path's
marginal and applies the same network at t_j. Training picks one stage j per batch
uniformly, runs the earlier stages without gradients, and applies both losses to the
stage-j output, so every stage is pushed toward the data law.

Initialization (the paper's, what makes it fast): generator and fake denoiser both start
as copies of the pretrained teacher network (``sid_init_from_teacher``), so G(z) starts
at the teacher's one-step denoiser f_phi(sigma_init z, sigma_init). An exact teacher
without weights cannot be copied; fit a network to it first (the benchmark trains an MLP
teacher by DSM: the pretraining SiD assumes). Few-step generators may use one fake per
stage (``SiDTrainer``): a single fake scores the mixture of the stages' laws.

Other paths: times are path times; noise levels are sigma/alpha (see ``common``); the
first stage's input is sigma(t_1) z. Data at ``t_min``, prior at ``t_max``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..losses import DSMLoss
from ..parameterization import predict
from ..paths.base import GaussianPath
from ..state import Spec
from ..time_proposals import LogNormalSigma
from .common import check_finite, level_bounds, ramp_levels, time_of_level

SIGMA_INIT = 2.5  # SiD's noise level of the generator's input


def _frozen_x0(model: nn.Module, path: GaussianPath, x: Tensor, t: Tensor) -> Tensor:
    """The model's x0 prediction with its parameters detached (gradients reach x only)."""
    params = (
        {k: v.detach() for k, v in model.named_parameters()}
        if hasattr(model, "named_parameters")
        else {}
    )
    if params:

        def call(xx: Tensor, tt: Tensor) -> Tensor:
            return torch.func.functional_call(model, params, (xx, tt))

        call.prediction = model.prediction  # type: ignore[attr-defined]
        return predict(call, x, t, Spec(path, x), "x0")
    return predict(model, x, t, Spec(path, x), "x0")


class SiDGenerator(nn.Module):
    """Generator over ``net`` (any core model on ``path``, its prediction read as x0).

    ``times`` are the decreasing stage times (default: one stage at noise level 2.5);
    ``shape`` is one sample's shape. ``gen(z)`` runs all stages, ``gen(z, steps=j)`` the
    first j; ``gen.sample(n, generator=g)`` draws z and the stage noises from ``g``.
    """

    def __init__(
        self,
        net: nn.Module,
        path: GaussianPath,
        shape: Sequence[int],
        times: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__()
        if getattr(net, "prediction", None) is None:
            raise TypeError("the generator net needs a `prediction` attribute (a Predictor)")
        if times is None:
            times = [float(time_of_level(path, torch.tensor(SIGMA_INIT, dtype=torch.float64)))]
        ts = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        if ts.numel() < 1 or not bool(torch.isfinite(ts).all()):
            raise ValueError("stage times must be a non-empty sequence of finite times")
        if not bool((ts[1:] < ts[:-1]).all()):
            raise ValueError("stage times must be strictly decreasing")
        if bool((ts < path.t_min).any()) or bool((ts > path.t_max).any()):
            raise ValueError(f"stage times must lie in [{path.t_min}, {path.t_max}]")
        self.net, self.path, self.shape = net, path, tuple(int(s) for s in shape)
        self.register_buffer("times", ts, persistent=False)

    @property
    def stages(self) -> int:
        """Number of stages k."""
        return self.times.numel()

    def forward(
        self,
        z: Tensor,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        grad_last_only: bool = False,
    ) -> Tensor:
        """Samples (B, *shape) from standard noise z after ``steps`` stages (default: all).

        With ``grad_last_only`` the earlier stages run without gradients (training).
        """
        steps = self.stages if steps is None else steps
        if int(steps) != steps or not 1 <= steps <= self.stages:
            raise ValueError(f"steps must be an integer in [1, {self.stages}], got {steps}")
        if tuple(z.shape[1:]) != self.shape:
            raise ValueError(f"z must have shape (B, {self.shape}), got {tuple(z.shape)}")
        check_finite(z, "z")
        spec = Spec(self.path, z)
        x = None
        for j in range(int(steps)):
            t = self.times[j].to(z.dtype)
            if x is None:
                xt = self.path.sigma(t) * z
            else:
                noise = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
                xt = self.path.marginal(x, t.expand(z.shape[0]), noise)
            with torch.set_grad_enabled(
                torch.is_grad_enabled() and not (grad_last_only and j < steps - 1)
            ):
                x = predict(self.net, xt, t, spec, "x0")
        return x

    def sample(
        self,
        n: int,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Draw ``n`` samples with ``steps`` stages (1 network call per stage), no gradients."""
        z = torch.randn((n, *self.shape), generator=generator, dtype=dtype)
        with torch.no_grad():
            return self(z, steps, generator)


def sid_times(
    n: int,
    path: GaussianPath,
    t_frac: float = 0.8,
    rho: float = 7.0,
    generator: torch.Generator | None = None,
    like: Tensor | None = None,
) -> Tensor:
    """SiD's generator-loss times: rho-ramp noise levels with r ~ U[1 - t_frac, 1], shape (n,)."""
    if not 0.0 < t_frac <= 1.0:
        raise ValueError(f"t_frac must lie in (0, 1], got {t_frac}")
    dtype = torch.float64 if like is None else like.dtype
    lo, hi = level_bounds(path)
    r = 1.0 - t_frac * torch.rand(n, generator=generator, dtype=dtype)
    return time_of_level(path, ramp_levels(r, hi, lo, rho))


def sid_generator_loss(
    teacher: nn.Module,
    fake: nn.Module,
    path: GaussianPath,
    x_g: Tensor,
    *,
    alpha: float = 1.2,
    weighting: str = "sid",
    t: Tensor | None = None,
    t_frac: float = 0.8,
    generator: torch.Generator | None = None,
) -> Tensor:
    """SiD's generator loss on generator samples ``x_g`` (B, ...), a scalar (mean per dim).

    ``weighting`` is "sid" (w = 1 / mean|x_g - f_phi|, detached) or "none" (w = 1). Times
    ``t`` (B,) default to ``sid_times``. Only x_g carries gradients back to the generator;
    the teacher's and the fake score's parameters are used detached.
    """
    if weighting not in ("sid", "none"):
        raise ValueError(f"unknown weighting {weighting!r}; known: sid, none")
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha}")
    if not isinstance(x_g, Tensor) or x_g.ndim < 2:
        raise ValueError("x_g must be a tensor of shape (B, ...)")
    check_finite(x_g, "x_g")
    n = x_g.shape[0]
    t = sid_times(n, path, t_frac, generator=generator, like=x_g) if t is None else t
    eps = torch.randn(x_g.shape, generator=generator, dtype=x_g.dtype, device=x_g.device)
    xt = path.marginal(x_g, t, eps)
    f_phi = _frozen_x0(teacher, path, xt, t)
    f_psi = _frozen_x0(fake, path, xt, t)
    diff = f_phi - f_psi
    per = (diff * ((f_phi - x_g) - alpha * diff)).flatten(1).mean(1)
    if weighting == "sid":
        w = 1.0 / (x_g - f_phi).detach().abs().flatten(1).mean(1).clamp(min=1e-5)
        per = w * per
    return per.mean()


def sid_fake_loss(
    fake: nn.Module, path: GaussianPath, x_g: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """The fake score's DSM loss (EDM weighting, lognormal sigma) on detached samples x_g."""
    return DSMLoss(path, "edm", LogNormalSigma())(fake, x_g.detach(), generator)


class SiDTrainer:
    """Alternating SiD updates: ``trainer.step()`` = one fake-score step, one generator step.

    ``fake`` is one fake denoiser, or one per generator stage (a sequence of ``gen.stages``
    modules): each step picks a stage j, trains fake j on stage-j outputs and the generator
    through stage j against fake j, so each stage's own law is matched (a single fake scores
    the mixture of all stages' laws, whose errors can cancel). Optimizers are Adam with
    betas (0, 0.999) for both, as SiD's code; ``max_grad_norm`` clips each update's
    gradient norm (None: no clipping); a non-finite loss raises.
    """

    def __init__(
        self,
        teacher: nn.Module,
        gen: SiDGenerator,
        fake: nn.Module | Sequence[nn.Module],
        *,
        batch: int = 256,
        lr_gen: float = 1e-3,
        lr_fake: float = 1e-3,
        alpha: float = 1.2,
        fake_steps: int = 1,
        t_frac: float = 0.8,
        betas_fake: tuple[float, float] = (0.0, 0.999),
        max_grad_norm: float | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if int(fake_steps) != fake_steps or fake_steps < 1:
            raise ValueError(f"fake_steps must be a positive integer, got {fake_steps}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {max_grad_norm}")
        fakes = list(fake) if isinstance(fake, (list, tuple, nn.ModuleList)) else [fake]
        if len(fakes) not in (1, gen.stages):
            raise ValueError(f"need 1 or {gen.stages} (one per stage) fakes, got {len(fakes)}")
        self.teacher, self.gen, self.fakes, self.path = teacher, gen, fakes, gen.path
        self.fake = fakes[0]
        self.batch, self.alpha, self.fake_steps, self.t_frac = batch, alpha, fake_steps, t_frac
        self.max_grad_norm, self.generator, self.dtype = max_grad_norm, generator, dtype
        self.opt_gen = torch.optim.Adam(gen.parameters(), lr=lr_gen, betas=(0.0, 0.999))
        self.opt_fakes = [
            torch.optim.Adam(f.parameters(), lr=lr_fake, betas=betas_fake) for f in fakes
        ]

    def _draw(self, j: int) -> Tensor:
        z = torch.randn((self.batch, *self.gen.shape), generator=self.generator, dtype=self.dtype)
        return self.gen(z, j, self.generator, grad_last_only=True)

    def _update(self, loss: Tensor, opt: torch.optim.Optimizer, name: str) -> None:
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(f"the {name} loss is not finite; lower the learning rates")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm is not None:
            params = [p for group in opt.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        opt.step()

    def step(self) -> dict[str, float]:
        """One fake-score update (``fake_steps`` of them) then one generator update."""
        j = 1 + int(torch.randint(self.gen.stages, (1,), generator=self.generator))
        k = j - 1 if len(self.fakes) > 1 else 0
        fake, opt_fake = self.fakes[k], self.opt_fakes[k]
        for _ in range(self.fake_steps):
            with torch.no_grad():
                x = self._draw(j)
            lf = sid_fake_loss(fake, self.path, x, self.generator)
            self._update(lf, opt_fake, "fake-score")
        x = self._draw(j)
        lg = sid_generator_loss(
            self.teacher,
            fake,
            self.path,
            x,
            alpha=self.alpha,
            t_frac=self.t_frac,
            generator=self.generator,
        )
        self._update(lg, self.opt_gen, "generator")
        return {"fake": float(lf.detach()), "gen": float(lg.detach()), "stage": j}


def sid_init_from_teacher(
    teacher: nn.Module, stages: int = 1, per_stage_fakes: bool = True
) -> tuple[nn.Module, nn.Module | nn.ModuleList]:
    """SiD's initialization: (generator net, fake net(s)) as trainable deep copies of ``teacher``.

    The paper starts both the generator G(z) = f_theta(sigma_init z, sigma_init) and the fake
    denoiser f_psi from the pretrained teacher's weights; with ``per_stage_fakes`` and
    ``stages`` > 1 a ModuleList of ``stages`` fakes is returned (see ``SiDTrainer``).
    The teacher itself is left untouched.
    """
    if not isinstance(teacher, nn.Module) or not any(True for _ in teacher.parameters()):
        raise TypeError("teacher must be an nn.Module with parameters (a pretrained network)")
    if int(stages) != stages or stages < 1:
        raise ValueError(f"stages must be a positive integer, got {stages}")

    def clone() -> nn.Module:
        return copy.deepcopy(teacher).requires_grad_(True).train()

    n_fakes = int(stages) if per_stage_fakes else 1
    fakes = clone() if n_fakes == 1 else nn.ModuleList(clone() for _ in range(n_fakes))
    return clone(), fakes


def distill_sid(
    teacher: nn.Module,
    path: GaussianPath,
    generator_net: nn.Module,
    fake_net: nn.Module | Sequence[nn.Module],
    steps: int,
    *,
    shape: Sequence[int],
    times: Sequence[float] | None = None,
    ema_decay: float | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    **trainer_kw,
) -> tuple[SiDGenerator, list[dict[str, float]]]:
    """Run ``steps`` alternating SiD updates; returns (generator, history with ``wall_s``).

    With ``ema_decay`` the returned generator carries the EMA of the generator's weights
    (SiD evaluates its EMA generator); ``trainer_kw`` go to ``SiDTrainer``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in [0, 1) or be None, got {ema_decay}")
    gen = SiDGenerator(generator_net, path, shape, times)
    trainer = SiDTrainer(teacher, gen, fake_net, **trainer_kw)
    ema = None if ema_decay is None else copy.deepcopy(gen.net).requires_grad_(False)
    hist, t0 = [], time.perf_counter()
    for i in range(int(steps)):
        row = trainer.step() | {"wall_s": time.perf_counter() - t0}
        if ema is not None:
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), gen.net.parameters()):
                    pe.lerp_(p, 1.0 - ema_decay)
        hist.append(row)
        if callback is not None:
            callback(i, row)
    if ema is not None:
        gen.net.load_state_dict(ema.state_dict())
    return gen, hist


__all__ = [
    "SIGMA_INIT",
    "SiDGenerator",
    "SiDTrainer",
    "distill_sid",
    "sid_fake_loss",
    "sid_generator_loss",
    "sid_init_from_teacher",
    "sid_times",
]
