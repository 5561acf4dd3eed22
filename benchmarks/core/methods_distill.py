"""Few-step distillation benchmark: CTM and SiD students of an exact 2-D mixture teacher.

Teacher: the exact x0 model of ``GaussianMixture.ring()`` and ``GaussianMixture.random(2, 4,
seed=1)`` on EDM's path. Students: small MLPs (``TimeMLP``) trained with a fixed number
of steps; each student is sampled at 1, 2 and 4 steps. Error: exact empirical W2 (POT)
between n student samples and n fresh target samples (n = 2000 full, 500 quick); the same
estimator's floor (target against target) is in the note. Baseline: the teacher's Heun
PF-ODE with 18 Karras steps (35 NFE); the teacher's Euler at the student's NFE is in the
note.

SiD needs a teacher with weights (the paper initializes generator and fake score from the
pretrained teacher): an MLP denoiser is first fit by DSM to target samples (the
pretraining SiD assumes; 2000 steps), then SiD distills it data-free, generator and four
per-stage fakes copied from it, sigma_init = 2.5, alpha = 1.2, Adam betas (0, 0.999),
lr 5e-5, EMA 0.995. SiD rows' baseline is that MLP teacher's Heun (what SiD distills);
the exact teacher's Heun error is in their note. Run:
``python -m benchmarks.core.methods_distill [--quick]``.
"""

from __future__ import annotations

import time

import torch

from scorelab import EDM, EDMPrecond, get_grid
from scorelab.distances import mmd_rbf, w2_empirical
from scorelab.distill import CTMLoss, CTMStudent, TimeMLP, distill_ctm, distill_sid, sample_ctm
from scorelab.distill.common import ramp_levels
from scorelab.distill.sid import SIGMA_INIT, sid_init_from_teacher
from scorelab.losses import DSMLoss
from scorelab.samplers import sample_euler, sample_heun
from scorelab.testing import GaussianMixture
from scorelab.time_proposals import LogNormalSigma

from ..harness import timed

STEPS = (1, 2, 4)


def _problems() -> dict[str, GaussianMixture]:
    return {"ring8": GaussianMixture.ring(), "gmm4-rand": GaussianMixture.random(2, 4, seed=1)}


def _train_ctm(target: GaussianMixture, path: EDM, steps: int, seed: int):
    torch.manual_seed(seed)
    student = CTMStudent(TimeMLP(2, 2, hidden=64, depth=3), path)
    loss = CTMLoss(target.predictor(path, "x0"), path, teacher_steps=16, teacher_span=1.0)

    def data(n, g):
        return target.sample(n, g).float()

    (ema, _), wall = timed(
        lambda: distill_ctm(
            student,
            loss,
            data,
            steps,
            batch=256,
            lr=2e-3,
            ema_decay=0.99,
            generator=torch.Generator().manual_seed(seed),
        )
    )
    return ema, wall


def _pretrain_teacher(target: GaussianMixture, path: EDM, steps: int, seed: int) -> EDMPrecond:
    """The pretrained model SiD assumes: an MLP denoiser fit by DSM to target samples."""
    torch.manual_seed(seed)
    net = EDMPrecond(TimeMLP(2, 1, hidden=128, depth=3), path, sigma_data=1.0)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss, g = DSMLoss(path, "edm", LogNormalSigma()), torch.Generator().manual_seed(seed)
    for _ in range(steps):
        lv = loss(net, target.sample(512, g).float(), g)
        opt.zero_grad(set_to_none=True)
        lv.backward()
        opt.step()
        sched.step()
    return net.requires_grad_(False).eval()


def _train_sid(teacher: EDMPrecond, path: EDM, steps: int, seed: int):
    torch.manual_seed(seed)
    levels = ramp_levels(torch.linspace(0, 1, 4, dtype=torch.float64), SIGMA_INIT, 0.1)
    gen_net, fakes = sid_init_from_teacher(teacher, stages=4)
    (gen, _), wall = timed(
        lambda: distill_sid(
            teacher,
            path,
            gen_net,
            fakes,
            steps,
            shape=(2,),
            times=levels.tolist(),
            ema_decay=0.995,
            batch=256,
            lr_gen=5e-5,
            lr_fake=5e-5,
            max_grad_norm=10.0,
            generator=torch.Generator().manual_seed(seed),
            dtype=torch.float32,
        )
    )
    return gen, wall


