"""EMA: the update is exactly ema <- d * ema + (1 - d) * param, buffers included."""

from __future__ import annotations

import torch
from torch import nn

from scorelab.training import EMA


class WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2).double()
        self.register_buffer("scale", torch.ones(2, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def test_one_update_matches_formula():
    m = WithBuffers()
    ema = EMA(m, 0.9)
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p))
        m.scale.mul_(3.0)
        m.count.fill_(7)
    ema.update(m)
    now = m.state_dict()
    for k, v in ema.module.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.9 * before[k] + 0.1 * now[k], rtol=0, atol=1e-15)
        else:
            assert torch.equal(v, now[k])  # integer buffers are copied
    assert ema.updates == 1


def test_k_updates_toward_a_fixed_point_decay_geometrically():
    m = WithBuffers()
    ema = EMA(m, 0.95)
    e0 = ema.module.lin.weight.clone()
    with torch.no_grad():
        m.lin.weight.fill_(2.0)
    for _ in range(30):
        ema.update(m)
    expect = 2.0 + 0.95**30 * (e0 - 2.0)
    torch.testing.assert_close(ema.module.lin.weight, expect, rtol=0, atol=1e-12)


def test_ema_copy_is_frozen_and_independent():
    m = WithBuffers()
    ema = EMA(m, 0.5)
    assert not any(p.requires_grad for p in ema.module.parameters())
    assert not ema.module.training
    with torch.no_grad():
        m.lin.weight.zero_()
    assert ema.module.lin.weight.abs().sum() > 0


def test_bad_decay():
    import pytest

    with pytest.raises(ValueError, match="decay"):
        EMA(nn.Linear(2, 2), 1.0)


def test_warmup_uses_the_smaller_of_decay_and_its_ramp():
    m = WithBuffers()
    ema = EMA(m, 0.9, warmup=True)
    expected = [min(0.9, (1 + n) / (10 + n)) for n in range(200)]
    got = []
    for n in range(200):
        got.append(ema.current_decay())
        before = ema.module.lin.weight.clone()
        with torch.no_grad():
            m.lin.weight.add_(1.0)
        ema.update(m)
        d = expected[n]
        torch.testing.assert_close(
            ema.module.lin.weight, d * before + (1 - d) * m.lin.weight, rtol=0, atol=1e-12
        )
    assert got == expected and got[0] == 0.1 and got[-1] == 0.9
