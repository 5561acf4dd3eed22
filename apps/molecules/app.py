"""The molecules app as the ``scorelab`` CLI sees it (entry point ``...molecules.app:APP``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scorelab.app import App, DemoSection
from scorelab.training import run_dir_of

from .config import MoleculeEvalOptions, MoleculeSampleOptions, MoleculesConfig, preset


def _train(cfg: MoleculesConfig):
    from .api import train

    return train(cfg)


def _sample(opts: MoleculeSampleOptions) -> Path:
    from .api import generate, load, to_molecules
    from .formats import write_sdf, write_xyz
    from .plots import render_molecules
    from .tensors import molecules_of

    mm = load(opts.checkpoint, opts.weights, opts.device)
    if len(opts.target) != len(opts.property):
        raise ValueError(f"--property {opts.property} needs as many --target values")
    raw = generate(
        mm,
        opts.n,
        property=list(opts.property) or None,
        target=list(opts.target) or None,
        num_atoms=opts.num_atoms,
        sampler=opts.sampler,
        steps=opts.steps,
        guidance=opts.guidance,
        seed=opts.seed,
        progress=opts.progress,
    )
    out = Path(opts.out) if opts.out is not None else run_dir_of(opts.checkpoint) / "samples"
    mols = molecules_of(raw, mm.atoms, mm.charges)
    write_xyz(out / "samples.xyz", [(s, p) for s, p, _ in mols])
    render_molecules(out / "samples.png", [(s, p) for s, p, _ in mols[:16]])
    return write_sdf(out / "samples.sdf", to_molecules(raw, mm.atoms, mm.charges))


def _evaluate(opts: MoleculeEvalOptions) -> dict[str, Any]:
    from .api import evaluate, load

    mm = load(opts.checkpoint, opts.weights, opts.device)
    out = Path(opts.out) if opts.out is not None else run_dir_of(opts.checkpoint) / "eval"
    res = evaluate(mm, n=opts.n, seeds=opts.seeds, sampler=opts.sampler, steps=opts.steps, out=out)
    if opts.regressor is not None:
        from .conditional import conditional_mae
        from .regression import generator_half, load_regressor

        reg = load_regressor(opts.regressor, device=opts.device)
        from .api import load_split

        half = generator_half(load_split(mm.cfg)["train"])
        mae = conditional_mae(mm, reg, half, n=opts.n, steps=opts.steps)
        res["property_mae"] = {k: mae[k] for k in ("property", "n", "mae")}
    return res


def _demo(out: Path, quick: bool) -> DemoSection:
    from .demo import demo

    return demo(out, quick)


APP = App(
    name="molecules",
    summary="3-D molecules by E(3)-equivariant flow matching, property-guided (PropMolFlow)",
    config=MoleculesConfig,
    train=_train,
    sample=_sample,
    evaluate=_evaluate,
    sample_options=MoleculeSampleOptions,
    evaluate_options=MoleculeEvalOptions,
    benchmarks=("scorelab.benchmarks.molecules.run",),
    demo=_demo,
    preset=preset,
    preset_option="dataset",
)
