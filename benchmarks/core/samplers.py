"""Sampler benchmark: every scorelab sampler on exact targets, side by side with peer libraries.

Run from the repository root::

    python -m benchmarks.core.samplers            # full run, ~10 min on 2 CPU cores
    python -m benchmarks.core.samplers --quick    # smoke run, well under a minute
    make bench-core                               # builds .venv-bench with the peers, full run

Writes ``<out>/samplers.md`` (also printed), ``<out>/samplers.json`` and
``<out>/samplers_error_vs_nfe.png``; ``--out`` defaults to ``benchmarks/core/results``.

Targets: an anisotropic Gaussian (variances log-spaced in [0.01, 1]) and a random
Gaussian mixture (``GaussianMixture.random``: 8 components in d = 2, 4 in d = 64), each in
d = 2 and d = 64, driven by their exact models (``GaussianMixture.predictor``); float64.

Main sweep: the VP path (beta 0.1 .. 20, t in [1e-3, 1]) on the Karras grid, prior
N(0, I); every fixed-step sampler at NFE budgets 5, 10, 20, 50, 100 with steps = NFE //
NFE_PER_STEP (defaults of each sampler; dpmpp_2m without ``lower_order_final``), and the
adaptive sampler (dopri5) at rtol = atol = tol, its NFE counted.

Error: the 2-Wasserstein distance between the sampler's output law and the target's
marginal at the grid's last time (what a user gets, prior mismatch included):

* exact: on a Gaussian target every deterministic sampler is affine in x_T
  (``scorelab.testing.affine_pushforward``); euler_maruyama, reverse_diffusion and ancestral
  are affine in (x_T, injected noise), so pushing basis vectors through x_T and through each
  noise draw gives their exact output law too (``affine_noisy_law``). For deterministic
  samplers the table also gives W2 to the exact PF-ODE law from the same prior
  (``GaussianMixture.ode_pushforward``): the discretisation error alone.
* otherwise (mixtures, and pc whose Langevin step size depends on the batch): POT's exact
  empirical W2 on n = 2000 samples (d = 2) or the sliced W2 (256 directions) on n = 10000
  (d = 64), against one fixed set of fresh target samples; "floor" is the same estimator
  between two independent target sets of the same n, the estimator's noise floor.

Time: ``time.perf_counter`` around the sampler call on a batch of n (prior drawn and peer
schedulers built beforehand), best of up to 3 runs while they take < 0.3 s in all (one run
otherwise); ms per step = wall time / steps (per NFE for adaptive); "overhead" subtracts
the time spent inside the (shared) exact model. One torch thread by default (``--threads``).

Peers, in the same run, on the same grid, the same exact model and the same prior draw
(details in ``benchmarks/core/sampler_peers.py``): diffusers ``DPMSolverMultistepScheduler``
(2M, dpmsolver++, its own timesteps, ``lower_order_final`` as diffusers does it: on below
15 steps, ours set to match) and ``DDIMScheduler`` (eta = 0) on the VP path with the eps
model, mapped onto our VP times through alphas_cumprod; k-diffusion ``sample_dpmpp_2m``,
``sample_heun`` and ``sample_euler`` on the EDM path with the x0 (denoiser) model over our
Karras sigmas without a final 0. k-diffusion is loaded from ``k_diffusion/sampling.py``
alone, its ``utils`` stubbed to ``append_dims`` where ``utils.py`` cannot import
(torchvision); see ``sampler_peers``. A peer that is not installed shows as
"peer unavailable: reason" and the run goes on.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorelab import EDM, VP
from scorelab import samplers as S
from scorelab.distances import gaussian_w2, sliced_w2, w2_empirical
from scorelab.testing import GaussianMixture, affine_pushforward

from ..harness import Column, Report, machine_info, save_figure_atomic
from . import sampler_peers as P

F64 = torch.float64
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
NFES, QUICK_NFES = (5, 10, 20, 50, 100), (5, 10)
PEER_NFES, QUICK_PEER_NFES = (5, 10, 20, 50), (10,)
TOLS, QUICK_TOLS = (1e-2, 1e-3, 1e-4), (1e-3,)
DETERMINISTIC = {"euler", "heun", "ddim", "dpmpp_2m", "adaptive"}
AFFINE_NOISY = {"euler_maruyama", "reverse_diffusion", "ancestral"}
SLICED_PROJ = 256


# --- targets ------------------------------------------------------------------------------
@dataclass
class Target:
    """An exact target and the sample count used for empirical errors and timing."""

    name: str
    mix: GaussianMixture
    n: int

    @property
    def dim(self) -> int:
        return self.mix.dim

    @property
    def gaussian(self) -> bool:
        return len(self.mix.weights) == 1

    @property
    def estimator(self) -> str:
        return (
            f"POT W2, n={self.n}"
            if self.dim <= 2
            else f"sliced W2 ({SLICED_PROJ} dirs), n={self.n}"
        )

    def distance(self, x: Tensor, y: Tensor) -> float:
        return w2_empirical(x, y) if self.dim <= 2 else sliced_w2(x, y, n_proj=SLICED_PROJ)


def anisotropic_gaussian(dim: int, seed: int) -> GaussianMixture:
    """N(m, Q diag(lam) Q^T): m ~ N(0, I / 4), lam log-spaced in [0.01, 1], Q random orthogonal."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=F64))
    lam = torch.logspace(-2, 0, dim, dtype=F64)
    mean = 0.5 * torch.randn(dim, generator=g, dtype=F64)
    return GaussianMixture.gaussian(mean, q @ torch.diag(lam) @ q.T)


