"""Learning-rate warm-up and decay."""

from __future__ import annotations

import math

import pytest

from scorelab.training import TrainConfig, lr_at


def test_linear_warmup_then_constant():
    lrs = [lr_at(s, 1e-3, 4, 100, "constant") for s in range(6)]
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def test_cosine_reaches_zero_at_the_end():
    assert lr_at(10, 1.0, 10, 110, "cosine") == pytest.approx(1.0)
    assert lr_at(60, 1.0, 10, 110, "cosine") == pytest.approx(0.5)
    assert lr_at(110, 1.0, 10, 110, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert lr_at(35, 1.0, 10, 110, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_unknown_decay_and_bad_config():
    with pytest.raises(ValueError, match="constant, cosine"):
        lr_at(5, 1.0, 0, 10, "linear")
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
