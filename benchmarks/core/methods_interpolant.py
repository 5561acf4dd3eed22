"""Benchmark: interpolant eps-SDE with exact fields, and the Fokker-Planck regularizer in training.

(a) ``sample_interpolant`` on the 2-D mixture ``GaussianMixture.random(2, 4, seed=1)`` with a
N(0, I) base (linear interpolant, gamma = sqrt(t (1 - t))), exact b and s from one exact
``Predictor`` on the core path (1 NFE per step), eps in {0, 0.5, 1}: exact empirical W2 (POT)
to a target set against the W2 noise floor between two fresh target sets.
(b) The same small MLP (toy ``MLPScoreNet``, 64 x 3) trained on the 8-mode ring on VP with
``DSMLoss``, then fine-tuned with and without the FP term as Lai et al. do (same initial
weights, seed, steps and batches; plain AdamW loops), then
the ODE-SDE W2 gap (``ode_sde_gap``: Heun 50 steps vs Euler-Maruyama 500) and the SDE sample
quality (W2 to data). Run: ``python -m benchmarks.core.methods_interpolant [--quick]``.
"""

from __future__ import annotations

import time

import torch

import scorelab as sl
from apps.toy.model import MLPScoreNet
from scorelab.distances import w2_empirical
from scorelab.fokker_planck import FokkerPlanckRegularized, ode_sde_gap
from scorelab.samplers import CountNFE
from scorelab.samplers.interpolant_sde import sample_interpolant
from scorelab.testing import GaussianMixture

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def interpolant_rows(quick: bool) -> list[dict]:
    """(a) eps-SDE with exact fields vs the W2 noise floor."""
    n, steps = (500, 50) if quick else (2000, 100)
    target = GaussianMixture.random(2, 4, seed=1)
    path = sl.Interpolant("linear", gamma=1.0)
    ref = target.sample(n, _gen(7))
    floor = w2_empirical(target.sample(n, _gen(8)), ref)
    ts = torch.linspace(1.0, 0.0, steps + 1, dtype=F64)
    rows = []
    for eps in (0.0, 0.5, 1.0):
        model = CountNFE(target.predictor(path, "x0"))
        x = torch.randn(n, 2, generator=_gen(3), dtype=F64)
        t0 = time.perf_counter()
        out = sample_interpolant(model, x, ts, eps=eps, path=path, generator=_gen(4))
        wall = time.perf_counter() - t0
        rows.append(
            dict(
                method=f"interpolant SDE eps={eps:g}" if eps else "interpolant ODE (eps=0)",
                problem="gmm4 2-D (random seed 1), N(0,I) base, exact b and s",
                metric=f"W2 to target (POT, n={n})",
                error=w2_empirical(out, ref),
                nfe=model.nfe,
                wall_s=wall,
                baseline="W2 noise floor (fresh target set vs the same reference)",
                baseline_error=floor,
                note=f"Euler(-Maruyama), {steps} uniform steps, b and s from one call",
            )
        )
    return rows


def _train(
    weight: float, steps: int, init: dict | None = None, seed: int = 0
) -> tuple[sl.Predictor, float]:
    """AdamW on DSM (+ weight x FP term), from ``init`` weights when given; returns model, wall."""
    target, path = GaussianMixture.ring(), sl.VP()
    torch.manual_seed(seed)
    net = MLPScoreNet(dim=2, hidden=64, depth=3)
    if init is not None:
        net.load_state_dict(init)
    model = sl.Predictor(net, "eps")
    loss = FokkerPlanckRegularized(
        sl.DSMLoss(path), path, weight=weight, t_lo=0.05, weighting="sigma2", n_points=64
    )
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3 if init is None else 5e-4)
    g = _gen(seed + 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        out = loss(model, target.sample(256, g).float(), generator=g)
        opt.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)  # as Song et al.; both arms
        opt.step()
    return model, time.perf_counter() - t0


def _evaluate(model: sl.Predictor, n: int) -> dict:
    path, target = sl.VP(), GaussianMixture.ring()
    res = ode_sde_gap(model, path, n, dim=2, ode_steps=50, sde_steps=500, dtype=torch.float32)
    data = target.sample(n, _gen(99)).float()
    return {
        "gap": res["w2"],
        "sde": w2_empirical(res["sde"], data),
        "ode": w2_empirical(res["ode"], data),
    }


METRICS = {
    "gap": "ODE-SDE W2 gap (POT, n={n}; heun 50 vs EM 500)",
    "sde": "SDE sample quality: W2 to data (POT, n={n}; EM 500)",
    "ode": "ODE sample quality: W2 to data (POT, n={n}; heun 50)",
}


def _compare(label: str, problem: str, baseline: str, arms: list, n: int, floor: float):
    """Rows gap / SDE / ODE for (ours, baseline) arms: lists over seeds of (eval, wall)."""
    (ours, base) = arms
    rows = []
    for key, metric in METRICS.items():
        mine = [e[key] for e, _ in ours]
        theirs = [e[key] for e, _ in base]
        per_seed = ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(mine, theirs))
        rows.append(
            dict(
                method=label,
                problem=problem,
                metric=metric.format(n=n),
                error=sum(mine) / len(mine),
                nfe=500 if key != "ode" else 99,
                wall_s=sum(w for _, w in ours) / len(ours),
                baseline=baseline,
                baseline_error=sum(theirs) / len(theirs),
                baseline_nfe=500 if key != "ode" else 99,
                baseline_wall_s=sum(w for _, w in base) / len(base),
                note=f"mean of {len(mine)} seed(s), ours/baseline per seed: {per_seed}; "
                f"W2 floor {floor:.3f}; wall = training",
            )
        )
    return rows


def fp_rows(quick: bool) -> list[dict]:
    """(b) DSM with and without the FP regularizer: ODE-SDE gap and sample quality."""
    scratch, pre, tune, n = (200, 150, 50, 400) if quick else (3000, 2000, 1000, 2000)
    seeds = (0,) if quick else (0, 1)
    sweep = () if quick else (0.001, 0.01)
    w = 0.003
    target = GaussianMixture.ring()
    floor = w2_empirical(target.sample(n, _gen(20)), target.sample(n, _gen(21)))
    net = "ring-8 2-D, VP, MLP 64x3 eps-pred, batch 256"
    tag = "DSM + FP (w={w:g}, sigma2, t>=0.05)"

    def arm(weight: float, steps: int, init=None, seed: int = 0):
        model, wall = _train(weight, steps, init, seed)
        return _evaluate(model, n), wall

    rows = _compare(
        tag.format(w=w),
        f"{net}, {scratch} AdamW steps from scratch",
        "same training, DSM only (same seed, init, batches)",
        [[arm(w, scratch, seed=s) for s in seeds], [arm(0.0, scratch, seed=s) for s in seeds]],
        n,
        floor,
    )
    # Lai et al. fine-tune a DSM-trained model with the FP term: both arms start from the
    # same pretrained weights and see the same batches
    init = {k: v.clone() for k, v in _train(0.0, pre)[0].net.state_dict().items()}
    base = [arm(0.0, tune, init)]
    for weight in (w, *sweep):
        rows += _compare(
            tag.format(w=weight) + " fine-tune",
            f"{net}, {pre} DSM steps + {tune} fine-tune",
            "same fine-tune, DSM only (same init, seed, batches)",
            [[arm(weight, tune, init)], base],
            n,
            floor,
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    """All rows of this benchmark (quick: tiny sizes, < 30 s)."""
    torch.set_num_threads(1)
    return interpolant_rows(quick) + fp_rows(quick)


if __name__ == "__main__":
    from .methods import print_topic

    print_topic(run)
