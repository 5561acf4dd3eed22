"""A truncated, corrupt or foreign checkpoint gives an error naming what does not match."""

from __future__ import annotations

import pytest
import torch

from scorelab.training import CheckpointError, Trainer, latest_checkpoint, load_weights

from .helpers import config, loss_fn, tiny_data, tiny_model


@pytest.fixture
def ckpt(tmp_path):
    Trainer(tiny_model(), loss_fn, tiny_data(), config(steps=5), tmp_path).fit()
    return latest_checkpoint(tmp_path)


def test_loads_back_the_ema_weights(ckpt):
    model = load_weights(tiny_model(seed=5), ckpt)
    saved = load_weights(tiny_model(seed=6), ckpt.parent.parent)  # the run folder works too
    for a, b in zip(model.parameters(), saved.parameters()):
        assert torch.equal(a, b)
    raw = load_weights(tiny_model(seed=5), ckpt, which="model")
    assert not torch.equal(next(raw.parameters()), next(model.parameters()))


def test_truncated_file(ckpt):
    f = ckpt / "ema.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"ema\.safetensors is truncated or altered"):
        load_weights(tiny_model(), ckpt)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weights(tiny_model(), ckpt, verify=False)


def test_altered_bytes_same_size(ckpt):
    f = ckpt / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[-3] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt: its SHA-256"):
        load_weights(tiny_model(), ckpt, which="model")


def test_checkpoint_of_another_model(ckpt):
    with pytest.raises(CheckpointError, match=r"shape mismatch: net\.f\.0\.weight: checkpoint"):
        load_weights(tiny_model(hidden=16), ckpt)
    other = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(CheckpointError) as e:
        load_weights(other, ckpt)
    msg = str(e.value)
    assert "saved from scorelab.parameterization.Predictor" in msg
    assert "missing keys: 0.bias, 0.weight" in msg and "unexpected keys: net.f.0.bias" in msg


def test_resuming_another_model_is_refused(tmp_path, ckpt):
    run = ckpt.parent.parent
    with pytest.raises(CheckpointError, match="shape mismatch"):
        Trainer(tiny_model(hidden=16), loss_fn, tiny_data(), config(steps=10), run).fit()


def test_corrupt_manifest_and_missing_pieces(ckpt, tmp_path):
    (ckpt / "trainer.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="trainer.json is corrupt"):
        load_weights(tiny_model(), ckpt)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_weights(tiny_model(), tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="neither a checkpoint folder nor a run folder"):
        load_weights(tiny_model(), tmp_path / "empty")
