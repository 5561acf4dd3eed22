"""MRS on IR-SDE's mean-reverting path, and the Dale-Langevin sampler of GBM diffusion.

MRS (data prediction, second order) at 10 and 20 NFE against the 1000-step Euler-Maruyama
run of the same MR reverse SDE, both from the same prior draws, with exact models:

* ``gaussian-3d``: y0 = x0 - mu ~ N(m, C); every sampler here is affine in the prior draw
  and in its injected noise, so its output law is an exact Gaussian (exact W2, no MC);
* ``gmm4-2d``: y0 ~ a 4-component mixture; exact empirical W2 (POT) on n samples, with the
  estimator's floor (two target samples) and our W2 to the EM samples in the note.

GBM: log X0 ~ N(m, S) in d = 2; the Dale-Langevin (multiplicative) sampler with the exact
Hyvarinen score against Euler-Maruyama in x (the sign-agnostic update) at the same step
count; error = Gaussian W2 between the log-samples' moments and N(m, S).

Run alone: ``python -m benchmarks.core.methods_mrs [--quick]``.
"""

from __future__ import annotations

from typing import Any

import torch

from scorelab import samplers as S
from scorelab.distances import gaussian_w2, w2_empirical
from scorelab.multiplicative import GBM, sample_gbm
from scorelab.paths.mean_reverting import MeanReverting
from scorelab.samplers.mrs import sample_mrs, sample_shifted
from scorelab.testing import GaussianMixture, affine_noisy_pushforward

from ..harness import timed

F64 = torch.float64
PATH = MeanReverting(0.5, "cosine")


