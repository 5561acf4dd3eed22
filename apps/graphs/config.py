"""Configuration of the graphs app (GDSS): data, the two SDEs, the score networks, sampling.

``preset(dataset)`` gives the published GDSS settings per dataset (its ``config/*.yaml``)
with training shortened to a CPU budget; ``scorelab train graphs --dataset grid`` starts
from that preset and any other flag overrides it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scorelab.training import TrainConfig

Dataset = Literal[
    "community_small", "grid", "planar", "sbm", "ego_small", "enzymes", "qm9", "zinc250k", "nci"
]
DATASET_NAMES: tuple[str, ...] = Dataset.__args__


@dataclass
class DataConfig:
    """Where the graphs come from (the dataset itself is ``GraphsConfig.dataset``)."""

    path: Path | None = None
    """local copy of a published file: ego_small/enzymes (GDSS pickle or TU folder), zinc250k
    (GDSS's csv); for qm9 an optional GDSS ``valid_idx_qm9.json`` test split"""
    seed: int = 0
    """seed of the generators and of the train/test split"""
    max_molecules: int | None = None
    """subsample a molecule set (train and test alike) for quick runs"""
    cache_dir: Path | None = None
    """where parsed molecule sets are cached (default ~/.cache/scorelab/graphs)"""


@dataclass
class SDEConfig:
    """One component's SDE: VP with beta in [lo, hi], or VE with sigma in [lo, hi] (GDSS)."""

    kind: Literal["vp", "ve"] = "vp"
    lo: float = 0.1
    """beta_min (VP) or sigma_min (VE)"""
    hi: float = 1.0
    """beta_max (VP) or sigma_max (VE)"""

    def __post_init__(self) -> None:
        if not 0 <= self.lo < self.hi:
            raise ValueError(f"SDE range needs 0 <= lo < hi, got {self.lo}, {self.hi}")


@dataclass
class ModelConfig:
    """GDSS's score networks: ScoreNetworkX (GCN) and ScoreNetworkA (graph multi-head attention)."""

    x_sde: SDEConfig = field(default_factory=SDEConfig)
    adj_sde: SDEConfig = field(default_factory=SDEConfig)
    depth: int = 3
    """GCN layers of the X network"""
    nhid: int = 32
    adim: int = 32
    num_heads: int = 4
    num_layers: int = 5
    """attention layers of the A network"""
    num_linears: int = 2
    c_init: int = 2
    c_hid: int = 8
    c_final: int = 4
    time_cond: bool = False
    """feed t to the networks (GDSS reads the noise level off the input: False)"""
    t_min: float = 1e-5
    """smallest training time (GDSS's train eps)"""


@dataclass
class SampleConfig:
    """How ``sample``/``evaluate`` draw graphs unless told otherwise (GDSS's sampler block)."""

    sampler: Literal["pc", "s4", "reverse_diffusion", "euler_maruyama", "euler", "heun"] = "pc"
    predictor: Literal["reverse_diffusion", "euler_maruyama"] = "euler_maruyama"
    """the PC sampler's predictor (GDSS: Reverse or Euler)"""
    snr: float = 0.4
    """Langevin corrector's signal-to-noise ratio. GDSS uses 0.05 on community-small; with our
    CPU-length training that under-generates edges, and 0.4 is what the benchmark's sweep picks
    by MMD to the training graphs (docs/graphs.md)"""
    noise_scale: float = 0.7
    """GDSS's scale_eps: the Langevin corrector's noise factor"""
    steps: int = 1000
    t_min: float = 1e-4
    """last time of the grid (GDSS's sampling eps)"""
    weights: Literal["ema", "model"] = "model"
    """GDSS samples community-small and QM9 with the raw weights, grid with EMA"""
    batch_size: int = 1024
    """graphs per sampler call (large graphs: fewer)"""


def _train(steps: int, batch_size: int, lr: float) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=1e-4,
        warmup_steps=0,
        lr_decay="cosine",
        grad_clip=1.0,
        ema_decay=0.999,
        log_every=100,
        checkpoint_every=1000,
    )


@dataclass
class GraphsConfig:
    """``scorelab train graphs --dataset NAME``: GDSS on generic graphs or 2-D molecules."""

    dataset: Dataset = "community_small"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    train: TrainConfig = field(default_factory=lambda: _train(5000, 128, 1e-2))
    out: Path = Path("runs/graphs/community_small")
    """run folder: config.json, metrics.jsonl, checkpoints/"""


def _vp(lo: float, hi: float) -> SDEConfig:
    return SDEConfig("vp", lo, hi)


def _ve(lo: float, hi: float) -> SDEConfig:
    return SDEConfig("ve", lo, hi)


