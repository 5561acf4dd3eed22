"""Inverse problems with an exact diffusion prior: ensemble SMC against DPS at equal cost.

Priors are Gaussian mixtures on the VP path with their exact x0 model, measurements
y = A x + N(0, s^2 I), and the exact posterior is closed-form
(``scorelab.testing.posterior``); the error is the exact empirical W2 (POT) between n samples
and n fresh posterior samples, with the estimator's floor (two posterior sample sets) in the
note. Problems:

* ``gmm4-2d, y = x1``: 4-mode 2-D prior seen through one coordinate, bimodal posterior;
* ``gmm4-2d, denoise A = I``: the same prior, A = I, s = 0.5;
* ``gmm4-8d, 2-D projection``: a random 4-mode 8-D prior, A random 2 x 8, s = 0.2.

Cost: both methods get the same particles (independent samples for DPS) and the same uniform
grid of steps. Ensemble SMC makes one model call per step and no VJP; DPS makes one model call
and one VJP through the model per step (about two more forward passes). A second DPS row gets
the step count that matches SMC's wall time. DPS's step (``scale="dps"``: zeta / ||y - A x0||
at four zetas, or the unscaled Gaussian likelihood) was swept on the first problem only (the
sweep is in the note) and the best setting used everywhere.

Run alone: ``python -m benchmarks.core.methods_inverse [--quick]``.
"""

from __future__ import annotations

import torch

from scorelab.distances import w2_empirical
from scorelab.inverse import LinearMeasurement, sample_dps
from scorelab.inverse_smc import sample_posterior_smc
from scorelab.paths.vp import VP
from scorelab.samplers.grids import get_grid
from scorelab.testing import GaussianMixture
from scorelab.testing.posterior import linear_gaussian_posterior

from ..harness import timed

F64 = torch.float64
PATH = VP()
#: DPS settings swept on the first problem: the paper's step zeta / ||y - A x0_hat|| at four
#: zetas, and the unscaled Gaussian-likelihood guidance
SWEEP = (("dps", 0.03), ("dps", 0.1), ("dps", 0.3), ("dps", 1.0), ("gaussian", 1.0))


def _problems() -> list[tuple[str, GaussianMixture, LinearMeasurement]]:
    g = torch.Generator().manual_seed(0)
    p2 = GaussianMixture.random(2, 4, seed=1)
    x2 = p2.sample(1, g)[0]
    eye = torch.eye(2, dtype=F64)
    p8 = GaussianMixture.random(8, 4, seed=3)
    a8 = torch.randn(2, 8, generator=g, dtype=F64) / 8**0.5
    x8 = p8.sample(1, g)[0]
    return [
        ("gmm4-2d, y = x1", p2, LinearMeasurement(eye[:1], torch.tensor([-0.4], dtype=F64), 0.3)),
        (
            "gmm4-2d, denoise A = I",
            p2,
            LinearMeasurement(eye, x2 + 0.5 * torch.randn(2, generator=g, dtype=F64), 0.5),
        ),
        (
            "gmm4-8d, 2-D projection",
            p8,
            LinearMeasurement(a8, a8 @ x8 + 0.2 * torch.randn(2, generator=g, dtype=F64), 0.2),
        ),
    ]


def _prior_draw(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Generator]:
    gen = torch.Generator().manual_seed(seed)
    return PATH.prior_sample((n, dim), gen, dtype=F64), gen


def _dps(prior, meas, n, steps, setting, seed=1):
    x, gen = _prior_draw(n, prior.dim, seed)
    ts = get_grid("uniform", PATH, steps)
    scale, zeta = setting
    model = prior.predictor(PATH, "x0")
    return timed(sample_dps, model, x, ts, PATH, meas, zeta=zeta, scale=scale, generator=gen)


