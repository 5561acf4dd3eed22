"""MLPScoreNet: shapes, time handling, validation, gradients, and a small fit to a known score."""

from __future__ import annotations

import pytest
import torch

from scorelab.apps.toy.model import MLPScoreNet, sinusoidal_embedding


@pytest.mark.parametrize(("dim", "depth"), [(2, 3), (5, 1), (1, 2)])
def test_output_shape_and_dtype(dim, depth):
    net = MLPScoreNet(dim=dim, hidden=32, depth=depth, time_features=16)
    x, t = torch.randn(7, dim), torch.rand(7)
    out = net(x, t)
    assert out.shape == (7, dim) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    out64 = net(x.double(), t.double())
    assert out64.dtype == torch.float64
    assert torch.allclose(out64.float(), out, atol=1e-6)


def test_scalar_t_broadcasts_to_the_batch():
    net = MLPScoreNet(hidden=32)
    x = torch.randn(5, 2)
    want = net(x, torch.full((5,), 0.3))
    assert torch.equal(net(x, torch.tensor(0.3)), want)
    assert torch.equal(net(x, 0.3), want)
    # each row only sees its own time
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    out = net(x, t)
    assert torch.equal(out[1], want[1])
    assert not torch.allclose(out[0], want[0])


def test_time_embedding_is_a_fixed_buffer():
    net = MLPScoreNet(time_features=64)
    assert "freqs" in dict(net.named_buffers())
    assert all("freqs" not in name for name, _ in net.named_parameters())
    f = net.freqs
    assert f.shape == (32,) and f[0] == 1.0 and (f.diff() < 0).all() and f[-1] > 5e-5
    emb = sinusoidal_embedding(torch.tensor([0.0, 0.5]), f)
    assert emb.shape == (2, 64)
    assert torch.allclose(emb[0], torch.cat([torch.zeros(32), torch.ones(32)]))
    assert torch.allclose(emb.pow(2)[:, :32] + emb.pow(2)[:, 32:], torch.ones(2, 32))


def test_wrong_shapes_raise():
    net = MLPScoreNet(dim=2, hidden=16)
    with pytest.raises(ValueError, match=r"\(B, 2\).*\(4, 3\)"):
        net(torch.randn(4, 3), torch.rand(4))
    with pytest.raises(ValueError, match=r"\(B, 2\).*\(4,\)"):
        net(torch.randn(4), torch.rand(4))
    with pytest.raises(ValueError, match=r"t of shape.*\(5,\)"):
        net(torch.randn(4, 2), torch.rand(5))
    with pytest.raises(ValueError, match="t of shape"):
        net(torch.randn(4, 2), torch.rand(4, 1))
    with pytest.raises(ValueError, match="time_features"):
        MLPScoreNet(time_features=7)
    with pytest.raises(ValueError, match="depth"):
        MLPScoreNet(depth=0)


def test_gradient_reaches_every_parameter():
    net = MLPScoreNet(dim=3, hidden=32, depth=3, time_features=8)
    net(torch.randn(16, 3), torch.rand(16)).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_init_is_deterministic_under_manual_seed():
    torch.manual_seed(11)
    a = MLPScoreNet(hidden=32)
    torch.manual_seed(11)
    b = MLPScoreNet(hidden=32)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    torch.manual_seed(12)
    c = MLPScoreNet(hidden=32)
    assert not torch.equal(sa["inp.weight"], c.state_dict()["inp.weight"])


def test_fits_a_time_dependent_gaussian_score():
    """Regress the score of N(0, (0.1 + t^2) I), -x / (0.1 + t^2), over t in [0, 1]."""
    torch.manual_seed(0)
    net = MLPScoreNet(hidden=64, depth=2, time_features=16)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = torch.rand(n, generator=g)
        var = (0.1 + t * t)[:, None]
        x = var.sqrt() * torch.randn(n, 2, generator=g)
        return x, t, -x / var

    for _ in range(400):
        x, t, s = batch(256)
        loss = ((net(x, t) - s).pow(2).sum(1) * (0.1 + t * t)).mean()  # sigma^2-weighted
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, t, s = batch(2000)
    with torch.no_grad():
        w = (0.1 + t * t)[:, None]
        rel = float(((net(x, t) - s).pow(2) * w).sum() / (s.pow(2) * w).sum())
    assert rel < 0.01, rel