def make_targets(quick: bool) -> list[Target]:
    n2, n64 = (500, 1000) if quick else (2000, 10000)
    return [
        Target("gaussian-2d", anisotropic_gaussian(2, seed=1), n2),
        Target("gaussian-64d", anisotropic_gaussian(64, seed=2), n64),
        Target("gmm8-2d", GaussianMixture.random(2, 8, seed=3), n2),
        Target("gmm4-64d", GaussianMixture.random(64, 4, seed=4), n64),
    ]


# --- exact output laws ----------------------------------------------------------------------
def affine_noisy_law(
    run: Callable, model: Any, dim: int, prior_std: float
) -> tuple[Tensor, Tensor]:
    """Exact (mean, cov) of a sampler affine in (x_T, z_1, ..., z_K), x_T ~ N(0, prior_std^2 I).

    One call with a batch of 1 + d (K + 1) rows: row 0 all zeros, the next d rows put the
    basis vectors in x_T, and block k (d rows) gets them as the k-th noise draw through
    ``noise_fn``. Row differences to row 0 are the columns of the affine maps.
    """
    draws = 0

    def count(like: Tensor) -> Tensor:  # a dry run to count the noise draws
        nonlocal draws
        draws += 1
        return torch.zeros_like(like)

    run(model, torch.zeros(1, dim, dtype=F64), None, count)
    k, eye, seen = draws, torch.eye(dim, dtype=F64), 0
    x = torch.zeros(1 + dim * (k + 1), dim, dtype=F64)
    x[1 : 1 + dim] = eye

    def basis(like: Tensor) -> Tensor:
        nonlocal seen
        z = torch.zeros_like(like)
        lo = 1 + dim * (seen + 1)
        z[lo : lo + dim] = eye
        seen += 1
        return z

    out = run(model, x, None, basis)
    if seen != k:
        raise RuntimeError(f"noise draws changed between calls ({k} then {seen})")
    b = out[0]
    cols = out[1:] - b  # image of each basis vector, one per row
    a, noise = cols[:dim], cols[dim:]
    return b, prior_std**2 * a.T @ a + noise.T @ noise


