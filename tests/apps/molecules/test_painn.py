"""PaiNN: radial basis facts, the dense message against the paper's sums, E(3) equivariance."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.apps.molecules.painn import PaiNN, cosine_cutoff, sine_basis
from scorelab.testing.equivariance import check_e3

from .backbone_checks import B, D, N, inputs, vector_backbone_report


def _painn(**kw) -> PaiNN:
    torch.manual_seed(0)
    return PaiNN(D, 16, 2, **kw).double()


def test_radial_basis_and_cutoff_known_values():
    r = torch.tensor([[[1e-6, 2.5, 10.0]]], dtype=torch.float64)
    rbf = sine_basis(r, 3, 10.0)  # (1, 3, 1, 3)
    n = torch.arange(1, 4, dtype=torch.float64)
    torch.testing.assert_close(rbf[0, :, 0, 0], n * math.pi / 10.0, rtol=1e-9, atol=0)
    torch.testing.assert_close(rbf[0, :, 0, 1], torch.sin(n * math.pi / 4) / 2.5)
    assert rbf[0, :, 0, 2].abs().max() < 1e-15
    fc = cosine_cutoff(torch.tensor([0.0, 5.0, 10.0, 12.0]), 10.0)
    torch.testing.assert_close(fc, torch.tensor([1.0, 0.5, 0.0, 0.0]), rtol=0, atol=1e-7)


def test_message_matches_the_papers_pairwise_sums():
    """The dense matmul form (with (K x)_i - (sum_j K_ij) x_i) equals PaiNN's sums over j."""
    net = _painn()
    msg = net.messages[0]
    g = torch.Generator().manual_seed(3)
    n, f = 4, 16
    s = torch.randn(1, n, f, generator=g, dtype=torch.float64)
    v = torch.randn(1, n, 3, f, generator=g, dtype=torch.float64)
    x = torch.randn(1, n, 3, generator=g, dtype=torch.float64)
    x = x - x.mean(1, keepdim=True)
    r = ((x[:, :, None] - x[:, None]).pow(2).sum(-1) + 1e-8).sqrt()
    pair = 1 - torch.eye(n, dtype=torch.float64)
    envelope = (cosine_cutoff(r, 10.0) * pair)[:, None]
    ds, dv = msg(s, v, x, sine_basis(r, 20, 10.0), envelope, (1 / r)[:, None])

    phi = msg.phi(s[0])
    want_s, want_v = torch.zeros(n, f, dtype=torch.float64), torch.zeros(n, 3, f).double()
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rij = ((x[0, j] - x[0, i]).pow(2).sum() + 1e-8).sqrt()  # the network's r
            rbf = torch.sin(torch.arange(1, 21).double() * math.pi * rij / 10) / rij
            w = msg.filter(rbf) * 0.5 * (torch.cos(math.pi * rij / 10) + 1)
            a_ss, a_vv, a_vs = (phi[j] * w).chunk(3)
            want_s[i] += a_ss
            want_v[i] += a_vv * v[0, j] + a_vs * ((x[0, j] - x[0, i]) / rij)[:, None]
    torch.testing.assert_close(ds[0], want_s, rtol=0, atol=1e-10)
    torch.testing.assert_close(dv[0], want_v, rtol=0, atol=1e-10)


def test_painn_is_e3_equivariant():
    report, out = vector_backbone_report(_painn())
    report.assert_ok(atol=1e-10)
    assert out["v"].abs().max() > 1e-2


def test_a_vector_head_with_a_bias_fails_the_check():
    net = _painn()
    h, x, mask = inputs()
    bias = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)

    def fn(inp, node_mask):
        return {"v": net(inp["h"], inp["x"], node_mask)[1] + bias}

    report = check_e3(fn, {"h": h, "x": x}, node_mask=mask, vector_fields=("x",), trials=1)
    with pytest.raises(AssertionError, match="'v' under rotation"):
        report.assert_ok(atol=1e-6)


def test_two_atoms_get_vectors_along_their_bond():
    net = _painn()
    h, x, _ = inputs()
    mask = torch.zeros(B, N, dtype=torch.bool)
    mask[:, :2] = True
    _, v = net(h, x, mask)
    bond = x[:, 0] - x[:, 1]
    for a in range(2):
        assert torch.linalg.cross(v[:, a], bond).abs().max() < 1e-12
        assert v[:, a].abs().max() > 1e-4


def test_padding_contents_do_not_change_real_outputs():
    net = _painn(out_dim=5)
    h, x, mask = inputs()
    s, v = net(h, x, mask)
    assert s.shape == (B, N, 5) and v.shape == (B, N, 3)
    pad = ~mask
    h2, x2 = h.clone(), x.clone()
    h2[pad] = float("inf")
    x2[pad] = 1e6 * torch.randn_like(x2[pad])
    s2, v2 = net(h2, x2, mask)
    torch.testing.assert_close(s2, s, rtol=0, atol=0)
    torch.testing.assert_close(v2, v, rtol=0, atol=0)
    assert s[pad].abs().max() == 0 and v[pad].abs().max() == 0


def test_gradients_are_finite_at_zero_vectors():
    net = PaiNN(D, 8, 2)
    h, x, mask = inputs()
    s, v = net(h.float(), x.float(), mask)
    (s.square().sum() + v.square().sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_trailing_padding_columns_change_nothing():
    net = _painn()
    h, x, mask = inputs()
    s, v = net(h, x, mask)
    wide = torch.zeros(B, N + 4, dtype=torch.bool)
    wide[:, :N] = mask
    pad = (0, 0, 0, 4)
    s2, v2 = net(torch.nn.functional.pad(h, pad), torch.nn.functional.pad(x, pad), wide)
    assert s2.shape == (B, N + 4, 16) and v2[:, N:].abs().max() == 0
    torch.testing.assert_close(s2[:, :N], s, rtol=0, atol=1e-12)
    torch.testing.assert_close(v2[:, :N], v, rtol=0, atol=1e-12)
    empty = torch.zeros(B, N, dtype=torch.bool)
    s3, v3 = net(h, x, empty)
    assert s3.shape == (B, N, 16) and s3.abs().max() == 0 and v3.abs().max() == 0
