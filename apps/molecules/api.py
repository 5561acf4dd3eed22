"""The molecules app's Python API: ``train``, ``load``, ``sample``, ``evaluate``.

from scorelab.apps.molecules import preset, train, load, sample, evaluate
train(preset("qm9"))                                   # unconditional, runs/molecules/qm9
mols = sample("runs/molecules/qm9", 16)                # RDKit molecules with 3-D conformers
cfg = preset("qm9"); cfg.cond.properties = ("gap",); cfg.out = "runs/molecules/qm9_gap"
train(cfg)
mols = sample("runs/molecules/qm9_gap", 16, property="gap", target=6000.0)   # gap in meV
scores = evaluate("runs/molecules/qm9", n=1000)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scorelab import ZERO_COM, DSMLoss, Field, FlowMatchingLoss, Interpolant, Predictor
from scorelab import samplers as S
from scorelab.aggregate import summarize
from scorelab.config import load_config
from scorelab.io import write_json_atomic
from scorelab.training import Trainer, TrainResult, load_weights, resolve_checkpoint
from scorelab.training.data import TensorData
from scorelab.training.distributed import resolve_device

from .config import ModelConfig, MoleculesConfig
from .dataset import MoleculeSet
from .tensors import (
    PropertyStats,
    SizeDistribution,
    decode,
    field_masks,
    molecules_of,
    node_mask_of,
    to_tensors,
)

META = "molecules_meta.json"


@dataclass
class MoleculeModel:
    """A trained flow with what sampling needs: config, vocabularies, sizes, property stats."""

    model: Predictor
    cfg: MoleculesConfig
    atoms: tuple[str, ...]
    charges: tuple[int, ...]
    max_atoms: int
    sizes: SizeDistribution
    stats: dict[str, PropertyStats]

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties this model is conditioned on (empty: unconditional)."""
        return tuple(self.cfg.cond.properties)


