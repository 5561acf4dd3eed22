"""Building blocks of GDSS's score networks: dense GCN, MLP and graph multi-head attention.

All layers work on dense padded batches: node features (B, N, F), adjacency channels
(B, C, N, N) and a float node mask (B, N). The GCN is PyG's ``DenseGCNConv`` (self-loops set
to 1, symmetric normalisation with degrees clamped to >= 1), written out so that one
normalised adjacency serves every GCN that reads it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def mask_nodes(x: Tensor, mask: Tensor) -> Tensor:
    """Zero the padded rows of node features x (B, N, F) under the node mask (B, N)."""
    return x * mask[..., None]


def mask_pairs(adj: Tensor, mask: Tensor) -> Tensor:
    """Zero padded rows and columns of adj (B, N, N) or (B, C, N, N) under mask (B, N)."""
    pair = mask[:, :, None] * mask[:, None, :]
    return adj * (pair if adj.ndim == 3 else pair[:, None])


def gcn_norm(adj: Tensor) -> Tensor:
    """D^-1/2 (A with unit diagonal) D^-1/2 for adj (..., N, N), degrees clamped to >= 1."""
    n = adj.shape[-1]
    eye = torch.eye(n, dtype=adj.dtype, device=adj.device)
    adj = adj * (1 - eye) + eye
    d = adj.sum(-1).clamp(min=1).rsqrt()
    return d[..., :, None] * adj * d[..., None, :]


def adjacency_powers(adj: Tensor, k: int) -> Tensor:
    """The channels A, A^2, ..., A^k of adj (B, N, N), stacked as (B, k, N, N)."""
    powers = [adj]
    for _ in range(k - 1):
        powers.append(powers[-1] @ adj)
    return torch.stack(powers, dim=1)


def glorot_(w: Tensor) -> Tensor:
    """Glorot-uniform init in place over the last two dims of w (..., fan_in, fan_out)."""
    bound = math.sqrt(6.0 / (w.shape[-2] + w.shape[-1]))
    with torch.no_grad():
        return w.uniform_(-bound, bound)


def mlp(num_layers: int, in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """``num_layers`` linear layers with ELU between them (one layer: a plain linear map)."""
    if num_layers < 1:
        raise ValueError(f"an MLP needs at least one layer, got num_layers={num_layers}")
    dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i in range(num_layers):
        if i:
            layers.append(nn.ELU())
        layers.append(nn.Linear(dims[i], dims[i + 1]))
    return nn.Sequential(*layers)


class DenseGCN(nn.Module):
    """One dense GCN layer: ``a_norm @ (x W) + b`` with a precomputed ``gcn_norm`` adjacency."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(glorot_(torch.empty(in_dim, out_dim)))
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: Tensor, a_norm: Tensor) -> Tensor:
        """x (B, N, in_dim), a_norm (B, N, N) → (B, N, out_dim)."""
        return a_norm @ (x @ self.weight) + self.bias


class AttentionLayer(nn.Module):
    """One layer of ScoreNetworkA (GDSS): graph multi-head attention per adjacency channel.

    For each of the ``c_in`` input channels, dense GCNs over that channel give queries and keys
    (``attn_dim``, split into ``num_heads`` heads) and values (``out_dim``); the channel's
    attention map is tanh(Q_h K_h^T / sqrt(out_dim)) averaged over heads and symmetrised.
    New node features are an MLP of the values of all channels (tanh, masked); new adjacency
    channels (``c_out``) are an MLP per entry over [attention maps, input channels],
    symmetrised and masked. ``node_out=False`` (the last layer, whose node features nothing
    reads) skips the values and the node MLP.

    Speed without changing the output: GDSS's per-channel GCNs are fused into one einsum and
    one batched matmul, and the per-entry MLP runs only on the real pairs i < j (its inputs are
    symmetric, so ``m + m^T`` is 2 m there). Diagonal entries are left at zero: the GCN
    overwrites them with self-loops and they only ever reach diagonal outputs, which
    ScoreNetworkA zeroes.
    """

    def __init__(
        self,
        in_dim: int,
        attn_dim: int,
        out_dim: int,
        c_in: int,
        c_out: int,
        num_heads: int,
        num_linears: int,
        node_out: bool = True,
    ) -> None:
        super().__init__()
        if attn_dim % num_heads:
            raise ValueError(f"attn_dim ({attn_dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads, self.scale = num_heads, 1.0 / math.sqrt(out_dim)
        self.split = [attn_dim, attn_dim] + ([out_dim] if node_out else [])
        self.weight = nn.Parameter(torch.empty(c_in, in_dim, sum(self.split)))
        for w in self.weight.split(self.split, dim=-1):  # Glorot per GCN, as separate layers
            glorot_(w)
        self.bias = nn.Parameter(torch.zeros(c_in, 1, sum(self.split)))
        hidden = 2 * max(c_in, c_out)
        self.edge_mlp = mlp(num_linears, 2 * c_in, hidden, c_out)
        self.node_mlp = mlp(2, c_in * out_dim, hidden, out_dim) if node_out else None

    def forward(
        self, x: Tensor, adj: Tensor, mask: Tensor, pairs: tuple[Tensor, Tensor, Tensor]
    ) -> tuple[Tensor | None, Tensor, Tensor]:
        """x (B, N, in_dim), adj (B, c_in, N, N) symmetric, mask (B, N) float, ``pairs`` the
        (graph, i, j) indices (P,) of the real node pairs with i < j.

        Returns x_out (B, N, out_dim) or None, adj_out (B, c_out, N, N) and adj_out at pairs
        (P, c_out).
        """
        b, c, n, _ = adj.shape
        h = gcn_norm(adj) @ torch.einsum("bni,cid->bcnd", x, self.weight) + self.bias
        h = h * mask[:, None, :, None]
        q, k, *v = h.split(self.split, dim=-1)
        q = q.reshape(b, c, n, self.num_heads, -1).transpose(2, 3)  # (B, C, H, N, dh)
        k = k.reshape(b, c, n, self.num_heads, -1).transpose(2, 3)
        att = torch.tanh(q @ k.transpose(-1, -2) * self.scale).mean(dim=2)  # (B, C, N, N)

        x_out = None
        if self.node_mlp is not None:
            values = v[0].permute(0, 2, 1, 3).reshape(b, n, -1)  # channel-major (B, N, C*out)
            x_out = torch.tanh(mask_nodes(self.node_mlp(values), mask))

        g, i, j = pairs
        att_ij = (att[g, :, i, j] + att[g, :, j, i]) / 2  # the symmetrised map, (P, C)
        vals = 2 * self.edge_mlp(torch.cat([att_ij, adj[g, :, i, j]], dim=-1))
        return x_out, scatter_pairs(vals, pairs, b, n).permute(0, 3, 1, 2), vals


def upper_pairs(mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(graph, i, j) index tensors of the node pairs i < j where both nodes are real."""
    n = mask.shape[1]
    upper = torch.ones(n, n, dtype=torch.bool, device=mask.device).triu(1)
    real = (mask[:, :, None] * mask[:, None, :]) > 0
    return (real & upper).nonzero(as_tuple=True)


def scatter_pairs(vals: Tensor, pairs: tuple[Tensor, Tensor, Tensor], batch: int, n: int) -> Tensor:
    """Symmetric (B, N, N, C) from values (P, C) at pairs i < j; zero elsewhere."""
    out = vals.new_zeros(batch, n, n, vals.shape[-1]).index_put(pairs, vals)
    return out + out.transpose(1, 2)
