"""The toy app's Python API: ``train``, ``load``, ``generate``, ``sample``, ``evaluate``.

from scorelab.apps.toy import ToyConfig, train, load, generate
result = train(ToyConfig())                     # two moons, runs/toy
model, cfg = load("runs/toy")
x = generate(model, cfg, 2000, sampler="dpmpp_2m", steps=20)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorelab import DSMLoss, FlowMatchingLoss, GaussianPath, Predictor, get_path
from scorelab import samplers as S
from scorelab.app import EvaluateOptions, SampleOptions
from scorelab.config import load_config
from scorelab.io import save_npy_atomic, write_json_atomic
from scorelab.training import Trainer, TrainResult, load_weights, resolve_checkpoint
from scorelab.training.data import TensorData
from scorelab.training.distributed import resolve_device
from scorelab.training.trainer import Evaluator

from . import data as D
from .config import DataConfig, ModelConfig, ToyConfig
from .metrics import sample_metrics
from .model import MLPScoreNet

FLOW_PATHS = ("linear", "trig")


def load_data(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """(train, test) points for a data config."""
    if cfg.target == "file":
        x = D.load_points(cfg.path)
        if len(x) < 4:
            raise ValueError(f"{cfg.path}: need at least 4 points to split off a test set")
        g = torch.Generator().manual_seed(cfg.seed)
        x = x[torch.randperm(len(x), generator=g)]
        n_test = min(cfg.n_test, len(x) // 5 or 1)
        return x[n_test:], x[:n_test]
    return D.splits(cfg.target, cfg.n_train, cfg.n_test, cfg.seed)


def path_of(cfg: ModelConfig) -> GaussianPath:
    """The model's noising path."""
    return get_path(cfg.path)


def build_model(cfg: ModelConfig) -> Predictor:
    """The score network wrapped with its prediction kind."""
    net = MLPScoreNet(cfg.dim, cfg.hidden, cfg.depth, cfg.time_features)
    return Predictor(net, cfg.prediction)


def make_loss(cfg: ModelConfig) -> DSMLoss | FlowMatchingLoss:
    """Flow matching on interpolant paths, denoising score matching on the others."""
    path = path_of(cfg)
    return FlowMatchingLoss(path) if cfg.path in FLOW_PATHS else DSMLoss(path)


def train(cfg: ToyConfig, evaluators: Mapping[str, Evaluator] | None = None) -> TrainResult:
    """Train a score model as ``cfg`` says; resumable, DDP-ready (``torchrun``)."""
    train_x, _ = load_data(cfg.data)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, dim=train_x.shape[1]))
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
    model = build_model(cfg.model)
    loss = make_loss(cfg.model)
    trainer = Trainer(
        model,
        lambda m, batch: loss(m, batch),
        TensorData(train_x),
        cfg.train,
        cfg.out,
        run_config=cfg,
        evaluators=evaluators,
    )
    return trainer.fit()


def load(
    checkpoint: str | Path, weights: str = "ema", device: str = "cpu"
) -> tuple[Predictor, ToyConfig]:
    """A trained model (EMA weights by default) and its config, from a checkpoint or run."""
    ckpt = resolve_checkpoint(checkpoint)
    cfg = load_config(ToyConfig, ckpt / "config.json")
    model = load_weights(build_model(cfg.model), ckpt, which=weights)
    return model.to(resolve_device(device)).eval(), cfg


def generate(
    model: Predictor,
    cfg: ToyConfig,
    n: int,
    *,
    sampler: str = "heun",
    steps: int = 50,
    seed: int = 0,
    grid: str | None = None,
) -> Tensor:
    """Draw ``n`` samples with a core sampler (on its default grid unless ``grid`` is given)."""
    path = path_of(cfg.model)
    stochastic = sampler in S.STOCHASTIC
    opts = {"t_max": 0.999} if stochastic and cfg.model.path in FLOW_PATHS else {}
    param = next(iter(model.parameters()), None)
    dev = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float64
    return S.sample(
        model,
        path,
        (n, cfg.model.dim),
        sampler=sampler,
        steps=steps,
        grid=grid or S.default_grid(sampler),
        grid_options=opts,
        device=dev,
        dtype=dtype,
        generator=torch.Generator(dev).manual_seed(seed),
    )


def _run_dir(ckpt: Path) -> Path:
    return ckpt.parent.parent


def sample(opts: SampleOptions) -> Path:
    """``scorelab sample toy``: write ``samples.npy`` (and a scatter plot) for a checkpoint."""
    ckpt = resolve_checkpoint(opts.checkpoint)
    model, cfg = load(ckpt, opts.weights, opts.device)
    x = generate(model, cfg, opts.n, sampler=opts.sampler, steps=opts.steps, seed=opts.seed)
    out = Path(opts.out) if opts.out is not None else _run_dir(ckpt) / "samples"
    out.mkdir(parents=True, exist_ok=True)
    save_npy_atomic(out / "samples.npy", x.cpu().numpy())
    if cfg.model.dim == 2:
        from .plots import scatter_grid

        scatter_grid(out / "samples.png", {f"{opts.sampler}, {opts.steps} steps": x})
    return out / "samples.npy"


def evaluate(opts: EvaluateOptions) -> dict[str, Any]:
    """``scorelab evaluate toy``: sample metrics and held-out NLL, written to ``eval.json``."""
    ckpt = resolve_checkpoint(opts.checkpoint)
    model, cfg = load(ckpt, opts.weights, opts.device)
    _, test = load_data(cfg.data)
    x = generate(model, cfg, opts.n, sampler=opts.sampler, steps=opts.steps, seed=opts.seed)
    from .metrics import heldout_nll

    res = {
        "checkpoint": str(ckpt),
        "sampler": opts.sampler,
        "steps": opts.steps,
        **sample_metrics(x.cpu(), test[: opts.n], seed=opts.seed),
        **heldout_nll(model, path_of(cfg.model), test[:1000]),
    }
    out = Path(opts.out) if opts.out is not None else _run_dir(ckpt) / "eval"
    write_json_atomic(out / "eval.json", res)
    return res
