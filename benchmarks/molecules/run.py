"""Equivariant flow matching on QM9 at fixed CPU budgets, beside real molecules and the papers.

    python -m benchmarks.molecules.run                       # both parts, default budgets
    python -m benchmarks.molecules.run --parts uncond --budget-minutes 30
    python -m benchmarks.molecules.run --parts cond --properties gap mu
    python -m benchmarks.molecules.run --quick               # smoke run (tiny budgets)
    python -m benchmarks.molecules.run --report-only         # rebuild the table from the JSONs
    scorelab bench molecules

Unconditional (``uncond``): the default network is trained for a fixed wall-clock budget (the
step count that fits is measured first, so the cosine schedule ends on time), checkpoints
along the way give the learning curve (atom and molecule stability of a few hundred samples),
and the final model draws ``--n`` molecules scored the published way: atom and molecule
stability (EDM's bond-length rule), RDKit validity (largest fragment), uniqueness and novelty
(canonical SMILES against the training molecules). Sampling time per molecule is measured
against NFE (Euler steps). The same metrics on real QM9 test molecules are the floor.

Conditional (``cond``), per property (EDM's protocol): an E(3)-invariant regressor is trained
on the first half of the training set and the conditional generator on the second; targets
and atom counts are drawn together from the second half; the regressor measures the
generated molecules. Its MAE on the real molecules of the second half is the lower bound,
its MAE against shuffled targets the upper bound, and "#atoms" predicts from the atom count.
The out-of-distribution rate (our reading of PropMolFlow's metric) asks for values beyond the
99th percentile and counts how often the measured property gets there, with and without the
condition.

The two parts write their own JSON, so they can run as two processes (one thread each).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scorelab.apps.molecules import api
from scorelab.apps.molecules.config import RegressorConfig, preset
from scorelab.io import write_json_atomic

from ..harness import Column, Report, machine_info, timed

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
UNCOND_METRICS = ("atom_stability", "mol_stability", "validity", "uniqueness", "novelty")

#: published unconditional QM9 numbers (atom stab., mol stab., validity; uniqueness where given)
PUBLISHED_UNCOND = [
    ("EDM (Hoogeboom et al. 2022, Table 2)", 0.987, 0.820, 0.919, 0.901),
    ("GeoLDM (Xu et al. 2023, Table 1)", 0.989, 0.894, 0.938, 0.927),
    ("EquiFM (Song et al. 2023, Table 1)", 0.989, 0.883, 0.947, 0.935),
    ("QM9 data (EDM's Table 2)", 0.990, 0.952, 0.977, 0.974),
]
#: published conditional MAEs (gap meV, mu D); bounds from EDM's Table 3
PUBLISHED_COND = {
    "gap": {
        "QM9 regressor on data (lower bound, EDM)": 64,
        "#atoms (EDM)": 866,
        "shuffled (upper bound, EDM)": 1470,
        "EDM": 655,
        "EquiFM": 591,
        "PropMolFlow": 391,
    },
    "mu": {
        "QM9 regressor on data (lower bound, EDM)": 0.043,
        "#atoms (EDM)": 1.053,
        "shuffled (upper bound, EDM)": 1.616,
        "EDM": 1.111,
        "EquiFM": 1.106,
        "PropMolFlow": 0.620,
    },
}


def _steps_for(cfg: Any, split: dict, minutes: float, probe: int) -> tuple[int, float]:
    """Training steps that fit ``minutes``, from the rate of a ``probe``-step throwaway run."""
    tmp = Path(cfg.out).with_name(Path(cfg.out).name + "_probe")
    shutil.rmtree(tmp, ignore_errors=True)
    probe_cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, steps=probe, checkpoint_every=0, warmup_steps=0, progress=False
        ),
        out=tmp,
    )
    _, secs = timed(api.train, probe_cfg, split)
    shutil.rmtree(tmp, ignore_errors=True)
    rate = probe / secs
    return max(probe, int(minutes * 60 * rate)), rate


def _train_budget(cfg: Any, split: dict, minutes: float, probe: int, curve_points: int):
    steps, rate = _steps_for(cfg, split, minutes, probe)
    every = max(1, -(-steps // curve_points))  # ceil: the last curve point is the end
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, steps=steps, checkpoint_every=every, keep_checkpoints=curve_points + 1
        ),
    )
    shutil.rmtree(cfg.out, ignore_errors=True)
    _, secs = timed(api.train, cfg, split)
    return cfg, steps, rate, secs


def _metrics(mm: Any, n: int, steps: int, smiles: set[str], seed: int = 0) -> dict[str, Any]:
    res = api.evaluate(mm, n=n, seeds=(seed,), steps=steps, train_smiles_set=smiles)
    return res["runs"][0]


def _data_floor(split: dict, smiles: set[str], n: int) -> dict[str, Any]:
    from scorelab.apps.molecules.metrics import molecule_metrics

    test = split["test"]
    rows = np.random.default_rng(0).choice(len(test), size=min(n, len(test)), replace=False)
    mols = [test.molecule(int(i)) for i in rows]
    return molecule_metrics(mols, smiles)


def bench_uncond(args: argparse.Namespace, split: dict, smiles: set[str]) -> dict[str, Any]:
    """Train at each budget; the learning curve, the final metrics, time per molecule vs NFE."""
    out: dict[str, Any] = {"data_floor": _data_floor(split, smiles, args.n), "budgets": []}
    for minutes in args.budget_minutes:
        cfg = preset("qm9")
        cfg.data = dataclasses.replace(cfg.data, max_molecules=args.max_molecules)
        cfg.out = args.out / "runs" / f"uncond_{args.label}_{minutes:g}min"
        cfg.train = dataclasses.replace(cfg.train, progress=not args.no_progress)
        cfg, steps, rate, secs = _train_budget(cfg, split, minutes, args.probe, args.curve_points)
        print(f"== uncond {minutes:g} min: {steps} steps in {secs:.0f} s", flush=True)
        curve = []
        for ck in sorted((Path(cfg.out) / "checkpoints").glob("step_*")):
            mm = api.load(ck)
            m = _metrics(mm, args.curve_n, args.curve_steps, smiles)
            step = int(ck.name.split("_")[-1])
            curve.append({"step": step, "minutes": step / rate / 60, **m})
            print(f"   step {step}: {m['atom_stability']:.3f} / {m['mol_stability']:.3f}")
        mm = api.load(cfg.out)
        final = _metrics(mm, args.n, args.steps, smiles)
        nfe = []
        for k in args.nfe:
            m = _metrics(mm, args.nfe_n, k, smiles, seed=1)
            nfe.append({"nfe": k, **m})
        out["budgets"].append(
            {
                "minutes": minutes,
                "threads": torch.get_num_threads(),
                "train_steps": steps,
                "train_seconds": secs,
                "batch_size": cfg.train.batch_size,
                "model": dataclasses.asdict(cfg.model),
                "curve": curve,
                "final": {"nfe": args.steps, "n": args.n, **final},
                "nfe": nfe,
            }
        )
        write_json_atomic(args.out / f"molecules_uncond_{args.label}.json", out)
    return out


def bench_cond(args: argparse.Namespace, split: dict) -> dict[str, Any]:
    """Per property: regressor + bounds, conditional generator, MAE, OOD rate."""
    from scorelab.apps.molecules.conditional import conditional_mae, ood_rate
    from scorelab.apps.molecules.regression import (
        bounds,
        generator_half,
        load_regressor,
        train_regressor,
    )

    out: dict[str, Any] = {"properties": []}
    half = generator_half(split["train"])
    for prop in args.properties:
        rcfg = RegressorConfig(property=prop, out=args.out / "runs" / f"regressor_{prop}")
        rcfg.data = dataclasses.replace(rcfg.data, max_molecules=args.max_molecules)
        rcfg.train = dataclasses.replace(
            rcfg.train, steps=args.reg_steps, progress=not args.no_progress, eval_every=0
        )
        shutil.rmtree(rcfg.out, ignore_errors=True)
        _, reg_s = timed(train_regressor, rcfg, split)
        reg = load_regressor(rcfg.out)
        b = bounds(reg, half, split["train"])
        print(f"== {prop} regressor ({reg_s:.0f} s): {b}", flush=True)
        cfg = preset("qm9")
        cfg.data = dataclasses.replace(cfg.data, max_molecules=args.max_molecules)
        cfg.cond = dataclasses.replace(cfg.cond, properties=(prop,))
        cfg.out = args.out / "runs" / f"cond_{prop}"
        cfg.train = dataclasses.replace(cfg.train, progress=not args.no_progress)
        cfg, steps, rate, secs = _train_budget(cfg, split, args.cond_minutes, args.probe, 1)
        mm = api.load(cfg.out)
        maes = {}
        for w in args.guidance:
            r = conditional_mae(mm, reg, half, n=args.cond_n, guidance=w, steps=args.cond_steps)
            maes[f"{w:g}"] = r["mae"]
            print(f"   {prop} guidance {w:g}: MAE {r['mae']:.4g}", flush=True)
        ood = ood_rate(mm, reg, half, n=args.ood_n, steps=args.cond_steps)
        out["properties"].append(
            {
                "property": prop,
                "regressor_seconds": reg_s,
                "regressor_steps": args.reg_steps,
                "bounds": b,
                "generator_steps": steps,
                "generator_seconds": secs,
                "mae_by_guidance": maes,
                "ood": ood,
            }
        )
        write_json_atomic(args.out / "molecules_cond.json", out)
    return out


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _text(v: Any) -> str:
    return "–" if v is None else str(v)


def write_report(args: argparse.Namespace) -> None:
    """The markdown table and JSON from whatever parts have results."""
    report = Report(
        "3-D molecules on QM9: equivariant flow matching at CPU budgets",
        __doc__.split("\n\n", 2)[2].split("\n\nThe two parts")[0]
        + "\n\nMachine: "
        + ", ".join(f"{k} {v}" for k, v in machine_info().items()),
    )
    data: dict[str, Any] = {"machine": machine_info()}
    cond_file = args.out / "molecules_cond.json"
    runs = {
        f.stem.removeprefix("molecules_uncond_"): json.loads(f.read_text())
        for f in sorted(args.out.glob("molecules_uncond_*.json"))
    }
    if runs:
        data["uncond"] = runs
        u = next(iter(runs.values()))
        budgets = [(label, b) for label, r in runs.items() for b in r["budgets"]]
        rows = []
        for label, b in budgets:
            f = b["final"]
            rows.append(
                {
                    "method": f"ours, {label}: {b['minutes']:g} min on {b.get('threads', 1)} "
                    f"core(s), {b['train_steps']} steps",
                    **{k: _pct(f.get(k)) for k in UNCOND_METRICS},
                    "ms_per_mol": f"{1000 * f['seconds_per_molecule']:.1f}",
                    "nfe": f["nfe"],
                }
            )
        rows.append(
            {
                "method": "QM9 test molecules (ours, floor)",
                **{k: _pct(u["data_floor"].get(k)) for k in UNCOND_METRICS},
            }
        )
        for name, a, m, v, q in PUBLISHED_UNCOND:
            rows.append(
                {
                    "method": name,
                    "atom_stability": _pct(a),
                    "mol_stability": _pct(m),
                    "validity": _pct(v),
                    "uniqueness": _pct(q),
                }
            )
        cols = [Column("method")] + [Column(k, spec=_text) for k in UNCOND_METRICS]
        cols += [Column("ms_per_mol", "ms / molecule"), Column("nfe", "NFE")]
        report.add(
            "Unconditional QM9 (%)",
            f"{budgets[0][1]['final']['n'] if budgets else 0} "
            "samples per row; uniqueness is among valid, novelty among unique valid.",
            rows,
            cols,
        )
        for label, b in budgets:
            nfe_rows = [
                {
                    "nfe": r["nfe"],
                    **{k: _pct(r.get(k)) for k in UNCOND_METRICS[:3]},
                    "ms_per_mol": f"{1000 * r['seconds_per_molecule']:.1f}",
                }
                for r in b["nfe"]
            ]
            report.add(
                f"Sampling cost vs NFE ({label}, {b['minutes']:g}-min model, Euler)",
                "",
                nfe_rows,
                [Column("nfe", "NFE")]
                + [Column(k, spec=_text) for k in UNCOND_METRICS[:3]]
                + [Column("ms_per_mol", "ms / molecule")],
            )
            curve = [
                {
                    "step": r["step"],
                    "minutes": f"{r['minutes']:.1f}",
                    **{k: _pct(r.get(k)) for k in UNCOND_METRICS[:3]},
                }
                for r in b["curve"]
            ]
            report.add(
                f"Learning curve ({label}, {b['minutes']:g}-min budget)",
                "",
                curve,
                [Column("step"), Column("minutes", spec=_text)]
                + [Column(k, spec=_text) for k in UNCOND_METRICS[:3]],
            )
    if cond_file.is_file():
        c = json.loads(cond_file.read_text())
        data["cond"] = c
        for p in c["properties"]:
            prop, b = p["property"], p["bounds"]
            rows = [
                {
                    "method": "regressor on real molecules (ours, lower bound)",
                    "mae": b["lower_bound"],
                },
                {"method": "#atoms (ours)", "mae": b["atoms_only"]},
                {"method": "shuffled targets (ours, upper bound)", "mae": b["upper_bound"]},
            ]
            rows += [
                {"method": f"ours, guidance {w}", "mae": v} for w, v in p["mae_by_guidance"].items()
            ]
            rows += [
                {"method": f"{k} (published)", "mae": v}
                for k, v in PUBLISHED_COND.get(prop, {}).items()
            ]
            o = p["ood"]
            note = (
                f"Regressor: {p['regressor_steps']} steps in {p['regressor_seconds']:.0f} s; "
                f"generator: {p['generator_steps']} steps in {p['generator_seconds']:.0f} s. "
                f"OOD (targets beyond the {o['q']:g} quantile, {o['threshold']:.4g}): "
                f"{100 * o['success']:.1f}% of molecules measured beyond it when asked, "
                f"{100 * o['unconditional_rate']:.1f}% without the condition."
            )
            report.add(
                f"Conditional MAE: {prop}",
                note,
                rows,
                [Column("method"), Column("mae", "MAE", ".4g")],
            )
    report.write(args.out, "molecules", data)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark parts asked for, then print and write the report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--parts", nargs="+", default=["uncond", "cond"], choices=["uncond", "cond"])
    p.add_argument("--budget-minutes", nargs="+", type=float, default=[30.0])
    p.add_argument("--cond-minutes", type=float, default=12.0)
    p.add_argument("--reg-steps", type=int, default=1500)
    p.add_argument("--properties", nargs="+", default=["gap", "mu"])
    p.add_argument("--guidance", nargs="+", type=float, default=[1.0, 2.0])
    p.add_argument("--n", type=int, default=1000, help="molecules per final evaluation")
    p.add_argument("--steps", type=int, default=100, help="Euler steps of final evaluations")
    p.add_argument("--nfe", nargs="+", type=int, default=[10, 25, 50, 100, 200])
    p.add_argument("--nfe-n", type=int, default=300)
    p.add_argument("--curve-points", type=int, default=4)
    p.add_argument("--curve-n", type=int, default=200)
    p.add_argument("--curve-steps", type=int, default=50)
    p.add_argument("--cond-n", type=int, default=500, help="molecules per conditional MAE")
    p.add_argument("--cond-steps", type=int, default=50, help="Euler steps, conditional")
    p.add_argument("--ood-n", type=int, default=300)
    p.add_argument("--probe", type=int, default=30, help="steps timed to size the budget")
    p.add_argument("--max-molecules", type=int, default=None)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--label", default=None, help="names the unconditional run (default: loss)")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.label = args.label or f"{preset('qm9').model.loss}-loss"
    if args.quick:
        args.budget_minutes, args.cond_minutes, args.reg_steps = [0.3], 0.2, 20
        args.n, args.nfe_n, args.curve_n, args.ood_n, args.steps = 40, 20, 20, 20, 10
        args.cond_n, args.cond_steps = 20, 5
        args.nfe, args.curve_points, args.probe = [5, 10], 2, 5
        args.max_molecules = args.max_molecules or 3000
    if not args.report_only:
        cfg = preset("qm9")
        cfg.data = dataclasses.replace(cfg.data, max_molecules=args.max_molecules)
        split = api.load_split(cfg)
        for part in args.parts:
            try:
                if part == "uncond":
                    smiles, secs = timed(api.train_smiles, split)
                    print(f"== training SMILES: {len(smiles)} in {secs:.0f} s", flush=True)
                    bench_uncond(args, split, smiles)
                else:
                    bench_cond(args, split)
            except Exception as e:  # one part's failure must not lose the other
                print(f"== {part} failed: {e!r}", file=sys.stderr, flush=True)
    write_report(args)


if __name__ == "__main__":
    main()
