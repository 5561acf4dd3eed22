"""The property regressor that measures generated molecules, and its MAE bounds (EDM's protocol).

EDM (Hoogeboom et al. 2022, section 5.2) splits QM9's training set in halves: an
E(3)-invariant regressor is trained on the first half, the conditional generator on the
second. A generated molecule's property is the regressor's prediction, so the conditional
MAE has a lower bound, the regressor's MAE on real molecules of the generator's half, and
an upper bound, its MAE against shuffled targets (a generator that ignores the condition).
EDM also reports "#Atoms": the property predicted from the atom count alone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from scorelab.config import load_config
from scorelab.io import write_json_atomic
from scorelab.training import Trainer, TrainResult, load_weights, resolve_checkpoint
from scorelab.training.data import TensorData
from scorelab.training.distributed import resolve_device

from .config import MoleculesConfig, RegressorConfig
from .dataset import MoleculeSet
from .tensors import MoleculeTensors, PropertyStats, as_tensors, to_tensors

META = "regressor_meta.json"


@dataclass
class Regressor:
    """A trained property regressor: network, property, normalisation, vocabularies."""

    model: torch.nn.Module
    property: str
    stats: PropertyStats
    atoms: tuple[str, ...]
    charges: tuple[int, ...]


def _split(cfg: RegressorConfig) -> dict[str, MoleculeSet]:
    from .api import load_split

    return load_split(MoleculesConfig(dataset=cfg.dataset, data=cfg.data))


def regressor_half(train: MoleculeSet) -> MoleculeSet:
    """EDM's first half of the training set (its "Ga")."""
    from .qm9 import halves

    return train.subset(halves(np.arange(len(train)))["regressor"])


def generator_half(train: MoleculeSet) -> MoleculeSet:
    """EDM's second half of the training set (its "Gb"): the conditional generator's data."""
    from .qm9 import halves

    return train.subset(halves(np.arange(len(train)))["generator"])


def _build(cfg: RegressorConfig, n_types: int, n_charges: int) -> torch.nn.Module:
    from .regressor import PropertyRegressor

    return PropertyRegressor(n_types, n_charges, hidden=cfg.hidden, layers=cfg.layers)


def _inputs(raw: Mapping[str, np.ndarray], n_types: int, n_charges: int) -> MoleculeTensors:
    """Regressor inputs from index arrays: positions, one-hot types and charges, mask."""
    return as_tensors(raw["pos"], raw["atom_type"], raw["charge"], raw["mask"], n_types, n_charges)


def train_regressor(
    cfg: RegressorConfig, split: dict[str, MoleculeSet] | None = None
) -> TrainResult:
    """Train the regressor on the regressor half with an L1 loss (EDM's), validating on valid."""
    from .qm9 import check_property

    check_property(cfg.property)
    split = split if split is not None else _split(cfg)
    ms = regressor_half(split["train"])
    if cfg.property not in ms.properties:
        raise ValueError(f"dataset {cfg.dataset!r} has no property {cfg.property!r}")
    stats = PropertyStats.of(ms.properties[cfg.property])
    write_json_atomic(
        Path(cfg.out) / META,
        {
            "property": cfg.property,
            "stats": dataclasses.asdict(stats),
            "atoms": list(ms.atoms),
            "charges": list(ms.charges),
        },
    )
    data = to_tensors(ms, 1.0, 1.0)
    y = stats.normalize(data.properties[cfg.property])
    torch.manual_seed(cfg.train.seed)
    model = _build(cfg, len(ms.atoms), len(ms.charges))
    val = split["valid"]
    val_x = to_tensors(val, 1.0, 1.0)
    val_y = np.asarray(val.properties[cfg.property])

    def loss_fn(m: torch.nn.Module, idx: Tensor) -> Tensor:
        dev = next(m.parameters()).device
        x, nm = data.batch(idx.cpu())
        pred = m(x["pos"].to(dev), x["atom_type"].to(dev), x["charge"].to(dev), nm.to(dev))
        return (pred - y[idx.cpu()].to(dev)).abs().mean()

    def valid_mae(m: torch.nn.Module, step: int) -> dict[str, float]:
        reg = Regressor(m, cfg.property, stats, ms.atoms, ms.charges)
        return {"valid_mae": float(np.abs(_predict(reg, val_x) - val_y).mean())}

    trainer = Trainer(
        model,
        loss_fn,
        TensorData(torch.arange(len(data))),
        cfg.train,
        cfg.out,
        run_config=cfg,
        evaluators={"valid": valid_mae},
    )
    return trainer.fit()


def load_regressor(checkpoint: str | Path, weights: str = "ema", device: str = "cpu") -> Regressor:
    """A trained regressor from its run or checkpoint folder."""
    ckpt = resolve_checkpoint(checkpoint)
    cfg = load_config(RegressorConfig, ckpt / "config.json")
    meta_file = ckpt.parent.parent / META
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file}: missing; was this run made by train_regressor?")
    meta = json.loads(meta_file.read_text())
    model = _build(cfg, len(meta["atoms"]), len(meta["charges"]))
    model = load_weights(model, ckpt, which=weights).to(resolve_device(device)).eval()
    return Regressor(
        model,
        meta["property"],
        PropertyStats(**meta["stats"]),
        tuple(meta["atoms"]),
        tuple(int(c) for c in meta["charges"]),
    )


@torch.no_grad()
def _predict(reg: Regressor, x: MoleculeTensors, batch_size: int = 1000) -> np.ndarray:
    dev = next(reg.model.parameters()).device
    was = reg.model.training
    reg.model.eval()
    out = []
    for lo in range(0, len(x), batch_size):
        b, nm = x.batch(torch.arange(lo, min(lo + batch_size, len(x))))
        args = [b[k].to(dev) for k in ("pos", "atom_type", "charge")]
        out.append(reg.model(*args, nm.to(dev)).double().cpu())
    reg.model.train(was)
    return reg.stats.denormalize(torch.cat(out)).numpy()


def predict(reg: Regressor, raw: Mapping[str, np.ndarray] | MoleculeSet) -> np.ndarray:
    """The regressor's property of each molecule (published units) of raw samples or a set."""
    if isinstance(raw, MoleculeSet):
        return _predict(reg, to_tensors(raw, 1.0, 1.0))
    return _predict(reg, _inputs(raw, len(reg.atoms), len(reg.charges)))


def bounds(reg: Regressor, ms: MoleculeSet, train: MoleculeSet, seed: int = 0) -> dict:
    """EDM's reference MAEs on real molecules ``ms`` (the generator half).

    ``lower_bound``: the regressor against the true values; ``upper_bound``: against shuffled
    values; ``atoms_only``: the training mean per atom count (``train``) against the truth.
    """
    y = np.asarray(ms.properties[reg.property])
    pred = predict(reg, ms)
    shuffled = np.random.default_rng(seed).permutation(y)
    by_n: dict[int, list[float]] = {}
    for n, v in zip(train.num_atoms, train.properties[reg.property]):
        by_n.setdefault(int(n), []).append(float(v))
    mean_all = float(np.mean(train.properties[reg.property]))
    per_n = np.array([np.mean(by_n.get(int(n), [mean_all])) for n in ms.num_atoms])
    return {
        "property": reg.property,
        "n": len(y),
        "lower_bound": float(np.abs(pred - y).mean()),
        "upper_bound": float(np.abs(pred - shuffled).mean()),
        "atoms_only": float(np.abs(per_n - y).mean()),
    }
