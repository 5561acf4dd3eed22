"""The policies app end to end: data command, training, rollouts, CLI and clear errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from scorelab.apps.policies import DataConfig, ModelConfig, PoliciesConfig, load, train
from scorelab.apps.policies.data import generate_play_data, load_play_data, save_play_data
from scorelab.apps.policies.envs import env_info, eval_tasks
from scorelab.apps.policies.rollout import RandomPolicy, rollout
from scorelab.cli import main
from scorelab.training import read_metrics


def _cfg(tmp_path, **train) -> PoliciesConfig:
    cfg = PoliciesConfig(
        data=DataConfig(episodes=60, cache_dir=tmp_path / "data"),
        model=ModelConfig(d_model=32, depth=2, heads=2),
        out=tmp_path / "run",
    )
    defaults = dict(batch_size=128, progress=False, log_every=50, checkpoint_every=0)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **defaults | train))


def test_cli_data_train_evaluate(tmp_path, capsys):
    play = tmp_path / "play.npz"
    args = ["data", "policies", "--env", "pointmaze_medium", "--episodes", "6"]
    assert main([*args, "--out", str(play), "--progress", "False"]) == 0
    assert len(load_play_data(play)) > 100
    run = tmp_path / "run"
    args = ["train", "policies", "--data.path", str(play), "--out", str(run)]
    args += ["--model.d_model", "32", "--model.depth", "1", "--train.steps", "10"]
    args += ["--train.batch_size", "32", "--train.progress", "False"]
    assert main(args) == 0
    args = ["evaluate", "policies", "--checkpoint", str(run), "--goals", "2", "--seeds", "1"]
    args += ["--routes", "1", "--repeats", "1", "--steps", "1", "--progress", "False"]
    assert main(args) == 0
    res = json.loads((run / "eval" / "eval.json").read_text())
    assert res["act"]["steps"] == 1 and res["success"]["n"] == 1
    assert 0.0 <= res["success"]["mean"] <= 1.0 and res["latency"]["median_ms"] > 0
    assert "entropy_mean" in res["multimodality"]
    assert (run / "eval" / "rollouts.png").stat().st_size > 0


def test_data_from_another_env_is_refused(tmp_path):
    fetch = save_play_data(generate_play_data("fetch_push", 3, seed=0), tmp_path / "f.npz")
    cfg = _cfg(tmp_path, steps=1)
    cfg = dataclasses.replace(cfg, data=DataConfig(env="pointmaze_medium", path=fetch))
    with pytest.raises(ValueError, match="observations have 25 columns but env"):
        train(cfg)
    with pytest.raises(SystemExit):  # tyro rejects an unknown env name
        main(["train", "policies", "--data.env", "pointmaze_huge"])


@pytest.mark.slow
def test_short_training_lowers_the_loss_and_beats_random(tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(tmp_path, steps=1500, lr=1e-3)
    train(cfg)
    losses = [r["loss"] for r in read_metrics(cfg.out / "metrics.jsonl") if "loss" in r]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:2])
    policy, _ = load(cfg.out)
    tasks = eval_tasks("pointmaze_medium", 24, seed=3)
    ours = rollout(policy, tasks, seed=0).success.mean()
    rand = rollout(RandomPolicy(env_info("pointmaze_medium"), seed=0), tasks, seed=0)
    assert ours >= rand.success.mean() + 0.15, (ours, rand.success.mean())
