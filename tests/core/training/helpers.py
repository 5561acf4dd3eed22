"""A tiny score model and data set shared by the training-engine tests."""

from __future__ import annotations

import torch
from torch import nn

from scorelab import VP, DSMLoss, Predictor
from scorelab.training import TensorData, TrainConfig


class TinyNet(nn.Module):
    """eps(x, t) for 2-D data: an MLP over (x, t)."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(3, hidden), nn.SiLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.f(torch.cat([x, t[:, None]], 1))


def tiny_model(seed: int = 0, hidden: int = 32) -> Predictor:
    torch.manual_seed(seed)
    return Predictor(TinyNet(hidden), "eps")


def tiny_data(n: int = 512) -> TensorData:
    g = torch.Generator().manual_seed(123)
    return TensorData(torch.randn(n, 2, generator=g) * 0.5 + 1.0)


LOSS = DSMLoss(VP())


def loss_fn(model, batch):
    return LOSS(model, batch)


def config(**kw) -> TrainConfig:
    base = dict(steps=20, batch_size=32, warmup_steps=5, log_every=5, checkpoint_every=5)
    base.update(progress=False, ema_decay=0.9, keep_checkpoints=0)
    base.update(kw)
    return TrainConfig(**base)


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