# --- data ---------------------------------------------------------------------------------
def load_split(cfg: MoleculesConfig) -> dict[str, MoleculeSet]:
    """The dataset's train/valid/test sets as ``cfg`` names them (EDM's QM9 split)."""
    d = cfg.data
    if cfg.dataset == "qm9":
        from .qm9 import load_qm9_split

        return load_qm9_split(
            seed=d.seed, path=d.path, cache_dir=d.cache_dir, max_molecules=d.max_molecules
        )
    from .geom import load_geom_drugs

    if d.path is None:
        raise ValueError("geom_drugs needs data.path: the folder holding geom_drugs_30.npy")
    ms = load_geom_drugs(d.path, max_conformers=d.max_molecules)
    perm = np.random.RandomState(d.seed).permutation(len(ms))
    n_test = n_val = max(1, len(ms) // 10)
    return {
        "train": ms.subset(perm[n_test + n_val :]),
        "valid": ms.subset(perm[n_test : n_test + n_val]),
        "test": ms.subset(perm[:n_test]),
    }


def training_set(cfg: MoleculesConfig, split: dict[str, MoleculeSet]) -> MoleculeSet:
    """The generator's training molecules: all of train, or its generator half when conditional."""
    train = split["train"]
    if not cfg.cond.properties:
        return train
    from .qm9 import check_property, halves

    for p in cfg.cond.properties:
        check_property(p)
        if p not in train.properties:
            raise ValueError(f"dataset {cfg.dataset!r} has no property {p!r} to condition on")
    return train.subset(halves(np.arange(len(train)))["generator"])


# --- model --------------------------------------------------------------------------------
def paths_of(cfg: ModelConfig) -> dict[str, Field]:
    """Linear (or trig) interpolants per field; positions on the zero-CoM geometry."""
    path = Interpolant(cfg.interpolant)
    return {"pos": Field(path, ZERO_COM), "atom_type": Field(path), "charge": Field(path)}


def build_model(cfg: MoleculesConfig, n_types: int, n_charges: int) -> Predictor:
    """The equivariant network as a Predictor of ``cfg.model.prediction`` per field."""
    from .network import MoleculeFlowNet

    c = cfg.cond
    net = MoleculeFlowNet(
        n_types,
        n_charges,
        backbone=cfg.model.backbone,
        hidden=cfg.model.hidden,
        layers=cfg.model.layers,
        properties=tuple(c.properties),
        combination=c.combination,
        gaussian_expansion=c.gaussian_expansion,
        n_gaussians=c.n_gaussians,
    )
    kind = cfg.model.prediction
    return Predictor(net, {"pos": kind, "atom_type": kind, "charge": kind})


def _coupling(cfg: ModelConfig):
    if not cfg.ot_alignment:
        return None
    from scorelab.alignment import equivariant_ot_coupling

    return equivariant_ot_coupling("pos")


def loss_of(cfg: ModelConfig) -> FlowMatchingLoss | DSMLoss:
    """The flow-matching loss on velocities, or the x0-MSE (DSM with the x0 weighting)."""
    if cfg.loss == "x0":
        return DSMLoss(paths_of(cfg), weighting="x0", coupling=_coupling(cfg))
    return FlowMatchingLoss(paths_of(cfg), coupling=_coupling(cfg))


# --- training -----------------------------------------------------------------------------
def train(cfg: MoleculesConfig, split: dict[str, MoleculeSet] | None = None) -> TrainResult:
    """Train the flow as ``cfg`` says (resumable; DDP under ``torchrun``)."""
    split = split if split is not None else load_split(cfg)
    ms = training_set(cfg, split)
    if cfg.train.batch_size > len(ms):
        raise ValueError(f"batch_size {cfg.train.batch_size} > {len(ms)} training molecules")
    data = to_tensors(ms, cfg.model.type_scale, cfg.model.charge_scale)
    props = {p: ms.properties[p] for p in cfg.cond.properties}
    stats = {p: PropertyStats.of(v) for p, v in props.items()}
    sizes = SizeDistribution.of(ms.num_atoms, props)
    write_json_atomic(
        Path(cfg.out) / META,
        {
            "dataset": cfg.dataset,
            "atoms": list(ms.atoms),
            "charges": list(ms.charges),
            "max_atoms": int(ms.pos.shape[1]),
            "sizes": dataclasses.asdict(sizes),
            "stats": {p: dataclasses.asdict(s) for p, s in stats.items()},
        },
    )
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
    model = build_model(cfg, len(ms.atoms), len(ms.charges))
    loss = loss_of(cfg.model)
    normed = {p: stats[p].normalize(data.properties[p]) for p in props}
    drop = cfg.cond.drop_prob

    def loss_fn(m: Predictor, idx: Tensor) -> Tensor:
        dev = next(m.parameters()).device
        idx = idx.cpu()
        x0, nm = data.batch(idx)
        x0, nm = {k: v.to(dev) for k, v in x0.items()}, nm.to(dev)
        cond: dict[str, Any] = {"node_mask": nm}
        if normed:
            keep = torch.rand(len(idx)) >= drop  # classifier-free guidance's null, per sample
            nan = torch.tensor(float("nan"))
            cond["properties"] = {
                p: torch.where(keep, v[idx], nan).to(dev) for p, v in normed.items()
            }
        return loss(m, x0, mask=field_masks(nm), **cond)

    trainer = Trainer(
        model, loss_fn, TensorData(torch.arange(len(data))), cfg.train, cfg.out, run_config=cfg
    )
    return trainer.fit()


def load(checkpoint: str | Path, weights: str | None = None, device: str = "cpu") -> MoleculeModel:
    """A trained model from a run or checkpoint folder (weights: the run's sampling default)."""
    ckpt = resolve_checkpoint(checkpoint)
    run = ckpt.parent.parent
    cfg = load_config(MoleculesConfig, ckpt / "config.json")
    meta_file = run / META
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file}: missing; was this run trained by the molecules app?")
    meta = json.loads(meta_file.read_text())
    sizes = SizeDistribution(**meta["sizes"])
    if len(sizes.counts) > meta["max_atoms"] + 1:
        raise ValueError(f"{meta_file}: the atom-count histogram is longer than max_atoms")
    model = build_model(cfg, len(meta["atoms"]), len(meta["charges"]))
    model = load_weights(model, ckpt, which=weights or cfg.sample.weights)
    return MoleculeModel(
        model.to(resolve_device(device)).eval(),
        cfg,
        tuple(meta["atoms"]),
        tuple(int(c) for c in meta["charges"]),
        int(meta["max_atoms"]),
        sizes,
        {p: PropertyStats(**s) for p, s in meta["stats"].items()},
    )


def _as_model(model: MoleculeModel | str | Path) -> MoleculeModel:
    return model if isinstance(model, MoleculeModel) else load(model)


