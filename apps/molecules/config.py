"""Configuration of the molecules app (PropMolFlow-style E(3)-equivariant flow matching).

``preset(dataset)`` gives the CPU-sized default for ``qm9`` or ``geom_drugs``;
``preset(dataset, paper=True)`` the published model size (EDM's 9 x 256 EGNN, as PropMolFlow's
QM9 runs use a network of that scale). ``scorelab train molecules --dataset qm9
--cond.properties gap`` trains a gap-conditioned generator on the generator half of QM9's
training set (EDM's protocol).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scorelab.training import TrainConfig

Dataset = Literal["qm9", "geom_drugs"]
DATASET_NAMES: tuple[str, ...] = Dataset.__args__
Backbone = Literal["egnn", "painn", "e3nn"]
Combination = Literal["concatenate", "sum", "multiply", "concatenate_sum", "concatenate_multiply"]


@dataclass
class DataConfig:
    """Where the molecules come from (the dataset itself is ``MoleculesConfig.dataset``)."""

    path: Path | None = None
    """qm9: a local csv in qm9pack's layout (default: the qm9pack wheel); geom_drugs: the
    folder holding EDM's ``geom_drugs_30.npy``"""
    seed: int = 0
    """seed of the EDM split's permutation"""
    max_molecules: int | None = None
    """use only the first N molecules of the source (quick runs); the split scales with it"""
    cache_dir: Path | None = None
    """where processed tensors are cached (default ~/.cache/scorelab/molecules)"""


@dataclass
class ModelConfig:
    """The equivariant network and the flow: per-field linear interpolants from data to noise."""

    backbone: Backbone = "egnn"
    hidden: int = 128
    layers: int = 6
    interpolant: Literal["linear", "trig"] = "linear"
    prediction: Literal["velocity", "x0"] = "x0"
    """what the network's heads predict; the loss and samplers convert exactly"""
    loss: Literal["velocity", "x0"] = "x0"
    """velocity: the flow-matching MSE on u = eps - x0; x0: the MSE on the clean molecule
    (FlowMol's and SemlaFlow's endpoint loss), the same minimiser weighted towards low noise"""
    type_scale: float = 0.25
    """one-hot atom types are scaled by this before noising (EDM's 0.25): positions set the
    pace, types are decided late"""
    charge_scale: float = 0.25
    ot_alignment: bool = False
    """equivariant OT: permute and rotate each noise draw onto its molecule (EquiFM, SemlaFlow)"""


@dataclass
class CondConfig:
    """Property conditioning (PropMolFlow): which properties, and how they enter the network."""

    properties: tuple[str, ...] = ()
    """condition on these (alpha, gap, homo, lumo, mu, Cv); empty = unconditional. A
    conditional run trains on the generator half of the training set (EDM's protocol)"""
    combination: Combination = "concatenate"
    """how the property embedding meets the atom features (PropMolFlow's five methods)"""
    gaussian_expansion: bool = False
    """expand the scalar property over Gaussians before embedding it"""
    n_gaussians: int = 64
    drop_prob: float = 0.1
    """probability of training without the condition (classifier-free guidance's null)"""


@dataclass
class SampleConfig:
    """How ``sample``/``evaluate`` integrate the flow unless told otherwise."""

    sampler: Literal["euler", "heun"] = "euler"
    steps: int = 100
    guidance: float = 1.0
    """classifier-free guidance weight w: (1 - w) unconditional + w conditional; 1 = plain"""
    weights: Literal["ema", "model"] = "ema"
    batch_size: int = 500


def _train(steps: int, batch_size: int, lr: float, checkpoint_every: int = 1000) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=1e-12,
        warmup_steps=100,
        lr_decay="cosine",
        grad_clip=1.0,
        ema_decay=0.999,
        log_every=50,
        checkpoint_every=checkpoint_every,
    )


@dataclass
class MoleculesConfig:
    """``scorelab train molecules``: 3-D molecules (positions, types, charges) by flow matching."""

    dataset: Dataset = "qm9"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    cond: CondConfig = field(default_factory=CondConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    train: TrainConfig = field(default_factory=lambda: _train(3000, 64, 5e-4))
    out: Path = Path("runs/molecules/qm9")
    """run folder: config.json, metrics.jsonl, checkpoints/"""


@dataclass
class RegressorConfig:
    """The E(3)-invariant property regressor that measures generated molecules (EDM's protocol).

    It trains on the regressor half of the training set (EDM's "Ga"), is selected on the
    validation set, and its MAE on the generator half (real molecules the generator learned
    from) is the lower bound of the conditional MAE.
    """

    property: str = "gap"
    dataset: Dataset = "qm9"
    data: DataConfig = field(default_factory=DataConfig)
    hidden: int = 64
    """EDM's regressors are 7 x 128 EGNNs; 4 x 64 trains in minutes on a CPU"""
    layers: int = 4
    train: TrainConfig = field(default_factory=lambda: _train(3000, 128, 1e-3))
    out: Path = Path("runs/molecules/regressor_gap")


def preset(dataset: str, paper: bool = False) -> MoleculesConfig:
    """The default for ``dataset``: CPU-sized, or the published network size with ``paper``."""
    if dataset not in DATASET_NAMES:
        raise KeyError(f"unknown molecules dataset {dataset!r}; known: {', '.join(DATASET_NAMES)}")
    cfg = MoleculesConfig(dataset=dataset, out=Path("runs/molecules") / dataset)
    if paper:  # EDM/PropMolFlow scale: a 9-layer, 256-wide network, long training
        cfg.model = dataclasses.replace(cfg.model, hidden=256, layers=9)
        cfg.train = _train(500_000, 64, 1e-4, checkpoint_every=5000)
    if dataset == "geom_drugs":  # up to 181 atoms: smaller batches
        cfg.train = dataclasses.replace(cfg.train, batch_size=16)
        cfg.sample = dataclasses.replace(cfg.sample, batch_size=50)
    return cfg


@dataclass
class MoleculeSampleOptions:
    """``scorelab sample molecules``: draw molecules from a trained run (<run>/samples)."""

    checkpoint: Path
    """a checkpoint folder, or a run folder (its newest checkpoint)"""
    n: int = 16
    property: tuple[str, ...] = ()
    """condition on these properties (the run must be trained on them)"""
    target: tuple[float, ...] = ()
    """target values, one per property, in the published units (gap meV, mu D, ...)"""
    num_atoms: int | None = None
    """atoms per molecule (default: drawn from the training sizes, given the target)"""
    sampler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    weights: Literal["ema", "model"] | None = None
    out: Path | None = None
    device: str = "cpu"
    progress: bool = True


@dataclass
class MoleculeEvalOptions:
    """``scorelab evaluate molecules``: stability, validity, uniqueness, novelty (<run>/eval)."""

    checkpoint: Path
    n: int = 1000
    seeds: tuple[int, ...] = (0,)
    sampler: str | None = None
    steps: int | None = None
    regressor: Path | None = None
    """a property-regressor run: also report the property MAE of conditional samples"""
    weights: Literal["ema", "model"] | None = None
    out: Path | None = None
    device: str = "cpu"
