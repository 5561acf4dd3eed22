"""EGNN: E(3) equivariance at float64, EDM's layer against a loop-by-loop reference, padding."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from scorelab.apps.molecules.egnn import EGNN, PairLinear, real_edges
from scorelab.testing.equivariance import check_e3

from .backbone_checks import B, D, N, inputs


def _egnn(**kw) -> EGNN:
    torch.manual_seed(0)
    net = EGNN(D, 16, 3, **kw).double()
    with torch.no_grad():  # EDM starts the coordinate head near zero; make it matter here
        for block in net.blocks:
            if block.coords is not None:
                block.coords.out.weight.normal_(0, 0.3)
    return net


def test_real_edges_are_all_ordered_pairs_of_real_atoms():
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 0, 1]], dtype=torch.bool)
    r, s = real_edges(mask)
    got = sorted(zip(r.tolist(), s.tolist(), strict=True))
    want = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (5, 7), (7, 5)]
    assert got == want


def test_pair_linear_is_a_linear_map_of_the_concatenation():
    torch.manual_seed(0)
    lin = PairLinear(4, 2, 5).double()
    h = torch.randn(6, 4, dtype=torch.float64)
    e = torch.randn(3, 2, dtype=torch.float64)
    r, s = torch.tensor([0, 4, 5]), torch.tensor([1, 1, 2])
    want = lin.linear(torch.cat([h[r], h[s], e], -1))
    torch.testing.assert_close(lin(h, e, r, s), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("update_coords", [True, False])
def test_egnn_is_e3_equivariant(update_coords):
    net = _egnn(update_coords=update_coords)
    h, x, mask = inputs()

    def fn(inp, node_mask):
        h_out, x_out = net(inp["h"], inp["x"], node_mask)
        return {"h": h_out, "dx": x_out - inp["x"]}

    report = check_e3(
        fn,
        {"h": h, "x": x},
        node_mask=mask,
        vector_fields=("x",),
        vector_outputs=("dx",),
        generator=torch.Generator().manual_seed(1),
    )
    report.assert_ok(atol=1e-10)
    dx = fn({"h": h, "x": x}, mask)["dx"]
    assert (dx.abs().max() > 1e-2) == update_coords  # the check had something to check


def test_egnn_positions_translate_with_the_input():
    net = _egnn()
    h, x, mask = inputs()
    shift = torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64)
    m = mask[..., None].double()
    _, x1 = net(h, x, mask)
    _, x2 = net(h, x + shift * m, mask)
    torch.testing.assert_close(x2, x1 + shift * m, rtol=0, atol=1e-10)


def test_a_broken_egnn_fails_the_check():
    """Invariant features fed one coordinate are no longer invariant: the checker says so."""
    net = _egnn()
    h, x, mask = inputs()

    def fn(inp, node_mask):
        h_out, _ = net(torch.cat([inp["h"][..., :-1], inp["x"][..., :1]], -1), inp["x"], node_mask)
        return {"h": h_out}

    report = check_e3(fn, {"h": h, "x": x}, node_mask=mask, vector_fields=("x",), trials=1)
    with pytest.raises(AssertionError, match="'h' under rotation"):
        report.assert_ok(atol=1e-6)


def _reference_block(block, h, x, d0, norm_constant):
    """EDM's GCL + EquivariantUpdate for one molecule, written pair by pair."""
    sub, coords = block.sublayers[0], block.coords
    n = h.shape[0]
    agg = torch.zeros_like(h)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d2 = (x[i] - x[j]).pow(2).sum()
            e = torch.stack([d2, d0[i, j]])
            m = F.silu(sub.edge_out(F.silu(sub.edge_in.linear(torch.cat([h[i], h[j], e])))))
            agg[i] += m * torch.sigmoid(sub.att(m))
    h = h + sub.node_mlp(torch.cat([h, agg], -1))
    dx = torch.zeros_like(x)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            diff = x[i] - x[j]
            e = torch.stack([diff.pow(2).sum(), d0[i, j]])
            inp = torch.cat([h[i], h[j], e])
            phi = coords.out(F.silu(coords.hidden(F.silu(coords.edge_in.linear(inp)))))
            unit = diff / ((diff.pow(2).sum() + 1e-8).sqrt() + norm_constant)
            dx[i] += unit * torch.tanh(phi) * coords.coords_range
    return h, x + dx


def test_egnn_matches_a_pair_by_pair_reference_of_edms_layers():
    net = _egnn()
    h, x, mask = inputs()
    k = 5  # the second molecule's real atoms
    h_out, x_out = net(h, x, mask)
    hh = net.embedding(h[1, :k])
    xx = x[1, :k]
    d0 = (xx[:, None] - xx[None]).pow(2).sum(-1)
    for block in net.blocks:
        hh, xx = _reference_block(block, hh, xx, d0, net.norm_constant)
    torch.testing.assert_close(h_out[1, :k], hh, rtol=0, atol=1e-10)
    torch.testing.assert_close(x_out[1, :k], xx, rtol=0, atol=1e-10)


def test_two_atoms_move_along_their_bond():
    """Any equivariant update of two points keeps them on their line (and their midpoint)."""
    net = _egnn()
    h, x, _ = inputs()
    mask = torch.zeros(B, N, dtype=torch.bool)
    mask[:, :2] = True
    _, x_out = net(h, x, mask)
    bond = x[:, 0] - x[:, 1]
    for a in range(2):
        move = x_out[:, a] - x[:, a]
        assert torch.linalg.cross(move, bond).abs().max() < 1e-10
        assert move.abs().max() > 1e-3


def test_padding_contents_do_not_change_real_outputs():
    net = _egnn()
    h, x, mask = inputs()
    h_out, x_out = net(h, x, mask)
    pad = ~mask
    h2, x2 = h.clone(), x.clone()
    h2[pad] = 1e6 * torch.randn_like(h2[pad])
    x2[pad] = float("nan")
    h_out2, x_out2 = net(h2, x2, mask)
    torch.testing.assert_close(h_out2, h_out, rtol=0, atol=0)
    torch.testing.assert_close(x_out2, x_out, rtol=0, atol=0)
    assert h_out[pad].abs().max() == 0 and x_out[pad].abs().max() == 0


def test_bad_shapes_raise():
    net = _egnn()
    h, x, mask = inputs()
    with pytest.raises(ValueError, match="node_mask"):
        net(h, x, mask[:, :-1])
    with pytest.raises(ValueError, match="x \\(B, N, 3\\)"):
        net(h, x[..., :2], mask)
