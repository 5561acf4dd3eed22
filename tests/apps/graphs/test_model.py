"""GDSS score networks: agreement with PyG's dense GCN and a per-channel reference, symmetries."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.apps.graphs.layers import AttentionLayer, DenseGCN, gcn_norm, mlp, upper_pairs
from scorelab.apps.graphs.model import GDSSNet, ScoreNetworkA, ScoreNetworkX

F = 5
SMALL = dict(depth=2, nhid=8, adim=8, num_heads=2, num_layers=3, num_linears=2)


def noisy_batch(sizes: list[int], n: int, f: int = F) -> tuple[dict, torch.Tensor]:
    """A noisy graph state: symmetric Gaussian-perturbed adjacency, zero diagonal, padded."""
    b = len(sizes)
    mask = torch.zeros(b, n)
    for i, k in enumerate(sizes):
        mask[i, :k] = 1
    pair = mask[:, :, None] * mask[:, None, :]
    a = (torch.rand(b, n, n) < 0.3).float() + 0.5 * torch.randn(b, n, n)
    a = a.triu(1)
    adj = (a + a.transpose(1, 2)) * pair
    x = (torch.randn(b, n, f) + torch.eye(f)[torch.randint(0, f, (b, n))]) * mask[..., None]
    return {"x": x, "adj": adj}, mask


def permute(state: dict, mask: torch.Tensor, perm: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """Relabel nodes of every graph by ``perm`` (new node i is old node perm[i])."""
    x = state["x"][:, perm]
    adj = state["adj"][:, perm][:, :, perm]
    return {"x": x, "adj": adj}, mask[:, perm]


def test_dense_gcn_matches_pyg():
    """Our GCN (normalised adjacency computed once) equals torch_geometric's DenseGCNConv."""
    pyg = pytest.importorskip("torch_geometric.nn")
    state, mask = noisy_batch([7, 4, 9], 9)
    adj = state["adj"] @ state["adj"]  # weighted, with a non-zero diagonal, some degrees < 1
    ours = DenseGCN(F, 6)
    with torch.no_grad():
        ours.bias.normal_()
    ref = pyg.DenseGCNConv(F, 6)
    with torch.no_grad():
        ref.lin.weight.copy_(ours.weight.T)
        ref.bias.copy_(ours.bias)
    got = ours(state["x"], gcn_norm(adj)) * mask[..., None]
    want = ref(state["x"], adj, mask=mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def reference_attention_layer(layer: AttentionLayer, x, adj, mask, attn, out):
    """AttentionLayer's math spelled out: one GCN triple and one loop over heads per channel."""
    heads = layer.num_heads
    maps, values = [], []
    for c in range(adj.shape[1]):
        a_norm = gcn_norm(adj[:, c])
        w, bias = layer.weight[c], layer.bias[c, 0]
        q = a_norm @ (x @ w[:, :attn]) + bias[:attn]
        k = a_norm @ (x @ w[:, attn : 2 * attn]) + bias[attn : 2 * attn]
        values.append(a_norm @ (x @ w[:, 2 * attn :]) + bias[2 * attn :])
        d = attn // heads
        # GDSS scales by sqrt(out_dim), the value width, not the head width
        per_head = [
            torch.tanh(q[..., h * d : (h + 1) * d] @ k[..., h * d : (h + 1) * d].transpose(1, 2)
                       / math.sqrt(out))
            for h in range(heads)
        ]  # fmt: skip
        m = torch.stack(per_head).mean(0)
        maps.append((m + m.transpose(1, 2)) / 2)
    x_out = None
    if layer.node_mlp is not None:
        x_out = torch.tanh(layer.node_mlp(torch.cat(values, -1)) * mask[..., None])
    pair = mask[:, :, None] * mask[:, None, :]
    feats = torch.cat([torch.stack(maps, -1), adj.permute(0, 2, 3, 1)], -1)
    e = layer.edge_mlp(feats).permute(0, 3, 1, 2)
    return x_out, (e + e.transpose(-1, -2)) * pair[:, None]


def test_attention_layer_matches_per_channel_reference():
    """The fused layer equals the per-channel, per-head computation of GDSS's AttentionLayer."""
    state, mask = noisy_batch([6, 8], 8)
    adj = torch.stack([state["adj"], state["adj"] @ state["adj"]], 1) * (
        mask[:, None, :, None] * mask[:, None, None, :]
    )
    layer = AttentionLayer(F, 8, 6, c_in=2, c_out=3, num_heads=4, num_linears=3)
    with torch.no_grad():
        layer.bias.normal_()
    pairs = upper_pairs(mask)
    x_out, adj_out, vals = layer(state["x"], adj, mask, pairs)
    x_ref, adj_ref = reference_attention_layer(layer, state["x"], adj, mask, attn=8, out=6)
    torch.testing.assert_close(x_out, x_ref, atol=1e-5, rtol=1e-5)
    # the fused layer leaves the diagonal at zero (it only ever reaches diagonal outputs)
    off_diag = 1 - torch.eye(8)
    torch.testing.assert_close(adj_out, adj_ref * off_diag, atol=1e-5, rtol=1e-5)
    g, i, j = pairs
    assert len(g) == 6 * 5 // 2 + 8 * 7 // 2
    torch.testing.assert_close(vals, adj_ref[g, :, i, j], atol=1e-5, rtol=1e-5)


def test_score_network_a_matches_dense_reference():
    """ScoreNetworkA (MLPs on pairs i < j only) equals GDSS's dense evaluation on every entry."""
    net = ScoreNetworkA(F, 6, 3, 2, 2, 4, 3, 8, num_heads=4)
    state, mask = noisy_batch([6, 8, 3], 8)
    x, adj = state["x"], state["adj"]
    chans = torch.stack([adj, adj @ adj], 1)
    all_chans = [chans]
    for layer in net.layers:
        x, chans = reference_attention_layer(layer, x, chans, mask, attn=8, out=6)
        all_chans.append(chans)
    dense = net.final(torch.cat(all_chans, 1).permute(0, 2, 3, 1)).squeeze(-1)
    pair = mask[:, :, None] * mask[:, None, :] * (1 - torch.eye(8))
    got = net(state["x"], adj, mask)
    torch.testing.assert_close(got, dense * pair, atol=1e-5, rtol=1e-5)
    assert got.abs().max() > 1e-3


def test_mlp_layers():
    """num_layers linear maps with ELU between; one layer is a plain linear map."""
    assert [type(m).__name__ for m in mlp(3, 4, 8, 2)] == [
        "Linear", "ELU", "Linear", "ELU", "Linear",
    ]  # fmt: skip
    assert len(mlp(1, 4, 8, 2)) == 1
    with pytest.raises(ValueError, match="num_layers"):
        mlp(0, 4, 8, 2)


@pytest.mark.parametrize("time_cond", [False, True])
def test_permutation_equivariance(time_cond):
    """Relabelling nodes, padding included, relabels both outputs the same way."""
    net = GDSSNet(F, **SMALL, time_cond=time_cond)
    state, mask = noisy_batch([10, 6, 12], 12)
    t = torch.tensor([0.2, 0.5, 0.9])
    perm = torch.randperm(12)
    out = net(state, t, mask)
    pstate, pmask = permute(state, mask, perm)
    pout = net(pstate, t, pmask)
    torch.testing.assert_close(pout["x"], out["x"][:, perm], atol=1e-5, rtol=0)
    torch.testing.assert_close(pout["adj"], out["adj"][:, perm][:, :, perm], atol=1e-5, rtol=0)
    assert out["adj"].abs().max() > 1e-3 and out["x"].abs().max() > 1e-3


@pytest.mark.parametrize("time_cond", [False, True])
def test_padding_garbage_is_ignored_and_zeroed(time_cond):
    """Outputs are exactly zero on padding and blind to what the padded inputs hold."""
    net = GDSSNet(F, **SMALL, time_cond=time_cond)
    state, mask = noisy_batch([5, 9, 3], 9)
    pad = mask == 0
    pair_pad = pad[:, :, None] | pad[:, None, :]
    dirty = {
        "x": torch.where(pad[..., None], 100 * torch.randn_like(state["x"]), state["x"]),
        "adj": torch.where(pair_pad, 50 * torch.randn_like(state["adj"]), state["adj"]),
    }
    clean_out = net(state, 0.3, mask)
    out = net(dirty, 0.3, mask)
    assert (out["x"][pad] == 0).all()
    assert (out["adj"][pair_pad] == 0).all()
    torch.testing.assert_close(out["x"], clean_out["x"], atol=1e-6, rtol=0)
    torch.testing.assert_close(out["adj"], clean_out["adj"], atol=1e-6, rtol=0)


def test_adjacency_output_symmetric_zero_diagonal():
    """The adjacency prediction is exactly symmetric with a zero diagonal."""
    net = GDSSNet(F, **SMALL)
    state, mask = noisy_batch([8, 11], 11)
    adj = net(state, 0.5, mask)["adj"]
    assert torch.equal(adj, adj.transpose(1, 2))
    assert (torch.diagonal(adj, dim1=1, dim2=2) == 0).all()


def test_batch_elements_are_independent():
    """A graph's output does not change with the other graphs in its batch."""
    net = GDSSNet(F, **SMALL, time_cond=True)
    state, mask = noisy_batch([7, 10, 4], 10)
    t = torch.tensor([0.1, 0.6, 0.8])
    out = net(state, t, mask)
    other, _ = noisy_batch([10, 10, 10], 10)
    mixed = {k: torch.cat([state[k][1:2], other[k][1:]]) for k in state}
    mixed_mask = torch.cat([mask[1:2], torch.ones(2, 10)])
    out1 = net(mixed, torch.tensor([0.6, 0.2, 0.3]), mixed_mask)
    for k in out:
        torch.testing.assert_close(out1[k][0], out[k][1], atol=1e-6, rtol=0)


def test_padding_invariance():
    """A graph padded to N=20 gives the same outputs on its nodes as the graph at N=12."""
    net = GDSSNet(F, **SMALL, time_cond=True)
    state, mask = noisy_batch([12, 9], 12)
    big = {
        "x": torch.nn.functional.pad(state["x"], (0, 0, 0, 8)),
        "adj": torch.nn.functional.pad(state["adj"], (0, 8, 0, 8)),
    }
    big_mask = torch.nn.functional.pad(mask, (0, 8))
    out = net(state, 0.4, mask)
    out_big = net(big, 0.4, big_mask)
    torch.testing.assert_close(out_big["x"][:, :12], out["x"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out_big["adj"][:, :12, :12], out["adj"], atol=1e-5, rtol=0)
    assert (out_big["x"][:, 12:] == 0).all() and (out_big["adj"][:, 12:] == 0).all()


@pytest.mark.parametrize("time_cond", [False, True])
def test_every_parameter_gets_a_gradient(time_cond):
    """No unused parameters: each one receives a non-zero gradient."""
    net = GDSSNet(F, **SMALL, time_cond=time_cond)
    state, mask = noisy_batch([6, 8], 8)
    out = net(state, torch.tensor([0.3, 0.7]), mask)
    (out["x"].square().sum() + out["adj"].square().sum()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_time_input():
    """t is read only with time_cond; a scalar t equals the same t repeated; bool masks work."""
    state, mask = noisy_batch([6, 8], 8)
    plain = GDSSNet(F, **SMALL)
    a, b = plain(state, 0.1, mask), plain(state, 0.9, mask)
    assert all(torch.equal(a[k], b[k]) for k in a)
    timed = GDSSNet(F, **SMALL, time_cond=True)
    a, b = timed(state, torch.tensor(0.1), mask), timed(state, torch.tensor([0.1, 0.1]), mask)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = timed(state, 0.9, mask.bool())
    assert (c["adj"] - a["adj"]).abs().max() > 1e-4 and (c["x"] - a["x"]).abs().max() > 1e-4


def test_subnetworks_standalone():
    """The two networks are usable alone, with cond (B, extra_in) checked against extra_in."""
    state, mask = noisy_batch([6, 8], 8)
    sx = ScoreNetworkX(F, depth=2, nhid=8, extra_in=1)
    sa = ScoreNetworkA(F, 8, 2, 2, 2, 4, 3, 8, num_heads=2, extra_in=1)
    cond = torch.rand(2, 1)
    assert sx(state["x"], state["adj"], mask, cond).shape == (2, 8, F)
    assert sa(state["x"], state["adj"], mask, cond).shape == (2, 8, 8)
    with pytest.raises(ValueError, match="cond"):
        sa(state["x"], state["adj"], mask)
    with pytest.raises(ValueError, match="divisible"):
        ScoreNetworkA(F, 8, 2, 2, 2, 4, 3, 6, num_heads=4)


def test_bad_inputs_raise():
    """Wrong shapes or NaN name the field; a bad t shape is refused."""
    net = GDSSNet(F, **SMALL)
    state, mask = noisy_batch([6, 8], 8)
    with pytest.raises(ValueError, match=r"state\['x'\].*\(2, 8, 4\)"):
        net({"x": state["x"][..., :4], "adj": state["adj"]}, 0.5, mask)
    with pytest.raises(ValueError, match=r"state\['adj'\].*\(2, 8, 7\)"):
        net({"x": state["x"], "adj": state["adj"][..., :7]}, 0.5, mask)
    with pytest.raises(ValueError, match="node_mask"):
        net(state, 0.5, mask[:, :5])
    with pytest.raises(ValueError, match="'adj'"):
        net({"x": state["x"], "adj": state["adj"].clone().fill_(float("nan"))}, 0.5, mask)
    with pytest.raises(ValueError, match="'x'"):
        net({"adj": state["adj"]}, 0.5, mask)
    with pytest.raises(ValueError, match="time"):
        GDSSNet(F, **SMALL, time_cond=True)(state, torch.rand(3), mask)