def _smc(prior, meas, n, steps, seed=1, **kw):
    x, gen = _prior_draw(n, prior.dim, seed)
    ts = get_grid("uniform", PATH, steps)
    model = prior.predictor(PATH, "x0")
    return timed(sample_posterior_smc, model, x, ts, PATH, meas, generator=gen, **kw)


def run(quick: bool = False) -> list[dict]:
    """Rows: ensemble SMC vs DPS (same steps and particles, then matched wall time)."""
    torch.set_num_threads(1)
    n, steps = (400, 30) if quick else (2000, 100)
    problems = _problems()
    metric = f"W2 to exact posterior (POT, n={n})"
    rows: list[dict] = []

    # DPS step sweep on the first problem only
    name, prior, meas = problems[0]
    post = linear_gaussian_posterior(prior, meas.A, meas.y, meas.noise_std)
    ref = post.sample(n, torch.Generator().manual_seed(100))
    sweep = {st: w2_empirical(_dps(prior, meas, n, steps, st)[0], ref) for st in SWEEP}
    best = min(sweep, key=sweep.get)
    label = "DPS " + ("zeta/||y-Ax0||" if best[0] == "dps" else "likelihood x") + f" {best[1]:g}"
    sweep_note = ", ".join(f"{sc} {z:g}: {w:.3f}" for (sc, z), w in sweep.items())

    for name, prior, meas in problems:
        post = linear_gaussian_posterior(prior, meas.A, meas.y, meas.noise_std)
        ref = post.sample(n, torch.Generator().manual_seed(100))
        floor = w2_empirical(post.sample(n, torch.Generator().manual_seed(101)), ref)
        w2_prior = w2_empirical(prior.sample(n, torch.Generator().manual_seed(102)), ref)
        (out, info), wall = _smc(prior, meas, n, steps, return_info=True)
        err = w2_empirical(out, ref)
        dps, dps_wall = _dps(prior, meas, n, steps, best)
        dps_err = w2_empirical(dps, ref)
        common = {"method": "ensemble SMC (twisted)", "problem": name, "metric": metric}
        base = f"floor {floor:.3f}, prior {w2_prior:.3f}; SMC resampled {sum(info.resampled)}x"
        rows.append(
            {
                **common,
                "error": err,
                "nfe": info.nfe,
                "wall_s": wall,
                "baseline": f"{label}, same {steps} steps and particles",
                "baseline_error": dps_err,
                "baseline_nfe": steps,
                "baseline_wall_s": dps_wall,
                "note": f"{base}; DPS also {steps} VJPs (~2 fwd each), SMC none",
            }
        )
        m_steps = max(2, round(steps * wall / dps_wall))
        dps_m, m_wall = _dps(prior, meas, n, m_steps, best)
        rows.append(
            {
                **common,
                "error": err,
                "nfe": info.nfe,
                "wall_s": wall,
                "baseline": f"{label}, {m_steps} steps (SMC's wall time)",
                "baseline_error": w2_empirical(dps_m, ref),
                "baseline_nfe": m_steps,
                "baseline_wall_s": m_wall,
                "note": base,
            }
        )
        if name == problems[0][0]:
            rows[-2]["note"] += f"; DPS step sweep here (W2): {sweep_note}"
            fk, fk_wall = _smc(prior, meas, n, steps, scheme="fk", twist="flat")
            plain, plain_wall = _smc(prior, meas, n, steps, reweight=False)
            rows.append(
                {
                    "method": "ensemble SMC (Feynman-Kac PDE, flat twist)",
                    "problem": name,
                    "metric": metric,
                    "error": w2_empirical(fk, ref),
                    "nfe": steps,
                    "wall_s": fk_wall,
                    "baseline": "same guided proposal without weights",
                    "baseline_error": w2_empirical(plain, ref),
                    "baseline_nfe": steps,
                    "baseline_wall_s": plain_wall,
                    "note": f"floor {floor:.3f}; first order in the step, noisier weights",
                }
            )
    return rows


if __name__ == "__main__":
    from .methods import print_topic

    print_topic(run)