class Timed(S.CountNFE):
    """CountNFE that also accumulates the seconds spent inside the model."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.seconds = 0.0

    def forward(self, x, t, **cond):
        t0 = time.perf_counter()
        out = super().forward(x, t, **cond)
        self.seconds += time.perf_counter() - t0
        return out


# --- one measurement -------------------------------------------------------------------------
@dataclass
class Method:
    """One sampler on one grid: ``make()`` returns a fresh runner(model, x, generator, noise_fn)."""

    impl: str
    sampler: str
    grid: str
    ts: Tensor
    make: Callable[[], Callable]
    law: str  # "affine" | "affine_noisy" | "empirical"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.ts.numel() - 1


def ours(name: str, ts: Tensor, path: Any, grid: str, **options: Any) -> Method:
    fn = S.get_sampler(name)

    def make():
        return lambda model, x, generator=None, noise_fn=None: fn(
            model, x, ts, path, generator=generator, noise_fn=noise_fn, **options
        )

    return Method("scorelab", name, grid, ts, make, _law(name), options)


def _law(name: str) -> str:
    """How a sampler's output law is obtained on a Gaussian target (see the module docstring)."""
    if name in DETERMINISTIC:
        return "affine"
    return "affine_noisy" if name in AFFINE_NOISY else "empirical"


class Bench:
    """Caches the prior draws, reference samples and floors shared by many measurements."""

    def __init__(self, seed: int = 0, time_budget: float = 0.3, max_repeats: int = 3) -> None:
        self.seed, self.time_budget, self.max_repeats = seed, time_budget, max_repeats
        self.floor_reps = 3
        self._prior: dict[tuple, Tensor] = {}
        self._ref: dict[tuple, tuple[Tensor, float, float]] = {}

    def prior(self, target: Target, path: Any) -> Tensor:
        key = (target.name, path.name)
        if key not in self._prior:
            g = torch.Generator().manual_seed(self.seed + 11)
            self._prior[key] = path.prior_std() * torch.randn(
                target.n, target.dim, generator=g, dtype=F64
            )
        return self._prior[key]

    def reference(self, target: Target, path: Any, t_end: float) -> tuple[Tensor, float, float]:
        """Fixed target samples at ``t_end``, and the estimator's floor at this n (mean, std).

        The floor is the estimator between ``ref`` and ``floor_reps`` independent target
        sets of the same size. Grids ending within float32 rounding share one entry.
        """
        key = (target.name, path.name, f"{t_end:.6g}")
        if key not in self._ref:
            marg = target.mix.marginal(path, t_end)
            g = torch.Generator().manual_seed(self.seed + 23)
            ref = marg.sample(target.n, g)
            floors = [
                target.distance(marg.sample(target.n, g), ref) for _ in range(self.floor_reps)
            ]
            std = statistics.stdev(floors) if len(floors) > 1 else 0.0
            self._ref[key] = (ref, statistics.fmean(floors), std)
        return self._ref[key]

    def measure(
        self, target: Target, path: Any, kind: str, method: Method, **extra: Any
    ) -> dict[str, Any]:
        """Time one run on n samples and measure its error (exact where the law is affine)."""
        mix, t_end = target.mix, float(method.ts[-1])
        row: dict[str, Any] = dict(
            target=target.name,
            path=path.name,
            grid=method.grid,
            impl=method.impl,
            sampler=method.sampler,
            steps=method.steps,
            options=dict(method.options),
            **extra,
        )
        out, wall, model, repeats = None, math.inf, None, 0
        spent = 0.0
        while repeats < self.max_repeats and (repeats == 0 or spent < self.time_budget):
            x = self.prior(target, path).clone()  # setup, outside the timed region
            run, timed = method.make(), Timed(mix.predictor(path, kind))
            gen = torch.Generator().manual_seed(self.seed + 37)
            t0 = time.perf_counter()
            with torch.no_grad():
                res = run(timed, x, gen, None)
            took = time.perf_counter() - t0
            spent, repeats = spent + took, repeats + 1
            if out is None:
                out = res
            if took < wall:  # best of the repeats: the least disturbed by other processes
                wall, model = took, timed
        per = max(model.nfe if method.sampler == "adaptive" else method.steps, 1)
        row.update(
            nfe=model.nfe,
            seconds=wall,
            repeats=repeats,
            ms_per_step=1e3 * wall / per,
            overhead_ms_per_step=1e3 * (wall - model.seconds) / per,
        )
        marg = mix.marginal(path, t_end)
        if target.gaussian and method.law != "empirical":
            exact = mix.predictor(path, kind)
            std = path.prior_std()
            if method.law == "affine":
                if method.sampler == "adaptive":
                    # its step sizes depend on the whole batch (torchdiffeq's RMS error norm):
                    # probe the affine map alongside the real prior draw, so that the steps
                    # are those chosen for real samples, not for d + 1 sparse probe vectors
                    x = self.prior(target, path)

                    def fn(p: Tensor) -> Tensor:
                        return method.make()(exact, torch.cat([x, p]))[len(x) :]
                else:

                    def fn(p: Tensor) -> Tensor:
                        return method.make()(exact, p)

                m, c = affine_pushforward(fn, target.dim, std)
                m_ode, c_ode = mix.ode_pushforward(path, float(method.ts[0]), t_end, std)
                row["error_vs_ode"] = gaussian_w2(m, c, m_ode, c_ode)
                row["error_kind"] = "exact W2"
            else:
                m, c = affine_noisy_law(method.make(), exact, target.dim, std)
                row["error_kind"] = "exact W2 (noise incl.)"
            row["error"] = gaussian_w2(m, c, marg.means[0], marg.covs[0])
        else:
            ref, floor, floor_std = self.reference(target, path, t_end)
            row.update(
                error=target.distance(out, ref),
                floor=floor,
                floor_std=floor_std,
                error_kind=target.estimator,
            )
        row["_out"] = out
        return row


