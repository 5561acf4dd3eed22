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
import sys
import time
from pathlib import Path
from typing import Any

import torch

from scorelab import EDM
from scorelab import samplers as S

from ..harness import machine_info
from . import sampler_peers as P
from .sampler_report import build_report, plot
from .sampler_sweeps import Bench, main_sweep, peer_sweep, target_info
from .sampler_targets import make_targets

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
NFES, QUICK_NFES = (5, 10, 20, 50, 100), (5, 10)
PEER_NFES, QUICK_PEER_NFES = (5, 10, 20, 50), (10,)
TOLS, QUICK_TOLS = (1e-2, 1e-3, 1e-4), (1e-3,)


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
