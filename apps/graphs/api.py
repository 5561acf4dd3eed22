"""The graphs app's Python API: ``train``, ``load``, ``sample``, ``evaluate``.

from scorelab.apps.graphs import preset, train, load, sample, evaluate
train(preset("community_small"))                  # GDSS on community-small, runs/graphs/...
graphs = sample("runs/graphs/community_small", 20)  # networkx graphs
mols = sample("runs/graphs/qm9", 100)              # RDKit molecules, valency-checked
scores = evaluate("runs/graphs/community_small", seeds=(0, 1, 2))
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scorelab import SYMMETRIC_MATRIX, VE, VP, DSMLoss, Field, Predictor
from scorelab import samplers as S
from scorelab.aggregate import summarize
from scorelab.config import load_config
from scorelab.io import write_json_atomic
from scorelab.training import Trainer, TrainResult, load_weights, resolve_checkpoint
from scorelab.training.data import TensorData
from scorelab.training.distributed import resolve_device

from .config import GraphsConfig, ModelConfig, SDEConfig
from .split import GraphSplit

META = "graphs_meta.json"


@dataclass
class GraphModel:
    """A trained GDSS model with what sampling needs: config and the training sizes."""

    model: Predictor
    cfg: GraphsConfig
    kind: str
    max_nodes: int
    max_feat: int
    atoms: tuple[str, ...]
    node_counts: list[int]
    """node counts of the training graphs: the default size distribution of samples"""


# --- data ---------------------------------------------------------------------------------
def load_split(cfg: GraphsConfig) -> GraphSplit:
    """The dataset's train/test split as ``cfg`` names it."""
    from .data import load_dataset

    d = cfg.data
    return load_dataset(
        cfg.dataset, d.path, seed=d.seed, max_molecules=d.max_molecules, cache_dir=d.cache_dir
    )


def split_tensors(split: GraphSplit, which: str = "train") -> dict[str, Tensor]:
    """``{"x", "adj", "node_mask"}`` of a split's train or test graphs, padded to max_nodes."""
    if split.kind == "molecule":
        from .chem import mols_to_tensors

        mols = split.train_mols if which == "train" else split.test_mols
        return mols_to_tensors(mols, split.atoms, split.max_nodes)
    from .convert import graphs_to_tensors

    graphs = split.train if which == "train" else split.test
    return graphs_to_tensors(graphs, split.max_nodes, split.max_feat)


def masks(node_mask: Tensor) -> dict[str, Tensor]:
    """Per-field masks of the state: real nodes for ``x``, pairs of real nodes for ``adj``."""
    m = node_mask.float()
    return {"x": m[..., None], "adj": m[:, :, None] * m[:, None, :]}


# --- model --------------------------------------------------------------------------------
def sde_path(cfg: SDEConfig, t_min: float) -> VP | VE:
    """One component's path: VP(beta_min, beta_max) or VE(sigma_min, sigma_max)."""
    if cfg.kind == "vp":
        return VP(beta_min=cfg.lo, beta_max=cfg.hi, t_min=t_min)
    return VE(sigma_min=cfg.lo, sigma_max=cfg.hi, t_min=t_min)


def paths_of(cfg: ModelConfig) -> dict[str, Field]:
    """The system of SDEs: node features in R^F, adjacency on symmetric zero-diagonal matrices."""
    return {
        "x": Field(sde_path(cfg.x_sde, cfg.t_min)),
        "adj": Field(sde_path(cfg.adj_sde, cfg.t_min), SYMMETRIC_MATRIX),
    }


def build_model(cfg: ModelConfig, max_feat: int) -> Predictor:
    """GDSS's X and A score networks as one eps-predictor over the (x, adj) state."""
    from .model import GDSSNet

    net = GDSSNet(
        max_feat,
        depth=cfg.depth,
        nhid=cfg.nhid,
        adim=cfg.adim,
        num_heads=cfg.num_heads,
        num_layers=cfg.num_layers,
        num_linears=cfg.num_linears,
        c_init=cfg.c_init,
        c_hid=cfg.c_hid,
        c_final=cfg.c_final,
        time_cond=cfg.time_cond,
    )
    return Predictor(net, {"x": "eps", "adj": "eps"})


