"""The loop's guard rails and records: NaN guard, bf16, metrics, evaluation, data order."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.training import BatchStream, TensorData, Trainer, read_metrics

from .helpers import config, loss_fn, state_of, tiny_data, tiny_model


def test_nonfinite_steps_are_skipped_and_reported(tmp_path):
    bad_steps = {3, 4, 11}
    calls = {"n": 0}
    snapshots = {}

    def flaky(model, batch):
        step = calls["n"]
        calls["n"] += 1
        snapshots[step] = state_of(model)
        loss = loss_fn(model, batch)
        return loss * math.nan if step in bad_steps else loss

    trainer = Trainer(tiny_model(), flaky, tiny_data(), config(steps=15), tmp_path)
    result = trainer.fit()
    assert result.skipped_steps == 3 and result.step == 15
    for s in (3, 11):  # the weights do not move across a skipped step
        for k in snapshots[s]:
            assert torch.equal(snapshots[s][k], snapshots[s + 1][k])
    events = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r.get("event")]
    assert [r["step"] for r in events] == [3, 4, 11]
    assert all(math.isfinite(p.sum().item()) for p in trainer.model.parameters())


def test_too_many_consecutive_bad_steps_stop_the_run(tmp_path):
    def always_nan(model, batch):
        return loss_fn(model, batch) * math.nan

    with pytest.raises(FloatingPointError, match="4 consecutive non-finite steps"):
        Trainer(tiny_model(), always_nan, tiny_data(), config(max_bad_steps=4), tmp_path).fit()


def test_training_lowers_the_loss_and_logs_jsonl(tmp_path):
    cfg = config(steps=200, log_every=20, lr=3e-3, warmup_steps=10, checkpoint_every=0)
    Trainer(tiny_model(), loss_fn, tiny_data(2048), cfg, tmp_path).fit()
    recs = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in recs] == list(range(20, 201, 20))
    assert recs[-1]["loss"] < 0.6 * recs[0]["loss"]
    assert {"lr", "grad_norm", "steps_per_s", "samples_per_s", "skipped_steps"} <= set(recs[0])
    assert recs[0]["lr"] == pytest.approx(3e-3)


def test_bf16_autocast_trains(tmp_path):
    cfg = config(steps=100, bf16=True, lr=3e-3, checkpoint_every=0, log_every=50)
    trainer = Trainer(tiny_model(), loss_fn, tiny_data(2048), cfg, tmp_path)
    seen = []

    def probe(model, batch):
        loss = loss_fn(model, batch)
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return loss

    trainer.loss_fn = probe
    trainer.fit()
    assert seen and all(d == torch.bfloat16 for d in seen)
    recs = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "loss" in r]
    assert recs[-1]["loss"] < recs[0]["loss"]
    assert next(trainer.model.parameters()).dtype == torch.float32  # weights stay fp32


def test_evaluators_see_the_ema_model(tmp_path):
    seen = []

    def ev(model, step):
        seen.append((step, model))
        return {"w": float(next(model.parameters()).sum())}

    trainer = Trainer(
        tiny_model(), loss_fn, tiny_data(), config(eval_every=5), tmp_path, evaluators={"e": ev}
    )
    result = trainer.fit()
    assert [s for s, _ in seen] == [5, 10, 15, 20]
    assert all(m is trainer.ema.module for _, m in seen)
    assert set(result.evals[20]) == {"e/w"}
    recs = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "eval" in r]
    assert [r["step"] for r in recs] == [5, 10, 15, 20]


def test_no_ema_samples_with_the_trained_weights(tmp_path):
    trainer = Trainer(tiny_model(), loss_fn, tiny_data(), config(ema_decay=0.0), tmp_path)
    trainer.fit()
    assert trainer.ema is None and trainer.sampling_model is trainer.model


def test_batch_stream_covers_each_epoch_once_and_shards_disjointly():
    data = TensorData(torch.arange(100))
    one = BatchStream(data, 10, seed=3)
    it = iter(one)
    epoch0 = torch.cat([next(it) for _ in range(10)])
    assert sorted(epoch0.tolist()) == list(range(100))
    epoch1 = torch.cat([next(it) for _ in range(10)])
    assert not torch.equal(epoch0, epoch1)  # reshuffled every epoch
    shards = [BatchStream(data, 10, seed=3, rank=r, world_size=2) for r in range(2)]
    firsts = [torch.cat([b for _, b in zip(range(5), iter(s))]) for s in shards]
    assert set(firsts[0].tolist()).isdisjoint(firsts[1].tolist())
    assert len(firsts[0]) + len(firsts[1]) == 100


def test_dataset_too_small_and_iterable_dataset():
    with pytest.raises(ValueError, match="too small"):
        BatchStream(TensorData(torch.zeros(5, 2)), 8)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield torch.zeros(2)

    with pytest.raises(TypeError, match="map-style"):
        BatchStream(Stream(), 8)


def test_dict_batches_through_default_collate(tmp_path):
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 256

        def __getitem__(self, i):
            return {"x": torch.full((2,), float(i) / 256), "w": torch.tensor(1.0)}

    def loss(model, batch):
        assert batch["x"].shape == (32, 2) and batch["w"].shape == (32,)
        return loss_fn(model, batch["x"])

    result = Trainer(tiny_model(), loss, Pairs(), config(steps=10), tmp_path).fit()
    assert result.step == 10


def test_tensor_fast_path_yields_the_loader_batches():
    data = TensorData(torch.arange(200.0)[:, None])

    class Plain(torch.utils.data.Dataset):  # same data, no fast path
        def __len__(self):
            return 200

        def __getitem__(self, i):
            return data.data[i]

    for rank in (0, 1):
        fast = iter(BatchStream(data, 16, seed=5, rank=rank, world_size=2))
        slow = iter(BatchStream(Plain(), 16, seed=5, rank=rank, world_size=2))
        for _ in range(20):  # 6 batches an epoch: crosses three epoch boundaries
            assert torch.equal(next(fast), next(slow))


@pytest.mark.parametrize(("n", "world"), [(100, 1), (101, 2), (203, 3)])
def test_epoch_order_is_distributed_samplers(n, world):
    data = TensorData(torch.arange(n))
    for rank in range(world):
        stream = BatchStream(data, 4, seed=7, rank=rank, world_size=world)
        ref = torch.utils.data.DistributedSampler(
            data, num_replicas=world, rank=rank, shuffle=True, seed=7, drop_last=True
        )
        for epoch in range(3):
            stream.epoch = epoch
            ref.set_epoch(epoch)
            assert stream._epoch_order().tolist() == list(ref)
