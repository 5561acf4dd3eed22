"""GDSS vs the training set itself and fitted baselines, scored the published way, in one run.

    python -m benchmarks.graphs.run                         # community_small grid planar qm9
    python -m benchmarks.graphs.run --quick                 # smoke run (tiny budgets)
    python -m benchmarks.graphs.run --datasets community_small --seeds 0 1 2 3 4
    python -m benchmarks.graphs.run --datasets enzymes --enzymes data/ENZYMES   # local copies
    scorelab bench graphs

Per dataset: GDSS is trained with the dataset's preset (GDSS's published model, SDEs and
sampler; our CPU step budget, overridable with ``--train-steps``), then for every sampling
seed draws as many graphs as the test set holds (molecules: ``--mol-samples``) with node
counts from the training graphs. The Langevin corrector's snr (GDSS's is one fixed value per
dataset) is chosen from ``--snr-sweep`` by the MMD of samples to the training graphs on a
separate seed, never by the test set. Beside it, scored the same way against the same test set:
the training graphs themselves (|test| of them per seed: the metric's floor at this size),
an Erdos-Renyi generator with the data's density and a degree-matched configuration model
(generic graphs only). Every metric is the mean over seeds with the standard deviation.
Published GDSS numbers (Jo et al. 2022, Tables 1-3) are quoted beside ours.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from scorelab.apps.graphs import api
from scorelab.apps.graphs.baselines import BASELINES
from scorelab.apps.graphs.config import preset

from ..harness import Column, Report, machine_info, timed

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_DATASETS = ("community_small", "grid", "planar", "qm9")
GENERIC_METRICS = ("degree", "cluster", "orbit", "spectral")
VUN_METRICS = ("valid", "unique", "novel", "vun")
MOL_METRICS = ("validity_wo_correction", "uniqueness", "novelty", "nspdk", "fcd")

#: GDSS's published numbers (Jo et al. 2022, Tables 1-3)
PUBLISHED = {
    "community_small": {"degree": 0.045, "cluster": 0.086, "orbit": 0.007},
    "grid": {"degree": 0.111, "cluster": 0.005, "orbit": 0.070},
    "ego_small": {"degree": 0.021, "cluster": 0.024, "orbit": 0.007},
    "enzymes": {"degree": 0.026, "cluster": 0.061, "orbit": 0.009},
    "qm9": {"validity_wo_correction": 0.957, "nspdk": 0.003, "fcd": 2.90},
    "zinc250k": {"validity_wo_correction": 0.970, "nspdk": 0.019, "fcd": 14.66},
}
QUICK_STEPS = {"community_small": 60, "grid": 4, "planar": 40, "sbm": 20}
#: no snr sweep: one grid sampling pass costs minutes on 2 CPU cores (the preset's snr is GDSS's)
NO_SWEEP = {"grid"}


def _config(name: str, args: argparse.Namespace, out: Path):
    cfg = preset(name)
    data = cfg.data
    path = {"enzymes": args.enzymes, "ego_small": args.ego_small, "zinc250k": args.zinc250k}
    if path.get(name):
        data = dataclasses.replace(data, path=Path(path[name]))
    if name in ("qm9", "zinc250k", "nci") and args.max_molecules:
        data = dataclasses.replace(data, max_molecules=args.max_molecules)
    steps = args.train_steps or (QUICK_STEPS.get(name, 20) if args.quick else cfg.train.steps)
    train = dataclasses.replace(
        cfg.train, steps=steps, progress=not args.no_progress, checkpoint_every=0
    )
    sample = cfg.sample
    if args.sample_steps or args.quick:
        sample = dataclasses.replace(sample, steps=args.sample_steps or 20)
    return dataclasses.replace(cfg, data=data, train=train, sample=sample, out=out / "runs" / name)


def _row(dataset: str, method: str, runs: list[dict[str, float]], **extra: Any) -> dict:
    summary = api.summarize(runs)
    row = {"dataset": dataset, "method": method, **extra}
    for k, v in summary.items():
        row[k] = v["mean"]
        row[f"{k}_std"] = v["std"]
    return row


def bench_dataset(name: str, args: argparse.Namespace, out: Path) -> tuple[list[dict], dict]:
    """Train GDSS on one dataset, sample over seeds, score it beside the baselines."""
    cfg = _config(name, args, out)
    split = api.load_split(cfg)
    print(f"== {name}: {split}", file=sys.stderr, flush=True)
    _, train_s = timed(api.train, cfg, split)
    gm = api.load(cfg.out, device="cpu")
    molecule = split.kind == "molecule"
    n = args.mol_samples if molecule and args.mol_samples else len(split.test)
    if args.quick:
        n = min(n, 64)
    sweep = []
    sweepable = not molecule and name not in NO_SWEEP and gm.cfg.sample.sampler in ("pc", "s4")
    if args.snr_sweep and sweepable:
        gm, sweep = select_snr(gm, split, args.snr_sweep, n)
    runs, sample_s, first = [], 0.0, None
    for seed in args.seeds:
        raw, dt = timed(api.generate, gm, n, seed=seed, progress=not args.no_progress)
        sample_s += dt
        items, flags = api.decode(gm, raw)
        first = first or items
        runs.append(api.score(split, items, flags))
    steps = gm.cfg.sample.steps
    nfe = steps * (2 if gm.cfg.sample.sampler == "pc" else 1)
    rows = [
        _row(
            name,
            "GDSS (ours)",
            runs,
            train_steps=cfg.train.steps,
            train_s=train_s,
            sample_ms=1000 * sample_s / (n * len(args.seeds)),
            nfe=nfe,
        )
    ]
    if molecule:
        floor = []
        for seed in args.seeds:
            idx = torch.randperm(
                len(split.train_mols), generator=torch.Generator().manual_seed(seed)
            )
            mols = [split.train_mols[int(i)] for i in idx[:n]]
            floor.append(api.score(split, mols, [True] * len(mols)))
        rows.append(_row(name, "training set (floor)", floor))
    else:
        for label, fn in BASELINES.items():
            base = [api.score(split, fn(split.train, n, seed=s)) for s in args.seeds]
            title = {"train": "training set (floor)", "erdos_renyi": "Erdos-Renyi"}.get(
                label, "configuration model"
            )
            rows.append(_row(name, title, base))
    if name in PUBLISHED:
        rows.append({"dataset": name, "method": "GDSS (published)", **PUBLISHED[name]})
    fig = _figure(name, split, first, out)
    info = {"split": repr(split), "n": n, "figure": fig, "config": dataclasses.asdict(cfg)}
    return rows, {**info, "snr": gm.cfg.sample.snr, "snr_sweep": sweep}


def select_snr(gm: Any, split: Any, snrs: list[float], n: int) -> tuple[Any, list[dict]]:
    """Pick the Langevin corrector's snr by MMD to the TRAINING graphs (never the test set).

    One sampling seed (1000, apart from the evaluation seeds) per candidate; the criterion is
    the sum of the degree, clustering and orbit MMDs against the training graphs.
    """
    from scorelab.apps.graphs.graph_stats import graph_mmds

    sweep = []
    for snr in snrs:
        cand = dataclasses.replace(gm.cfg, sample=dataclasses.replace(gm.cfg.sample, snr=snr))
        trial = dataclasses.replace(gm, cfg=cand)
        graphs, _ = api.decode(trial, api.generate(trial, n, seed=1000))
        m = graph_mmds(split.train, graphs, metrics=("degree", "cluster", "orbit"))
        sweep.append({"snr": snr, **m, "criterion": sum(m.values())})
        print(f"   snr {snr}: {sweep[-1]}", file=sys.stderr, flush=True)
    best = min(sweep, key=lambda r: r["criterion"])["snr"]
    cfg = dataclasses.replace(gm.cfg, sample=dataclasses.replace(gm.cfg.sample, snr=best))
    return dataclasses.replace(gm, cfg=cfg), sweep


def _figure(name: str, split: Any, samples: list[Any], out: Path) -> str:
    from scorelab.apps.graphs.plots import draw_graphs, draw_molecules

    path = out / f"samples_{name}.png"
    if split.kind == "molecule":
        draw_molecules(path, samples[:24])
    else:
        draw_graphs(path, {"training graphs": split.train[:8], "GDSS samples": samples[:8]})
    return str(path)


def _display(row: dict, metrics: tuple[str, ...]) -> dict:
    """The row with "mean ± std" cells (the published row has no spread)."""
    shown = dict(row)
    for m in metrics:
        v, sd = row.get(m), row.get(f"{m}_std")
        shown[m] = None if v is None else f"{v:.3g}" if sd is None else f"{v:.3g} ± {sd:.2g}"
    return shown


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; print the table, write ``graphs.md``/``graphs.json`` and figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--train-steps", type=int, default=None, help="override every preset")
    p.add_argument("--sample-steps", type=int, default=None, help="override every preset")
    p.add_argument("--mol-samples", type=int, default=1000, help="molecules per seed")
    p.add_argument("--max-molecules", type=int, default=None, help="subsample molecule sets")
    p.add_argument("--enzymes", default=None, help="local ENZYMES (TU folder or GDSS pickle)")
    p.add_argument("--ego-small", default=None, help="local GDSS ego_small.pkl")
    p.add_argument("--zinc250k", default=None, help="local GDSS zinc250k.csv")
    p.add_argument(
        "--snr-sweep",
        nargs="*",
        type=float,
        default=[0.05, 0.1, 0.2, 0.3, 0.4],
        help="corrector snr candidates, chosen by MMD to the training graphs (none: preset's)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows, info = [], {}
    for name in args.datasets:
        try:
            r, i = bench_dataset(name, args, args.out)
        except Exception as e:  # one dataset's failure must not lose the others
            print(f"== {name} failed: {e!r}", file=sys.stderr, flush=True)
            r, i = [], {"error": repr(e)}
        rows += r
        info[name] = i
        write_report(args, rows, info)  # after every dataset: a long run keeps what it has


def write_report(args: argparse.Namespace, rows: list[dict], info: dict) -> None:
    """Print the table and write ``graphs.md``/``graphs.json`` for the datasets done so far."""
    report = Report(
        "Graph generation: GDSS vs the training set and fitted baselines",
        __doc__.split("\n\n", 2)[2]
        + "\n\nMachine: "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items()),
    )
    for name in info:
        sub = [r for r in rows if r["dataset"] == name]
        if not sub:
            report.add(name, f"failed: {info[name].get('error')}")
            continue
        mol = any("nspdk" in r for r in sub)
        metrics = MOL_METRICS if mol else GENERIC_METRICS
        if name in ("planar", "sbm"):
            metrics = metrics + VUN_METRICS
        ours = sub[0]
        note = (
            f"{info[name]['split']}; {info[name]['n']} samples per seed, seeds {args.seeds}. "
            f"GDSS: {ours['train_steps']} training steps in {ours['train_s']:.0f} s, "
            f"{ours['nfe']} NFE, {ours['sample_ms']:.1f} ms per sample"
        )
        if info[name]["snr_sweep"]:
            tried = ", ".join(
                f"{r['snr']:g}: {r['criterion']:.3f}" for r in info[name]["snr_sweep"]
            )
            note += (
                f"; corrector snr {info[name]['snr']:g} chosen by MMD to the training graphs "
                f"(deg + clus + orbit per snr: {tried})"
            )
        note += "."
        shown = [_display(r, metrics) for r in sub]
        report.add(name, note, shown, [Column("method")] + [Column(m) for m in metrics])
    report.write(args.out, "graphs", {"rows": rows, "info": info, "machine": machine_info()})


if __name__ == "__main__":
    main()