# --- training -----------------------------------------------------------------------------
def train(cfg: GraphsConfig, split: GraphSplit | None = None) -> TrainResult:
    """Train GDSS as ``cfg`` says (resumable; DDP under ``torchrun``)."""
    split = split if split is not None else load_split(cfg)
    data = split_tensors(split, "train")
    n = len(data["x"])
    if cfg.train.batch_size > n:
        # GDSS's loader hands out the whole set when the batch exceeds it (community-small:
        # 128 > 80 graphs): do the same, and say so in the saved config
        print(f"graphs: batch_size {cfg.train.batch_size} > {n} training graphs; using {n}")
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=n))
    write_json_atomic(
        Path(cfg.out) / META,
        {
            "dataset": cfg.dataset,
            "kind": split.kind,
            "max_nodes": split.max_nodes,
            "max_feat": split.max_feat,
            "atoms": list(split.atoms),
            "node_counts": data["node_mask"].sum(1).long().tolist(),
        },
    )
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
    model = build_model(cfg.model, split.max_feat)
    loss = DSMLoss(paths_of(cfg.model))
    x, adj, node_mask = data["x"], data["adj"], data["node_mask"]

    def loss_fn(m: Predictor, idx: Tensor) -> Tensor:
        dev = next(m.parameters()).device
        nm = node_mask[idx].to(dev)
        x0 = {"x": x[idx].to(dev), "adj": adj[idx].to(dev)}
        return loss(m, x0, mask=masks(nm), node_mask=nm)

    trainer = Trainer(
        model, loss_fn, TensorData(torch.arange(len(x))), cfg.train, cfg.out, run_config=cfg
    )
    return trainer.fit()


def load(checkpoint: str | Path, weights: str | None = None, device: str = "cpu") -> GraphModel:
    """A trained model from a run or checkpoint folder (weights: the run's sampling default)."""
    ckpt = resolve_checkpoint(checkpoint)
    run = ckpt.parent.parent
    cfg = load_config(GraphsConfig, ckpt / "config.json")
    meta_file = run / META
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file}: missing; was this run trained by the graphs app?")
    meta = json.loads(meta_file.read_text())
    model = build_model(cfg.model, meta["max_feat"])
    model = load_weights(model, ckpt, which=weights or cfg.sample.weights)
    return GraphModel(
        model.to(resolve_device(device)).eval(),
        cfg,
        meta["kind"],
        meta["max_nodes"],
        meta["max_feat"],
        tuple(meta["atoms"]),
        list(meta["node_counts"]),
    )


def _as_model(model: GraphModel | str | Path) -> GraphModel:
    return model if isinstance(model, GraphModel) else load(model)


# --- sampling -----------------------------------------------------------------------------
def node_counts(
    gm: GraphModel, n: int, num_nodes: int | Sequence[int] | None, seed: int
) -> list[int]:
    """Sizes of ``n`` graphs: given, or drawn from the training sizes (as GDSS does)."""
    if num_nodes is None:
        rng = np.random.default_rng(seed)
        return [int(c) for c in rng.choice(gm.node_counts, size=n)]
    counts = [int(num_nodes)] * n if isinstance(num_nodes, int) else [int(c) for c in num_nodes]
    if len(counts) != n:
        raise ValueError(f"num_nodes has {len(counts)} entries for n = {n} graphs")
    bad = [c for c in counts if not 1 <= c <= gm.max_nodes]
    if bad:
        raise ValueError(
            f"num_nodes must lie in 1..{gm.max_nodes} (the model's size), got {bad[:5]}"
        )
    return counts


