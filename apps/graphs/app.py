"""The graphs app as the ``scorelab`` CLI sees it (entry point ``scorelab.apps.graphs.app:APP``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scorelab.app import App, DemoSection
from scorelab.training import run_dir_of

from .config import GraphEvalOptions, GraphSampleOptions, GraphsConfig, preset


def _train(cfg: GraphsConfig):
    from .api import train

    return train(cfg)


def _sample(opts: GraphSampleOptions) -> Path:
    from scorelab.io import write_text_atomic

    from .api import load, sample

    gm = load(opts.checkpoint, opts.weights, opts.device)
    items = sample(
        gm,
        opts.n,
        opts.num_nodes,
        sampler=opts.sampler,
        steps=opts.steps,
        seed=opts.seed,
        progress=opts.progress,
    )
    out = Path(opts.out) if opts.out is not None else run_dir_of(opts.checkpoint) / "samples"
    out.mkdir(parents=True, exist_ok=True)
    if gm.kind == "molecule":
        from rdkit import Chem

        from .plots import draw_molecules

        smiles = [Chem.MolToSmiles(m) if m is not None else "" for m in items]
        draw_molecules(out / "samples.png", items[:24])
        return write_text_atomic(out / "samples.smi", "\n".join(smiles) + "\n")
    import networkx as nx

    from .plots import draw_graphs

    draw_graphs(out / "samples.png", {"samples": items[:16]}, per_row=8)
    lines = [nx.to_graph6_bytes(g, header=False).decode().strip() for g in items]
    return write_text_atomic(out / "samples.g6", "\n".join(lines) + "\n")


def _evaluate(opts: GraphEvalOptions) -> dict[str, Any]:
    from .api import evaluate, load

    gm = load(opts.checkpoint, opts.weights, opts.device)
    out = Path(opts.out) if opts.out is not None else run_dir_of(opts.checkpoint) / "eval"
    return evaluate(gm, seeds=opts.seeds, sampler=opts.sampler, steps=opts.steps, out=out)


def _demo(out: Path, quick: bool) -> DemoSection:
    from .demo import demo

    return demo(out, quick)


APP = App(
    name="graphs",
    summary="graph generation with a system of SDEs over nodes and adjacency (GDSS)",
    config=GraphsConfig,
    train=_train,
    sample=_sample,
    evaluate=_evaluate,
    sample_options=GraphSampleOptions,
    evaluate_options=GraphEvalOptions,
    benchmarks=("scorelab.benchmarks.graphs.run",),
    demo=_demo,
    preset=preset,
    preset_option="dataset",
)
