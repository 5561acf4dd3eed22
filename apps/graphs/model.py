"""GDSS's score networks (Jo et al. 2022): a GCN for node features, graph attention for edges.

* ``ScoreNetworkX``: dense GCN layers with tanh; the input and every layer's output are
  concatenated and a 3-layer ELU MLP maps them back to the node features.
* ``ScoreNetworkA``: adjacency powers A, ..., A^c_init through ``AttentionLayer``s; every
  layer's adjacency channels are concatenated and a 3-layer ELU MLP gives one value per entry
  (symmetric, zero diagonal).
* ``GDSSNet``: both on a graph state ``{"x", "adj"}``, the model call of the core,
  ``net(state, t, node_mask=...)``, returning a prediction per field.

GDSS's networks take no time input (the noise level is read off the input); ``time_cond``
adds t as a constant node channel and a constant adjacency channel. ``cond`` below is such a
per-graph vector (B, extra_in), given to the node features and, in ScoreNetworkA, to the
adjacency channels (on real pairs off the diagonal), which keeps both permutation-equivariant.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from scorelab.broadcast import batch_time

from .layers import (
    AttentionLayer,
    DenseGCN,
    adjacency_powers,
    gcn_norm,
    mask_nodes,
    mask_pairs,
    mlp,
    scatter_pairs,
    upper_pairs,
)


def _masked_inputs(
    x: Tensor, adj: Tensor, mask: Tensor, cond: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Float mask; x and adj zeroed on padding, with ``cond`` appended to x as channels."""
    mask = mask.to(x.dtype)
    x = mask_nodes(x, mask)
    if cond is not None:
        x = torch.cat([x, mask_nodes(cond[:, None, :].expand(-1, x.shape[1], -1), mask)], -1)
    return x, mask_pairs(adj, mask), mask


def _check_cond(cond: Tensor | None, extra_in: int, batch: int) -> None:
    if extra_in and (cond is None or cond.shape != (batch, extra_in)):
        got = None if cond is None else tuple(cond.shape)
        raise ValueError(f"cond must have shape ({batch}, {extra_in}), got {got}")
    if not extra_in and cond is not None:
        raise ValueError("cond given to a network built with extra_in=0")


class ScoreNetworkX(nn.Module):
    """Node-feature score network: ``forward(x, adj, node_mask, cond=None)`` → (B, N, max_feat).

    x (B, N, max_feat), adj (B, N, N), node_mask (B, N) bool or float, cond (B, extra_in).
    The output is zero on padded nodes.
    """

    def __init__(self, max_feat: int, depth: int, nhid: int, extra_in: int = 0) -> None:
        super().__init__()
        self.extra_in = extra_in
        in_dim = max_feat + extra_in
        self.convs = nn.ModuleList(DenseGCN(in_dim if i == 0 else nhid, nhid) for i in range(depth))
        fdim = in_dim + depth * nhid
        self.final = mlp(3, fdim, 2 * fdim, max_feat)

    def forward(
        self, x: Tensor, adj: Tensor, node_mask: Tensor, cond: Tensor | None = None
    ) -> Tensor:
        """The node-feature prediction (B, N, max_feat), zero on padded nodes."""
        _check_cond(cond, self.extra_in, x.shape[0])
        h, adj, mask = _masked_inputs(x, adj, node_mask, cond)
        a_norm = gcn_norm(adj)
        hs = [h]
        for conv in self.convs:
            h = torch.tanh(conv(h, a_norm))
            hs.append(h)
        return mask_nodes(self.final(torch.cat(hs, dim=-1)), mask)