# --- sampling -----------------------------------------------------------------------------
def _targets(
    mms: list[MoleculeModel], n: int, property: str | Sequence[str] | None, target: Any
) -> dict[str, np.ndarray]:
    """Per-sample target values (published units) keyed by property; checked against the model."""
    if property is None:
        if target is not None:
            raise ValueError("target given without property=")
        return {}
    from .qm9 import check_property

    names = [property] if isinstance(property, str) else list(property)
    for p in names:
        check_property(p)
    if target is None:
        raise ValueError(f"property={names} needs target= values")
    values = [target] if len(names) == 1 else list(target)
    if len(values) != len(names):
        raise ValueError(f"got {len(values)} targets for properties {names}")
    known = {p for m in mms for p in m.properties}
    missing = [p for p in names if p not in known]
    if missing:
        have = ", ".join(sorted(known)) or "none (an unconditional model)"
        raise ValueError(f"model is not conditioned on {missing}; it is conditioned on {have}")
    out = {}
    for p, v in zip(names, values):
        a = np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
        if not np.isfinite(a).all():
            raise ValueError(f"target for {p!r} has NaN or inf values")
        out[p] = a
    return out


class _Only(torch.nn.Module):
    """One expert of a product: ``model`` sees only its own properties (none: unconditional)."""

    def __init__(self, model: Predictor, names: Sequence[str]) -> None:
        super().__init__()
        self.model, self.names, self.prediction = model, tuple(names), model.prediction

    def forward(self, x: dict[str, Tensor], t: Tensor, **cond: Any) -> dict[str, Tensor]:
        props = cond.pop("properties", None) or {}
        mine = {k: v for k, v in props.items() if k in self.names}
        return self.model(x, t, **cond, properties=mine or None)


def _guided(
    mms: list[MoleculeModel], paths: dict[str, Field], targets: Mapping[str, np.ndarray], w: float
) -> Any:
    """The model the sampler integrates: plain, classifier-free guided, or a product of experts.

    Several models, each conditioned on its own properties, combine as the product
    p(x | a) p(x | b) / p(x) (scores: s_a + s_b - s_uncond, the unconditional score read off
    the first model's null condition): the core's ``ProductOfExperts`` with exponents
    (1, ..., 1, 1 - k). Run by an ODE this is the naive product; the Feynman-Kac correction
    (``scorelab.sample_fkc``) needs a single-tensor state and an SDE, so it is not applied.
    """
    if len(mms) == 1:
        if not targets or w == 1.0:
            return mms[0].model
        from scorelab import ClassifierFreeGuidance

        return ClassifierFreeGuidance(mms[0].model, paths, w, cond_key="properties")
    from scorelab import ProductOfExperts

    experts = [_Only(m.model, m.properties) for m in mms] + [_Only(mms[0].model, ())]
    return ProductOfExperts(experts, paths, exponents=[1.0] * len(mms) + [1.0 - len(mms)])


def _models(model: Any) -> list[MoleculeModel]:
    if isinstance(model, (list, tuple)):
        if not model:
            raise ValueError("got an empty list of models")
        mms = [_as_model(m) for m in model]
        if len({(m.atoms, m.charges, m.cfg.model.interpolant) for m in mms}) > 1:
            raise ValueError("models of a product must share atoms, charges and interpolant")
        return mms
    return [_as_model(model)]