def generate(
    gm: GraphModel,
    n: int,
    num_nodes: int | Sequence[int] | None = None,
    *,
    sampler: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Raw samples ``{"x", "adj", "node_mask"}`` from the reverse system of SDEs (or its ODE)."""
    s = gm.cfg.sample
    sampler = sampler or s.sampler
    steps = steps or s.steps
    counts = node_counts(gm, n, num_nodes, seed)
    param = next(gm.model.parameters())
    dev = param.device
    opts: dict[str, Any] = {}
    if sampler in ("pc", "s4"):
        opts = {"snr": s.snr, "noise_scale": s.noise_scale}
        if sampler == "pc":
            opts["predictor"] = s.predictor
    g = torch.Generator(dev).manual_seed(seed)
    paths = paths_of(gm.cfg.model)
    nmax, out = gm.max_nodes, {"x": [], "adj": [], "node_mask": []}
    for lo in range(0, n, s.batch_size):
        c = torch.tensor(counts[lo : lo + s.batch_size], device=dev)
        nm = (torch.arange(nmax, device=dev)[None] < c[:, None]).float()
        b = len(c)
        res = S.sample(
            gm.model,
            paths,
            {"x": (b, nmax, gm.max_feat), "adj": (b, nmax, nmax)},
            sampler=sampler,
            steps=steps,
            grid="uniform",
            grid_options={"t_min": s.t_min},
            mask=masks(nm),
            cond={"node_mask": nm},
            generator=g,
            device=dev,
            dtype=param.dtype,
            progress=progress,
            **opts,
        )
        for k, v in (("x", res["x"]), ("adj", res["adj"]), ("node_mask", nm)):
            out[k].append(v.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def decode(gm: GraphModel, raw: dict[str, Tensor]) -> tuple[list[Any], list[bool]]:
    """Graphs (adjacency quantized at 0.5) or valency-checked molecules, with validity flags.

    For molecules the flag says whether the raw decoding was valid without correction; for
    generic graphs every flag is True.
    """
    if gm.kind == "molecule":
        from .chem import decode_molecules

        return decode_molecules(raw["x"], raw["adj"], raw["node_mask"], gm.atoms)
    from .convert import tensors_to_graphs

    graphs = tensors_to_graphs(raw["adj"], raw["node_mask"], threshold=0.5)
    return graphs, [True] * len(graphs)


def sample(
    model: GraphModel | str | Path,
    n: int,
    num_nodes: int | Sequence[int] | None = None,
    *,
    sampler: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[Any]:
    """``n`` networkx graphs (or RDKit molecules for a molecule run) from a trained model."""
    gm = _as_model(model)
    raw = generate(gm, n, num_nodes, sampler=sampler, steps=steps, seed=seed, progress=progress)
    return decode(gm, raw)[0]


# --- evaluation ---------------------------------------------------------------------------
def score(
    split: GraphSplit, samples: list[Any], valid_flags: list[bool] | None = None
) -> dict[str, float]:
    """The published metrics of ``samples`` against the split's test set.

    Generic graphs: degree / clustering / orbit / spectral MMD (GDSS's recipe; planar and SBM
    with SPECTRE's Gaussian-TV kernels), plus V.U.N. for planar and SBM. Molecules: validity
    without correction, uniqueness, novelty, NSPDK MMD and FCD.
    """
    if split.kind == "molecule":
        from .mol_metrics import molecule_metrics

        flags = valid_flags if valid_flags is not None else [True] * len(samples)
        return molecule_metrics(samples, flags, split.train_smiles, split.test_smiles, split.test)
    from .graph_stats import graph_mmds

    # planar and SBM are scored as SPECTRE/DiGress do (Gaussian-TV kernels), the others as GDSS
    kernel = "gaussian_tv" if split.name in ("planar", "sbm") else "gaussian_emd"
    res = graph_mmds(split.test, samples, kernel=kernel)
    if split.name in ("planar", "sbm"):
        from .vun import vun

        res.update(vun(samples, split.train, validity=split.name))
    return res


def evaluate(
    model: GraphModel | str | Path,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n: int | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    split: GraphSplit | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Score samples against the test set over sampling ``seeds`` (GDSS: n = |test|)."""
    gm = _as_model(model)
    split = split if split is not None else load_split(gm.cfg)
    n = n or len(split.test)
    runs = []
    for seed in seeds:
        raw = generate(gm, n, sampler=sampler, steps=steps, seed=seed)
        samples, flags = decode(gm, raw)
        runs.append(score(split, samples, flags))
    res = {
        "dataset": gm.cfg.dataset,
        "n": n,
        "seeds": list(seeds),
        "sampler": sampler or gm.cfg.sample.sampler,
        "steps": steps or gm.cfg.sample.steps,
        "runs": runs,
        "summary": summarize(runs),
    }
    if out is not None:
        write_json_atomic(Path(out) / "eval.json", res)
    return res
