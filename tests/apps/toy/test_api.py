"""The toy app end to end: a trained model is a real model, checked against the exact GMM."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from scorelab.apps.toy import DataConfig, ModelConfig, ToyConfig, generate, load, train
from scorelab.apps.toy import data as D
from scorelab.apps.toy.api import load_data, path_of
from scorelab.apps.toy.metrics import heldout_nll, sample_metrics
from scorelab.config import load_config, save_config
from scorelab.distances import sliced_w2
from scorelab.training import TrainConfig


def _cfg(tmp_path, **data) -> ToyConfig:
    train_cfg = TrainConfig(
        steps=1500, batch_size=256, lr=3e-3, warmup_steps=100, lr_decay="cosine",
        ema_decay=0.99, log_every=100, checkpoint_every=0, progress=False,
    )  # fmt: skip
    return ToyConfig(
        data=DataConfig(**{"target": "gmm", "n_train": 20_000, "n_test": 1000, **data}),
        model=ModelConfig(hidden=128),
        train=train_cfg,
        out=tmp_path / "run",
    )


@pytest.mark.slow
def test_learned_gmm_model_is_close_to_the_exact_score(tmp_path):
    torch.set_num_threads(2)
    try:
        result = train(_cfg(tmp_path))
    finally:
        torch.set_num_threads(1)
    model, cfg = load(result.checkpoint)
    test = load_data(cfg.data)[1]
    x = generate(model, cfg, 1000, sampler="heun", steps=25, seed=3)
    m = sample_metrics(x, test, seed=0)
    gmm = D.gmm_target()
    floor = sliced_w2(gmm.sample(1000, torch.Generator().manual_seed(9)), test.double())
    # an untrained model fails the same checks (the test can fail)
    assert m["mmd_pvalue"] > 0.01 and m["sliced_w2"] < 2.5 * floor
    nll = heldout_nll(model, path_of(cfg.model), test[:200])["nll_per_dim"]
    exact = float(-gmm.log_prob(test[:200].double()).mean()) / 2
    assert 0 < nll - exact < 0.3  # cross-entropy >= entropy, and close to it


def test_an_untrained_model_fails_the_checks(tmp_path):
    cfg = dataclasses.replace(_cfg(tmp_path), train=TrainConfig(steps=1, progress=False))
    result = train(cfg)
    model, cfg = load(result.checkpoint, weights="model")
    test = load_data(cfg.data)[1]
    x = generate(model, cfg, 1000, sampler="heun", steps=25, seed=3)
    assert sample_metrics(x, test, seed=0)["mmd_pvalue"] < 0.01
    nll = heldout_nll(model, path_of(cfg.model), test[:200])["nll_per_dim"]
    exact = float(-D.gmm_target().log_prob(test[:200].double()).mean()) / 2
    assert nll - exact > 0.3


def test_own_points_from_a_file(tmp_path):
    pts = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    np.save(tmp_path / "pts.npy", pts)
    cfg = _cfg(tmp_path, target="file", path=tmp_path / "pts.npy")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=5, batch_size=64))
    result = train(cfg)
    model, cfg = load(result.checkpoint)
    assert cfg.model.dim == 3  # set from the data
    assert generate(model, cfg, 10, steps=3).shape == (10, 3)
    train_x, test_x = load_data(cfg.data)
    assert len(train_x) + len(test_x) == 500


def test_config_round_trip_and_validation(tmp_path):
    cfg = _cfg(tmp_path)
    save_config(cfg, tmp_path / "c.json")
    assert load_config(ToyConfig, tmp_path / "c.json") == cfg
    with pytest.raises(ValueError, match="data.path is needed"):
        DataConfig(target="file")
    with pytest.raises(ValueError, match="must be > 0"):
        TrainConfig(steps=0)