class XModel(torch.nn.Module):
    """Exact model of x given mu for y0 = x0 - mu ~ ``target``; counts its calls."""

    def __init__(self, target: GaussianMixture, kind: str = "x0") -> None:
        super().__init__()
        self.inner, self.prediction, self.calls = target.predictor(PATH, kind), kind, 0

    def forward(self, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.inner(x - mu, t)
        return out + mu if self.prediction == "x0" else out


def _mrs_kw(solver: str) -> dict[str, Any]:
    return {"solver": solver, "order": 2, "prediction": "data"}


def gaussian_rows(em_steps: int) -> list[dict[str, Any]]:
    """Exact-law W2 on the 3-D Gaussian: MRS at 10 / 20 NFE against EM at ``em_steps``."""
    mu = torch.tensor([0.5, 0.2, -1.0], dtype=F64)
    a = torch.tensor([[0.7, 0.2, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.3]], dtype=F64)
    cov = a @ a.T + 0.05 * torch.eye(3, dtype=F64)
    gy = GaussianMixture.gaussian(torch.tensor([0.5, -0.7, 1.3], dtype=F64), cov)
    target = (gy.means[0], gy.covs[0])
    model = XModel(gy, "score")

    def law(sampler, ts, **kw):
        def run(z, noise_fn):
            x = mu + PATH.prior_std() * z
            return sampler(model, x, ts, PATH, mu=mu, noise_fn=noise_fn, **kw) - mu

        return affine_noisy_pushforward(run, 3)

    em_ts = S.uniform_grid(PATH, em_steps)

    def em_sampler(m, x, ts, p, **kw):
        return sample_shifted(S.sample_euler_maruyama, m, x, ts, p, **kw)

    em_err = gaussian_w2(*law(em_sampler, em_ts), *target)
    rows = []
    for solver in ("ode", "sde"):
        for nfe in (10, 20):
            ts = S.get_grid("log_snr", PATH, nfe)
            err = gaussian_w2(*law(sample_mrs, ts, **_mrs_kw(solver)), *target)
            x_T = PATH.prior_sample_at(mu.expand(2000, 3), torch.Generator().manual_seed(0))
            gen = torch.Generator().manual_seed(1)
            _, wall = timed(
                sample_mrs, model, x_T, ts, PATH, mu=mu, generator=gen, **_mrs_kw(solver)
            )
            _, em_wall = timed(em_sampler, model, x_T, em_ts, PATH, mu=mu, generator=gen)
            rows.append(
                {
                    "method": f"mrs-{solver}-data-2",
                    "problem": "gaussian-3d (mu fixed), MR path lambda=0.5 cosine",
                    "metric": "exact W2 of the output law to the exact target",
                    "error": err,
                    "nfe": nfe,
                    "wall_s": wall,
                    "baseline": f"Euler-Maruyama {em_steps} steps, same MR reverse SDE",
                    "baseline_error": em_err,
                    "baseline_nfe": em_steps,
                    "baseline_wall_s": em_wall,
                    "note": "logSNR grid; exact laws via the affine map (no MC); "
                    "walls for 2000 samples",
                }
            )
    return rows


def mixture_rows(n: int, em_steps: int) -> list[dict[str, Any]]:
    """POT W2 on the 2-D mixture: MRS at 10 / 20 NFE against EM at ``em_steps``."""
    mu = torch.tensor([0.5, -1.0], dtype=F64)
    gx = GaussianMixture.random(2, 4, seed=1)
    gy = GaussianMixture(gx.weights, gx.means - mu, gx.covs)
    g = torch.Generator().manual_seed(0)
    target, target2 = gy.sample(n, g), gy.sample(n, g)
    floor = w2_empirical(target, target2)
    x_T = PATH.prior_sample_at(mu.expand(n, 2), g)
    em_model = XModel(gy, "score")
    em, em_wall = timed(
        sample_shifted, S.sample_euler_maruyama, em_model, x_T, S.uniform_grid(PATH, em_steps),
        PATH, mu=mu, generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    em = em - mu
    em_err = w2_empirical(em, target)
    rows = []
    for solver in ("ode", "sde"):
        for nfe in (10, 20):
            model = XModel(gy)
            out, wall = timed(
                sample_mrs, model, x_T, S.get_grid("log_snr", PATH, nfe), PATH, mu=mu,
                generator=torch.Generator().manual_seed(2), **_mrs_kw(solver),
            )  # fmt: skip
            out = out - mu
            rows.append(
                {
                    "method": f"mrs-{solver}-data-2",
                    "problem": "gmm4-2d (mu fixed), MR path lambda=0.5 cosine",
                    "metric": f"W2 to exact target samples (POT, n={n})",
                    "error": w2_empirical(out, target),
                    "nfe": model.calls,
                    "wall_s": wall,
                    "baseline": f"Euler-Maruyama {em_steps} steps, same MR reverse SDE",
                    "baseline_error": em_err,
                    "baseline_nfe": em_model.calls,
                    "baseline_wall_s": em_wall,
                    "note": f"W2 to the EM samples {w2_empirical(out, em):.3f}; "
                    f"floor {floor:.3f}; logSNR grid",
                }
            )
    return rows


def gbm_rows(n: int, steps_list: tuple[int, ...]) -> list[dict[str, Any]]:
    """Dale-Langevin vs the additive (sign-agnostic) update on log-normal data."""
    m = torch.tensor([0.3, -0.2], dtype=F64)
    cov = torch.tensor([[0.2, 0.05], [0.05, 0.1]], dtype=F64)
    p = GBM(0.0, 1.0, t_min=1e-3, t_max=4.0, data_log_mean=m, data_log_var=cov)
    model = p.exact_model(GaussianMixture.gaussian(m, cov))
    x_T = p.prior_sample((n, 2), torch.Generator().manual_seed(0))

    def log_w2(x: torch.Tensor) -> tuple[float, float]:
        ok = (x > 0).all(1)
        y = torch.log(x[ok])
        return gaussian_w2(y.mean(0), torch.cov(y.T), m, cov), 1 - float(ok.double().mean())

    rows = []
    for steps in steps_list:
        ts = S.uniform_grid(p.log_path, steps)
        res = {}
        for update in ("multiplicative", "additive"):
            gen = torch.Generator().manual_seed(1)
            out, wall = timed(sample_gbm, model, x_T, ts, p, update=update, generator=gen)
            res[update] = (*log_w2(out), wall)
        (err, bad, wall), (b_err, b_bad, b_wall) = res["multiplicative"], res["additive"]
        rows.append(
            {
                "method": "gbm-dale-langevin",
                "problem": "log-normal 2-d, GBM mu=0 sigma=1 T=4",
                "metric": f"Gaussian W2 of log-sample moments to N(m, S) (n={n})",
                "error": err,
                "nfe": steps,
                "wall_s": wall,
                "baseline": "additive Euler-Maruyama in x (sign-agnostic), same steps",
                "baseline_error": b_err,
                "baseline_nfe": steps,
                "baseline_wall_s": b_wall,
                "note": f"non-positive samples: ours {bad:.1%}, baseline {b_bad:.1%} "
                "(baseline error over its positive samples only)",
            }
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows of the contract in ``benchmarks/core/methods.py``."""
    torch.set_num_threads(1)
    if quick:
        return gaussian_rows(200) + mixture_rows(400, 200) + gbm_rows(4000, (20, 100))
    return gaussian_rows(1000) + mixture_rows(2000, 1000) + gbm_rows(20_000, (20, 50, 100))


if __name__ == "__main__":
    from .methods import print_topic

    print_topic(run)