def generate(
    model: MoleculeModel | str | Path | Sequence[MoleculeModel | str | Path],
    n: int,
    *,
    property: str | Sequence[str] | None = None,
    target: Any = None,
    num_atoms: int | Sequence[int] | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Raw samples: ``pos`` (n, N, 3) Å, ``atom_type``/``charge`` indices, ``mask``, targets.

    ``target`` is one value (or one per molecule) per ``property``, in published units.
    ``guidance`` is the classifier-free guidance weight (1: the plain conditional model).
    A list of models, each conditioned on some of the properties, samples their product
    (multi-property targets from single-property models).
    """
    mms = _models(model)
    mm = mms[0]
    s = mm.cfg.sample
    targets = _targets(mms, n, property, target)
    rng = np.random.default_rng(seed)
    counts = _counts(mm, n, num_atoms, rng, targets)
    param = next(mm.model.parameters())
    dev, g = param.device, torch.Generator(param.device).manual_seed(seed)
    paths = paths_of(mm.cfg.model)
    net = _guided(mms, paths, targets, s.guidance if guidance is None else guidance)
    stats = {p: m.stats[p] for m in reversed(mms) for p in m.properties}
    raw: dict[str, list[np.ndarray]] = {"pos": [], "atom_type": [], "charge": [], "mask": []}
    nmax = max(counts)
    for lo in range(0, n, s.batch_size):
        c = counts[lo : lo + s.batch_size]
        nm = node_mask_of(c, nmax, dev)
        cond: dict[str, Any] = {"node_mask": nm}
        if targets:
            cond["properties"] = {
                p: stats[p]
                .normalize(torch.as_tensor(v[lo : lo + len(c)], device=dev))
                .to(param.dtype)
                for p, v in targets.items()
            }
        x = S.sample(
            net,
            paths,
            {
                "pos": (len(c), nmax, 3),
                "atom_type": (len(c), nmax, len(mm.atoms)),
                "charge": (len(c), nmax, len(mm.charges)),
            },
            sampler=sampler or s.sampler,
            steps=steps or s.steps,
            grid="uniform",
            # composed models predict eps, and eps -> velocity divides by alpha(1) = 0: start
            # guided runs a hair after the pure-noise end
            grid_options={"t_max": 1.0 - 1e-3} if net is not mm.model else None,
            mask=field_masks(nm),
            cond=cond,
            generator=g,
            device=dev,
            dtype=param.dtype,
            progress=progress,
        )
        for k, v in decode(x, nm).items():
            raw[k].append(v)
    out = {k: np.concatenate(v) for k, v in raw.items()}
    out.update({f"target_{p}": v for p, v in targets.items()})
    return out


def _counts(
    mm: MoleculeModel,
    n: int,
    num_atoms: int | Sequence[int] | None,
    rng: np.random.Generator,
    targets: Mapping[str, np.ndarray],
) -> list[int]:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if num_atoms is None:
        return mm.sizes.draw(n, rng, dict(targets) or None)
    counts = [int(num_atoms)] * n if isinstance(num_atoms, int) else [int(c) for c in num_atoms]
    if len(counts) != n:
        raise ValueError(f"num_atoms has {len(counts)} entries for n = {n} molecules")
    bad = [c for c in counts if not 1 <= c <= mm.max_atoms]
    if bad:
        raise ValueError(f"num_atoms must lie in 1..{mm.max_atoms}, got {bad[:5]}")
    return counts


def to_molecules(raw: Mapping[str, np.ndarray], atoms, charges) -> list[Any]:
    """RDKit molecules with 3-D conformers and EDM-rule bonds (sanitized where RDKit can)."""
    from rdkit import Chem
    from rdkit.rdBase import BlockLogs

    from .rdkit_mol import build_mol

    out = []
    with BlockLogs():
        for symbols, pos, formal in molecules_of(dict(raw), atoms, charges):
            mol = Chem.Mol(build_mol(symbols, pos, formal))
            try:
                Chem.SanitizeMol(mol)
            except Exception:  # an invalid molecule is returned as built, unsanitized
                mol = Chem.Mol(build_mol(symbols, pos, formal))
            out.append(mol)
    return out


def sample(
    model: MoleculeModel | str | Path | Sequence[MoleculeModel | str | Path],
    n: int,
    *,
    property: str | Sequence[str] | None = None,
    target: Any = None,
    num_atoms: int | Sequence[int] | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[Any]:
    """``n`` RDKit molecules with 3-D conformers (export with ``write_sdf``/``write_xyz``)."""
    mms = _models(model)
    raw = generate(
        mms,
        n,
        property=property,
        target=target,
        num_atoms=num_atoms,
        sampler=sampler,
        steps=steps,
        guidance=guidance,
        seed=seed,
        progress=progress,
    )
    return to_molecules(raw, mms[0].atoms, mms[0].charges)


# --- evaluation ---------------------------------------------------------------------------
def train_smiles(split: dict[str, MoleculeSet]) -> set[str]:
    """Canonical SMILES of the training molecules by the same bond rule (EDM's novelty)."""
    from .metrics import train_smiles_set

    ms = split["train"]
    return train_smiles_set([ms.molecule(i) for i in range(len(ms))])


def evaluate(
    model: MoleculeModel | str | Path,
    *,
    n: int = 1000,
    seeds: Sequence[int] = (0,),
    sampler: str | None = None,
    steps: int | None = None,
    split: dict[str, MoleculeSet] | None = None,
    train_smiles_set: set[str] | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Stability, validity, uniqueness, novelty of ``n`` unconditional samples per seed."""
    from .metrics import molecule_metrics

    mm = _as_model(model)
    if train_smiles_set is None:
        split = split if split is not None else load_split(mm.cfg)
        train_smiles_set = train_smiles(split)
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        raw = generate(mm, n, sampler=sampler, steps=steps, seed=seed)
        dt = time.perf_counter() - t0
        res = molecule_metrics(molecules_of(raw, mm.atoms, mm.charges), train_smiles_set)
        res["seconds_per_molecule"] = dt / n
        runs.append(res)
    res = {
        "dataset": mm.cfg.dataset,
        "n": n,
        "seeds": list(seeds),
        "sampler": sampler or mm.cfg.sample.sampler,
        "steps": steps or mm.cfg.sample.steps,
        "runs": runs,
        "summary": summarize(runs),
    }
    if out is not None:
        write_json_atomic(Path(out) / "eval.json", res)
    return res
