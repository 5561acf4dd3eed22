"""Resume after an interruption reproduces the uninterrupted run bit for bit."""

from __future__ import annotations

import json

import pytest
import torch

from scorelab.training import CheckpointError, Trainer, latest_checkpoint, read_metrics
from scorelab.training import checkpoint as ck

from .helpers import assert_same, config, loss_fn, state_of, tiny_data, tiny_model


def _run(run_dir, cfg, model_seed=0, evaluators=None):
    model = tiny_model(model_seed)
    trainer = Trainer(model, loss_fn, tiny_data(), cfg, run_dir, evaluators=evaluators)
    result = trainer.fit()
    return trainer, result


class InterruptError(Exception):
    pass


def _interrupt_at(step):
    def evaluator(model, s):
        if s == step:
            raise InterruptError
        return {"probe": float(next(model.parameters()).sum())}

    return evaluator


@pytest.mark.parametrize("epoch_crossing", [False, True])
def test_resume_reproduces_uninterrupted_run(tmp_path, epoch_crossing):
    # 512 samples / 32 per batch = 16 batches an epoch: 40 steps cross two epoch boundaries
    steps = 40 if epoch_crossing else 20
    cfg = config(steps=steps, eval_every=1)
    ref, ref_result = _run(tmp_path / "ref", cfg, evaluators={"e": _interrupt_at(-1)})

    run = tmp_path / "run"
    with pytest.raises(InterruptError):  # dies at step 13 (or 33), after the checkpoint at 10 (30)
        _run(run, cfg, evaluators={"e": _interrupt_at(steps - 7)})
    assert latest_checkpoint(run).name == f"step_{steps - 10:08d}"
    # a different initialisation proves the weights come from the checkpoint
    resumed, result = _run(run, cfg, model_seed=99, evaluators={"e": _interrupt_at(-1)})

    assert result.step == steps
    assert_same(state_of(ref.model), state_of(resumed.model))
    assert_same(state_of(ref.ema.module), state_of(resumed.ema.module))
    a, b = ref.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for pid in a:
        assert_same(a[pid], b[pid])
    # the metrics log holds each step once, and the same losses as the reference run
    recs = [r for r in read_metrics(run / "metrics.jsonl") if "loss" in r]
    ref_recs = [r for r in read_metrics(tmp_path / "ref" / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in recs] == [r["step"] for r in ref_recs]
    assert [r["loss"] for r in recs] == [r["loss"] for r in ref_recs]
    assert ref_result.evals[steps] == result.evals[steps]


def test_evaluation_does_not_move_the_training_random_streams(tmp_path):
    a, _ = _run(tmp_path / "a", config(), evaluators=None)
    b, _ = _run(tmp_path / "b", config(eval_every=3), evaluators={"e": _interrupt_at(-1)})
    assert_same(state_of(a.model), state_of(b.model))


def test_extending_a_finished_run(tmp_path):
    ref, _ = _run(tmp_path / "ref", config(steps=30))
    _run(tmp_path / "run", config(steps=20))
    ext, result = _run(tmp_path / "run", config(steps=30))
    assert result.step == 30
    assert_same(state_of(ref.model), state_of(ext.model))


def test_resume_with_a_different_config_names_the_difference(tmp_path):
    _run(tmp_path, config(steps=10))
    with pytest.raises(CheckpointError, match=r"lr: checkpoint 0\.001 vs now 0\.002"):
        _run(tmp_path, config(steps=20, lr=2e-3))


def test_resume_off_refuses_to_overwrite(tmp_path):
    _run(tmp_path, config(steps=10))
    with pytest.raises(CheckpointError, match="resume is off"):
        _run(tmp_path, config(steps=20, resume=False))


def test_kill_during_checkpoint_write_leaves_previous_checkpoint(tmp_path, monkeypatch):
    real = ck.save_file
    calls = {"n": 0}

    def flaky(tensors, path, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 5:  # the second checkpoint, after its first file
            raise KeyboardInterrupt
        return real(tensors, path, *a, **kw)

    monkeypatch.setattr(ck, "save_file", flaky)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, config(steps=20))
    monkeypatch.setattr(ck, "save_file", real)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000005"]  # no half-written folder, no temporary left
    # a hard kill can leave a temporary folder: the next run removes it and resumes
    stale = tmp_path / "checkpoints" / ".step_00000010.abc"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\0" * 10)
    ref, _ = _run(tmp_path / "ref", config(steps=20))
    resumed, _ = _run(tmp_path, config(steps=20))
    assert not stale.exists()
    assert_same(state_of(ref.model), state_of(resumed.model))


def test_checkpoint_layout(tmp_path):
    _run(tmp_path, config(steps=10, keep_checkpoints=1))
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert ckpts == ["step_00000010"]
    files = {p.name for p in (tmp_path / "checkpoints" / ckpts[0]).iterdir()}
    assert files == {
        "model.safetensors",
        "ema.safetensors",
        "optimizer.safetensors",
        "optimizer.json",
        "rng.safetensors",
        "config.json",
        "trainer.json",
    }
    manifest = json.loads((tmp_path / "checkpoints" / ckpts[0] / "trainer.json").read_text())
    assert manifest["step"] == 10 and manifest["data"] == {"epoch": 0, "batch": 10}
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 1e-3
    assert torch.is_tensor(ck.load_rng(tmp_path / "checkpoints" / ckpts[0], manifest, 0)["torch"])