class ScoreNetworkA(nn.Module):
    """Adjacency score network: ``forward(x, adj, node_mask, cond=None)`` → (B, N, N).

    x (B, N, max_feat), adj (B, N, N), node_mask (B, N) bool or float, cond (B, extra_in).
    The output is symmetric with zero diagonal and zero rows/columns on padded nodes. The first
    layer takes c_init (+ extra_in) channels, the middle ones c_hid, the last gives c_final.
    adj is taken to be symmetric, as in GDSS: the per-entry MLPs run on the pairs i < j only.
    """

    def __init__(
        self,
        max_feat: int,
        nhid: int,
        num_layers: int,
        num_linears: int,
        c_init: int,
        c_hid: int,
        c_final: int,
        adim: int,
        num_heads: int = 4,
        extra_in: int = 0,
    ) -> None:
        super().__init__()
        if num_layers < 1 or c_init < 1:
            raise ValueError(f"need num_layers >= 1 and c_init >= 1, got {num_layers}, {c_init}")
        self.c_init, self.extra_in = c_init, extra_in
        c_first = c_init + extra_in
        self.layers = nn.ModuleList()
        for i in range(num_layers):
            last = i == num_layers - 1
            self.layers.append(
                AttentionLayer(
                    in_dim=max_feat + extra_in if i == 0 else nhid,
                    attn_dim=adim,
                    out_dim=nhid,
                    c_in=c_first if i == 0 else c_hid,
                    c_out=c_final if last else c_hid,
                    num_heads=num_heads,
                    num_linears=num_linears,
                    node_out=not last,
                )
            )
        fdim = c_first + c_hid * (num_layers - 1) + c_final
        self.final = mlp(3, fdim, 2 * fdim, 1)

    def forward(
        self, x: Tensor, adj: Tensor, node_mask: Tensor, cond: Tensor | None = None
    ) -> Tensor:
        """The adjacency prediction (B, N, N): symmetric, zero diagonal, zero on padding."""
        _check_cond(cond, self.extra_in, x.shape[0])
        h, adj, mask = _masked_inputs(x, adj, node_mask, cond)
        b, n = mask.shape
        pairs = upper_pairs(mask)
        chans = adjacency_powers(adj, self.c_init)
        if cond is not None:
            const = cond[:, :, None, None].to(adj.dtype).expand(-1, -1, n, n)
            chans = torch.cat([chans, mask_pairs(const, mask)], dim=1)
        g, i, j = pairs
        feats = [chans[g, :, i, j]]
        for layer in self.layers:
            h, chans, vals = layer(h, chans, mask, pairs)
            feats.append(vals)
        score = self.final(torch.cat(feats, dim=-1))
        return scatter_pairs(score, pairs, b, n).squeeze(-1)


def _check_state(state: Mapping[str, Tensor], node_mask: Tensor, max_feat: int) -> None:
    """ValueError naming the field and its shape for a malformed graph state."""
    if not isinstance(state, Mapping) or "x" not in state or "adj" not in state:
        raise ValueError("state must be a dict with fields 'x' (B, N, F) and 'adj' (B, N, N)")
    x, adj = state["x"], state["adj"]
    if x.ndim != 3 or x.shape[-1] != max_feat:
        raise ValueError(f"state['x'] must have shape (B, N, {max_feat}), got {tuple(x.shape)}")
    b, n, _ = x.shape
    if adj.shape != (b, n, n):
        raise ValueError(f"state['adj'] must have shape ({b}, {n}, {n}), got {tuple(adj.shape)}")
    if node_mask.shape != (b, n):
        raise ValueError(f"node_mask must have shape ({b}, {n}), got {tuple(node_mask.shape)}")
    for name, v in (("x", x), ("adj", adj)):
        if torch.isnan(v).any():
            raise ValueError(f"state[{name!r}] of shape {tuple(v.shape)} contains NaN")


class GDSSNet(nn.Module):
    """GDSS's pair of score networks on a graph state: the eps prediction per field.

    ``forward(state, t, node_mask)``: state = {"x": (B, N, F), "adj": (B, N, N)}, t (B,) or a
    scalar (read only with ``time_cond``), node_mask (B, N) bool or float → {"x", "adj"} of
    the same shapes: x zero on padded nodes; adj symmetric, zero diagonal, zero on padding.
    """

    def __init__(
        self,
        max_feat: int,
        *,
        depth: int = 3,
        nhid: int = 32,
        adim: int = 32,
        num_heads: int = 4,
        num_layers: int = 5,
        num_linears: int = 2,
        c_init: int = 2,
        c_hid: int = 8,
        c_final: int = 4,
        time_cond: bool = False,
    ) -> None:
        super().__init__()
        self.max_feat, self.time_cond = max_feat, time_cond
        extra = int(time_cond)
        self.score_x = ScoreNetworkX(max_feat, depth, nhid, extra_in=extra)
        self.score_adj = ScoreNetworkA(
            max_feat, nhid, num_layers, num_linears, c_init, c_hid, c_final, adim,
            num_heads=num_heads, extra_in=extra,
        )  # fmt: skip

    def forward(
        self, state: Mapping[str, Tensor], t: Tensor | float, node_mask: Tensor
    ) -> dict[str, Tensor]:
        """The eps prediction per field, {"x": (B, N, F), "adj": (B, N, N)}."""
        _check_state(state, node_mask, self.max_feat)
        x, adj = state["x"], state["adj"]
        cond = batch_time(t, x.shape[0], x)[:, None] if self.time_cond else None
        return {
            "x": self.score_x(x, adj, node_mask, cond),
            "adj": self.score_adj(x, adj, node_mask, cond),
        }