# --- the sweeps ----------------------------------------------------------------------------
def main_sweep(bench: Bench, targets: list[Target], nfes, tols, log) -> list[dict[str, Any]]:
    path, rows = VP(), []
    names = S.SAMPLERS.names()
    for target in targets:
        for name in names:
            per = S.NFE_PER_STEP.get(name)
            if name == "adaptive":
                settings = [dict(tol=tol) for tol in tols]
            else:
                settings = [dict(nfe_budget=n) for n in nfes if n // (per or 1) >= 1]
            for s in settings:
                t0 = time.perf_counter()
                try:
                    if name == "adaptive":
                        ts = S.get_grid("karras", path, 1)
                        method = ours(name, ts, path, "endpoints", rtol=s["tol"], atol=s["tol"])
                    else:
                        ts = S.get_grid("karras", path, s["nfe_budget"] // (per or 1))
                        method = ours(name, ts, path, "karras")
                    row = bench.measure(target, path, "eps", method, section="main", **s)
                except Exception as exc:  # a broken sampler is a row, not a crash
                    row = dict(
                        target=target.name,
                        sampler=name,
                        impl="scorelab",
                        section="main",
                        status=f"failed: {type(exc).__name__}: {exc}",
                        error=None,
                        **s,
                    )
                log(
                    f"[{target.name}] {name} {s}: error {row.get('error')} "
                    f"({time.perf_counter() - t0:.1f} s)"
                )
                rows.append(row)
    return rows


def peer_pairs(peers: dict[str, Any], steps_for: Callable[[str, int], int]):
    """(label, peer name, path, model kind, methods(nfe) -> (ours, peer)) for each comparison."""
    vp, edm = VP(), EDM()

    def diffusers(kind: str):
        build = P.diffusers_dpmpp_2m if kind == "dpmpp_2m" else P.diffusers_ddim
        grid = "diffusers timesteps" if kind == "dpmpp_2m" else "diffusers trailing"

        def methods(nfe: int):
            peer = peers["diffusers"]
            ts, make = build(peer, vp, nfe)
            opts = {"lower_order_final": nfe < 15} if kind == "dpmpp_2m" else {}
            theirs = Method("diffusers", kind, grid, ts, make, "affine")
            return ours(kind, ts, vp, grid, **opts), theirs

        return methods

    def kdiff(kind: str):
        def methods(nfe: int):
            ts = S.get_grid("karras", edm, steps_for(kind, nfe))
            make = P.k_diffusion_sampler(peers["k-diffusion"], kind, ts)
            theirs = Method("k-diffusion", kind, "karras, no final 0", ts, make, "affine")
            return ours(kind, ts, edm, "karras, no final 0"), theirs

        return methods

    return [
        ("dpmpp_2m vs diffusers DPMSolverMultistep", "diffusers", vp, "eps", diffusers("dpmpp_2m")),
        ("ddim vs diffusers DDIM (eta=0)", "diffusers", vp, "eps", diffusers("ddim")),
        ("dpmpp_2m vs k-diffusion sample_dpmpp_2m", "k-diffusion", edm, "x0", kdiff("dpmpp_2m")),
        ("heun vs k-diffusion sample_heun", "k-diffusion", edm, "x0", kdiff("heun")),
        ("euler vs k-diffusion sample_euler", "k-diffusion", edm, "x0", kdiff("euler")),
    ]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def peer_sweep(bench: Bench, targets, peers, nfes, log) -> tuple[list[dict], list[dict]]:
    def steps_for(kind: str, nfe: int) -> int:
        return nfe // S.NFE_PER_STEP[kind]

    rows, comparisons = [], []
    for label, peer_name, path, kind, methods in peer_pairs(peers, steps_for):
        if not isinstance(peers[peer_name], P.Peer):  # one row says so, for all targets
            status = f"peer unavailable: {peers[peer_name]}"
            comparisons.append(dict(target="all", pair=label, peer=peer_name, status=status))
            continue
        for target in targets:
            for nfe in nfes:
                base = dict(
                    target=target.name, pair=label, peer=peer_name, path=path.name, nfe_budget=nfe
                )
                t0 = time.perf_counter()
                try:
                    mine, theirs = methods(nfe)
                    a = bench.measure(
                        target, path, kind, mine, section="peer", pair=label, nfe_budget=nfe
                    )
                    b = bench.measure(
                        target, path, kind, theirs, section="peer", pair=label, nfe_budget=nfe
                    )
                except Exception as exc:
                    comparisons.append({**base, "status": f"failed: {type(exc).__name__}: {exc}"})
                    log(f"[{target.name}] {label} NFE {nfe}: failed: {exc}")
                    continue
                rows += [a, b]
                xa, xb = a["_out"], b["_out"]
                diff = a["error"] - b["error"]
                comparisons.append(
                    {
                        **base,
                        "status": "ok",
                        "grid": mine.grid,
                        "steps": mine.steps,
                        "nfe_ours": a["nfe"],
                        "nfe_peer": b["nfe"],
                        "error_kind": a["error_kind"],
                        "error_ours": a["error"],
                        "error_peer": b["error"],
                        "error_diff": diff,
                        "error_rel_diff": abs(diff) / max(abs(b["error"]), 1e-300),
                        "error_vs_ode_ours": a.get("error_vs_ode"),
                        "error_vs_ode_peer": b.get("error_vs_ode"),
                        "out_rel_diff": float((xa - xb).norm() / xb.norm()),
                        "ms_ours": a["ms_per_step"],
                        "ms_peer": b["ms_per_step"],
                        "time_ratio": _ratio(a["ms_per_step"], b["ms_per_step"]),
                        "overhead_ms_ours": a["overhead_ms_per_step"],
                        "overhead_ms_peer": b["overhead_ms_per_step"],
                        "overhead_ratio": _ratio(
                            a["overhead_ms_per_step"], b["overhead_ms_per_step"]
                        ),
                    }
                )
                log(
                    f"[{target.name}] {label} NFE {nfe}: {a['error']:.4g} vs {b['error']:.4g} "
                    f"({time.perf_counter() - t0:.1f} s)"
                )
    return rows, comparisons


# --- report --------------------------------------------------------------------------------
def target_info(bench: Bench, targets: list[Target], nfe: int) -> list[dict[str, Any]]:
    """Per target: the estimator's floor and what the N(0, I) prior costs an ODE sampler."""
    vp, info = VP(), []
    for t in targets:
        row = dict(
            target=t.name, dim=t.dim, components=len(t.mix.weights), n=t.n, estimator=t.estimator
        )
        ref, row["floor"], row["floor_std"] = bench.reference(t, vp, vp.t_min)
        row["floor_pm"] = f"{row['floor']:.3g} ± {row['floor_std']:.2g}"
        if t.gaussian:  # W2 between the exact PF-ODE law from N(0, I) and the target
            m, c = t.mix.ode_pushforward(vp, vp.t_max, vp.t_min, vp.prior_std())
            marg = t.mix.marginal(vp, vp.t_min)
            row["prior_mismatch_w2"] = gaussian_w2(m, c, marg.means[0], marg.covs[0])
        else:  # heun from the exact marginal at t_max instead of N(0, I): no prior mismatch
            g = torch.Generator().manual_seed(bench.seed + 11)
            x = t.mix.marginal(vp, vp.t_max).sample(t.n, g)
            ts = S.get_grid("karras", vp, nfe // S.NFE_PER_STEP["heun"])
            out = S.get_sampler("heun")(t.mix.predictor(vp, "eps"), x, ts, vp)
            row["exact_prior_heun"] = t.distance(out, ref)
        info.append(row)
    return info


def _pivot(rows, targets, nfes, value: str, only=None) -> dict[str, list[dict]]:
    out = {}
    for t in targets:
        table = {}
        for r in rows:
            if (
                r["target"] != t.name
                or r["sampler"] == "adaptive"
                or (only and r["sampler"] not in only)
            ):
                continue
            entry = table.setdefault(
                r["sampler"], {"sampler": r["sampler"], "kind": r.get("error_kind")}
            )
            entry[f"nfe{r['nfe_budget']}"] = r.get(value)
            if r.get("status"):
                entry["kind"] = r["status"]
            for k in ("ms_per_step", "overhead_ms_per_step"):
                if r.get(k) is not None:
                    entry.setdefault(f"_{k}", []).append(r[k])
        for entry in table.values():
            for k in ("ms_per_step", "overhead_ms_per_step"):
                vals = entry.pop(f"_{k}", [])
                entry[k] = statistics.median(vals) if vals else None
        out[t.name] = list(table.values())
    return out


def build_report(meta, info, main_rows, comparisons, targets, nfes) -> Report:
    report = Report(
        "scorelab samplers: error vs NFE on exact targets, and against peers",
        f"Command: `{meta['command']}` ({meta['runtime_s']:.0f} s). "
        f"Machine: {meta['cpu_count']} CPUs, "
        f"torch {meta.get('torch_version')} with {meta.get('torch_threads')} thread(s), float64, "
        f"{meta['date']}. Peers: "
        + "; ".join(f"{k}: {v}" for k, v in meta["peers"].items())
        + ".\n\nError = W2 between the sampler's output law and the target's marginal at the "
        "grid's last time (exact where the output is Gaussian, see the docstring of "
        "`benchmarks/core/samplers.py`); lower is better.",
    )
    report.add(
        "Targets",
        "floor: the empirical estimator between the fixed reference set and 3 independent "
        "target sets of size n, mean ± std (its noise floor). prior-mismatch W2 (Gaussians): "
        "W2 between the exact PF-ODE law from N(0, I) at t = 1 and the target at t = 1e-3, "
        "the floor of every ODE sampler on VP. heun from exact p_T (mixtures): the error of "
        f"heun at NFE {nfes[-1]} started from the exact marginal at t = 1 instead of N(0, I). "
        "VP(0.1, 20) keeps alpha(1) = 6.6e-3 of the data: with mixture means of norm ~16 "
        "(gmm4-64d) the N(0, I) prior shifts the component weights the PF-ODE delivers: "
        "this, not the solvers, is why the ODE samplers level off above the floor there "
        "(heun from the exact p_T reaches it); the stochastic samplers partly correct it.",
        info,
        [
            "target",
            "dim",
            "components",
            "n",
            "estimator",
            Column("floor_pm", "floor"),
            Column("prior_mismatch_w2", "prior-mismatch W2"),
            Column("exact_prior_heun", "heun from exact p_T"),
        ],
    )
    nfe_cols = [Column(f"nfe{n}", f"NFE {n}") for n in nfes]
    time_cols = [
        Column("ms_per_step", "ms/step", ".3g"),
        Column("overhead_ms_per_step", "overhead ms/step", ".3g"),
    ]
    pivot = _pivot(main_rows, targets, nfes, "error")
    for t in targets:
        report.add(
            f"{t.name}: W2 to target vs NFE budget (VP, Karras grid)",
            "Columns are NFE budgets; steps = budget // NFE per step (heun and pc use 4 NFE at "
            "budget 5). ms/step: median over budgets, on n samples; overhead excludes model time.",
            pivot[t.name],
            [Column("sampler"), Column("kind", "error")] + nfe_cols + time_cols,
        )
    ode = _pivot(main_rows, [t for t in targets if t.gaussian], nfes, "error_vs_ode", DETERMINISTIC)
    for name, rows in ode.items():
        report.add(
            f"{name}: W2 to the exact PF-ODE law (discretisation error alone)",
            rows=rows,
            columns=[Column("sampler")] + nfe_cols,
        )
    adaptive = [r for r in main_rows if r["sampler"] == "adaptive"]
    report.add(
        "adaptive (dopri5, rtol = atol = tol): NFE and error",
        "Its step sizes depend on the whole batch (torchdiffeq's error norm is an RMS over "
        "it), so on Gaussian targets the affine probes run appended to the n prior samples. "
        "ms/step is per NFE.",
        adaptive,
        [
            "target",
            Column("tol", spec=".0e"),
            "nfe",
            "error",
            Column("error_vs_ode", "W2 to ODE law"),
            Column("ms_per_step", "ms/NFE"),
            Column("status"),
        ],
    )
    report.add(
        "Peers: same grid, same exact model, same prior draw",
        "diff = ours - peer; out rel diff = |x_ours - x_peer| / |x_peer| over the whole batch "
        "(identical algorithms: ~1e-16 in float64; diffusers keeps its schedule in float32 and "
        "DPMSolverMultistepScheduler.step casts the sample to float32: ~1e-7, up to ~1e-5 on "
        "a mixture where a few samples near a basin boundary amplify the rounding, as our own "
        "float32 run does). time ratio = ours / peer ms per step (model included); "
        "overhead ratio excludes the model. diffusers on VP (eps model, its own timesteps), "
        "k-diffusion on EDM (x0 model, Karras sigmas without a final 0). "
        + " ".join(f"{k}: {'; '.join(v)}." for k, v in meta.get("peer_notes", {}).items()),
        comparisons,
        [
            "target",
            "pair",
            Column("nfe_budget", "NFE"),
            Column("error_ours", "ours"),
            Column("error_peer", "peer"),
            Column("error_diff", "diff", ".2e"),
            Column("out_rel_diff", "out rel diff", ".1e"),
            Column("ms_ours", "ours ms/step"),
            Column("ms_peer", "peer ms/step"),
            Column("time_ratio", "time ratio", ".2f"),
            Column("overhead_ratio", "overhead ratio", ".2f"),
            Column("status"),
        ],
    )
    return report


def plot(path: Path, targets, main_rows, peer_rows, nfes) -> Path | str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError as exc:
        return f"no plot: {exc}"
    gauss = [t for t in targets if t.gaussian]
    panels = [(t, "error") for t in targets] + [(t, "error_vs_ode") for t in gauss]
    cols = 3
    fig, axes = plt.subplots(
        math.ceil(len(panels) / cols),
        cols,
        figsize=(5 * cols, 4 * math.ceil(len(panels) / cols)),
        squeeze=False,
    )
    names = sorted({r["sampler"] for r in main_rows})
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    for ax, (t, key) in zip(axes.flat, panels):
        for name in names:
            pts = sorted(
                (r["nfe"], r[key])
                for r in main_rows
                if r["target"] == t.name and r["sampler"] == name and r.get(key) and r.get("nfe")
            )
            if pts:
                ax.plot(*zip(*pts), "o-", color=colors[name], label=name, ms=3)
        for label in sorted({r["pair"] for r in peer_rows}):
            pts = sorted(
                (r["nfe"], r[key])
                for r in peer_rows
                if r["target"] == t.name
                and r["pair"] == label
                and r["impl"] != "scorelab"
                and r.get(key)
                and r.get("nfe")
            )
            if pts:
                diffusers = "diffusers" in label
                ax.plot(
                    *zip(*pts),
                    "--" if diffusers else "-.",
                    color=colors.get(label.split()[0], "k"),
                    alpha=0.8,
                    label=f"{label.split(' vs ')[1]} ({'VP' if diffusers else 'EDM'})",
                )
        if key == "error":
            floors = {r.get("floor") for r in main_rows if r["target"] == t.name and r.get("floor")}
            for f in floors:
                ax.axhline(f, color="grey", ls=":", lw=1)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="NFE",
            title=f"{t.name}: " + ("W2 to target" if key == "error" else "W2 to exact PF-ODE law"),
        )
        ax.set_xticks(list(nfes))  # after set(xscale=...), which resets ticks and formatters
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.2)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = {}, []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend(
        [handles[k] for k in labels], labels, loc="lower center", ncol=4, fontsize=8, frameon=False
    )
    fig.suptitle(
        "scorelab samplers on VP, Karras grid (solid); peers: diffusers on VP (dashed), "
        "k-diffusion on EDM (dash-dot); dotted: estimator floor"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    out = save_figure_atomic(fig, path)
    plt.close(fig)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="smoke run: NFE 5 and 10, small n (< 1 min)"
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: on 2 shared cores, threading small "
        "elementwise ops costs more than it saves)",
    )
    p.add_argument("--no-peers", action="store_true", help="skip diffusers and k-diffusion")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - start:7.1f}s {msg}", file=sys.stderr, flush=True)

    nfes, tols = (QUICK_NFES, QUICK_TOLS) if args.quick else (NFES, TOLS)
    peer_nfes = QUICK_PEER_NFES if args.quick else PEER_NFES
    targets, bench = make_targets(args.quick), Bench(args.seed)
    peers = P.load_peers(not args.no_peers)
    peer_meta = {
        k: (f"{v.name} {v.version}" if isinstance(v, P.Peer) else f"peer unavailable: {v}")
        for k, v in peers.items()
    }
    notes = {k: v.notes for k, v in peers.items() if isinstance(v, P.Peer) and v.notes}
    if isinstance(peers.get("k-diffusion"), P.Peer):
        edm = EDM()
        diff = max(
            P.karras_grid_difference(
                peers["k-diffusion"], S.get_grid("karras", edm, n), edm.sigma_min, edm.sigma_max
            )
            for n in nfes
        )
        notes["karras grid"] = [
            f"ours vs k-diffusion's get_sigmas_karras: max relative difference {diff:.1e} "
            "(theirs is computed in float32); both sides run on ours"
        ]
    for k, v in peer_meta.items():
        log(f"{k}: {v}")

    info = target_info(bench, targets, max(nfes))
    main_rows = main_sweep(bench, targets, nfes, tols, log)
    peer_rows, comparisons = peer_sweep(bench, targets, peers, peer_nfes, log)
    for r in main_rows + peer_rows:
        r.pop("_out", None)
    args.out.mkdir(parents=True, exist_ok=True)
    figure = plot(args.out / "samplers_error_vs_nfe.png", targets, main_rows, peer_rows, nfes)
    command = "python -m benchmarks.core.samplers" + (" --quick" if args.quick else "")
    meta = machine_info(
        command=command,
        peers=peer_meta,
        peer_notes=notes,
        quick=args.quick,
        nfes=list(nfes),
        tols=list(tols),
        peer_nfes=list(peer_nfes),
        figure=figure.name if isinstance(figure, Path) else figure,
        runtime_s=time.perf_counter() - start,
    )
    data = dict(
        meta=meta, targets=info, rows=main_rows, peer_rows=peer_rows, comparisons=comparisons
    )
    build_report(meta, info, main_rows, comparisons, targets, nfes).write(
        args.out, "samplers", data
    )
    log(f"wrote {args.out}/samplers.md, samplers.json and {meta['figure']}")
    return data


if __name__ == "__main__":
    main()