def preset(dataset: str, paper: bool = False) -> GraphsConfig:
    """GDSS's published settings for ``dataset``, with training cut to a CPU budget.

    Model sizes, SDEs and samplers follow GDSS's configs (community_small, grid, ego_small,
    enzymes, qm9, zinc250k). Planar and SBM, which GDSS did not run, use the grid network.
    Training steps are ours (GDSS: 5000 epochs for generic graphs, 300-1000 for molecules).
    Grid graphs (up to 361 nodes) are the exception: GDSS's grid network costs ~4.5 s per
    training step on 2 CPU cores, so the default is a smaller network (3 GCN layers, 4
    attention layers, width 16) sampled by S4 in 200 steps; ``paper=True`` gives GDSS's.
    """
    if dataset not in DATASET_NAMES:
        raise KeyError(f"unknown graphs dataset {dataset!r}; known: {', '.join(DATASET_NAMES)}")
    m, s, t = ModelConfig(), SampleConfig(), _train(5000, 128, 1e-2)
    out = Path("runs/graphs") / dataset
    if dataset in ("grid", "planar", "sbm"):
        m = ModelConfig(_vp(0.1, 1.0), _vp(0.2, 0.8), depth=5, num_layers=7)
        s = SampleConfig("pc", "reverse_diffusion", snr=0.1, weights="ema", batch_size=32)
        t = _train(3000, 8, 1e-2)
        if dataset == "grid" and not paper:
            m = dataclasses.replace(m, depth=3, nhid=16, adim=16, num_layers=4, c_hid=6)
            s = dataclasses.replace(s, sampler="s4", steps=200)
            t = _train(1500, 8, 1e-2)
        elif dataset == "grid":
            t = _train(50_000, 8, 1e-2)  # GDSS: 5000 epochs of 10 batches
        else:  # planar, SBM: 40 test graphs of 64-200 nodes; S4 (1 NFE/step) keeps it CPU-sized
            s = dataclasses.replace(s, sampler="s4", steps=500)
    elif dataset == "ego_small":
        m = ModelConfig(depth=2, nhid=16, adim=16, num_layers=3, num_linears=3)
        s = SampleConfig("pc", "euler_maruyama", snr=0.05, noise_scale=0.7)  # GDSS's
    elif dataset == "enzymes":
        m = ModelConfig(_vp(0.1, 1.0), _vp(0.1, 1.0), depth=5, nhid=32, adim=32, num_layers=7)
        s = SampleConfig("pc", "reverse_diffusion", snr=0.15, weights="ema", batch_size=64)
        t = _train(5000, 64, 1e-2)
    elif dataset in ("qm9", "zinc250k", "nci"):
        m = ModelConfig(
            _ve(0.1, 1.0), _ve(0.1, 1.0), depth=2, nhid=16, adim=16, num_layers=3, num_linears=3
        )
        s = SampleConfig("pc", "reverse_diffusion", snr=0.2, noise_scale=0.7, weights="model")
        t = _train(34_500 if paper else 4000, 1024, 5e-3)  # GDSS: 300 epochs on QM9
        if dataset != "qm9":
            s = dataclasses.replace(s, noise_scale=0.9, batch_size=256)
            t = _train(4000, 256, 5e-3)
    return GraphsConfig(dataset=dataset, model=m, sample=s, train=t, out=out)


@dataclass
class GraphSampleOptions:
    """``scorelab sample graphs``: draw graphs or molecules from a trained run (<run>/samples)."""

    checkpoint: Path
    """a checkpoint folder, or a run folder (its newest checkpoint)"""
    n: int = 20
    num_nodes: int | None = None
    """nodes per graph (default: drawn from the training graphs' sizes)"""
    sampler: str | None = None
    """override the run's sample.sampler (pc, s4, reverse_diffusion, euler_maruyama, euler, heun)"""
    steps: int | None = None
    """override the run's sample.steps"""
    seed: int = 0
    weights: Literal["ema", "model"] | None = None
    """override the run's sample.weights"""
    out: Path | None = None
    device: str = "cpu"
    progress: bool = True


@dataclass
class GraphEvalOptions:
    """``scorelab evaluate graphs``: the published metrics against the test set (<run>/eval)."""

    checkpoint: Path
    """a checkpoint folder, or a run folder (its newest checkpoint)"""
    seeds: tuple[int, ...] = (0, 1, 2)
    """sampling seeds; each draws as many graphs as the test set holds (GDSS's recipe)"""
    sampler: str | None = None
    steps: int | None = None
    weights: Literal["ema", "model"] | None = None
    out: Path | None = None
    device: str = "cpu"