def _sample(method: str, model, x_t: torch.Tensor, k: int, path: EDM):
    g = torch.Generator().manual_seed(103)
    t0 = time.perf_counter()
    if method == "ctm":
        out = sample_ctm(model, x_t.float(), get_grid("karras", path, k), generator=g)
    else:
        out = model.sample(x_t.shape[0], steps=k, generator=g, dtype=torch.float32)
    return out.double(), time.perf_counter() - t0


def _teacher_runs(teacher, x_t: torch.Tensor, ref: torch.Tensor, path: EDM):
    """(Heun 35-NFE error, its wall time, {k: Euler k-NFE error}) of one teacher."""
    with torch.no_grad():
        t0 = time.perf_counter()
        base = sample_heun(teacher, x_t, get_grid("karras", path, 18), path).double()
        wall = time.perf_counter() - t0
        euler = {
            k: w2_empirical(
                sample_euler(teacher, x_t, get_grid("karras", path, k), path).double(), ref
            )
            for k in STEPS
        }
    return w2_empirical(base, ref), wall, euler


def run(quick: bool = False) -> list[dict]:
    """One row per (method, problem, steps); see the module docstring."""
    torch.set_num_threads(1)
    n = 500 if quick else 2000
    train_steps = (
        {"ctm": 60, "sid": 60, "sid_teacher": 200}
        if quick
        else {"ctm": 1000, "sid": 4000, "sid_teacher": 2000}
    )
    path = EDM()
    metric = f"W2 to target samples (POT, n={n})"
    rows = []
    for pname, target in _problems().items():
        ref = target.sample(n, torch.Generator().manual_seed(100))
        floor = w2_empirical(target.sample(n, torch.Generator().manual_seed(101)), ref)
        x_t = path.prior_sample((n, 2), generator=torch.Generator().manual_seed(102)).double()
        exact = _teacher_runs(target.predictor(path, "x0"), x_t, ref, path)
        ctm, ctm_wall = _train_ctm(target, path, train_steps["ctm"], 0)
        t0 = time.perf_counter()
        mlp_teacher = _pretrain_teacher(target, path, train_steps["sid_teacher"], 0)
        pre_wall = time.perf_counter() - t0
        mlp = _teacher_runs(mlp_teacher, x_t.float(), ref, path)
        sid, sid_wall = _train_sid(mlp_teacher, path, train_steps["sid"], 0)
        for method, model, wall in (("ctm", ctm, ctm_wall), ("sid", sid, sid_wall)):
            base_err, base_wall, euler = exact if method == "ctm" else mlp
            for k in STEPS:
                out, dt = _sample(method, model, x_t, k, path)
                note = (
                    f"teacher euler {k} NFE: {euler[k]:.3g}; MMD2 {mmd_rbf(out, ref):.2g}; "
                    f"floor {floor:.3g}; train {train_steps[method]} steps {wall:.0f}s"
                )
                if method == "sid":
                    note += (
                        f"; teacher = MLP fit by DSM ({train_steps['sid_teacher']} steps, "
                        f"{pre_wall:.0f}s), exact teacher heun 35 NFE: {exact[0]:.3g}"
                    )
                rows.append(
                    {
                        "method": f"{method}-{k}step",
                        "problem": pname,
                        "metric": metric,
                        "error": w2_empirical(out, ref),
                        "nfe": k,
                        "wall_s": dt,
                        "baseline": (
                            "exact teacher heun 18 steps (35 NFE)"
                            if method == "ctm"
                            else "MLP teacher heun 18 steps (35 NFE)"
                        ),
                        "baseline_error": base_err,
                        "baseline_nfe": 35,
                        "baseline_wall_s": base_wall,
                        "note": note,
                    }
                )
    return rows


if __name__ == "__main__":
    from .methods import print_topic

    print_topic(run)
