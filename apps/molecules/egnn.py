"""EGNN (Satorras et al. 2021) in EDM's dynamics form (Hoogeboom et al. 2022).

Nodes carry invariant features h (B, N, F) and coordinates x (B, N, 3) in dense padded
batches; every ordered pair of distinct real atoms is an edge, which suits QM9 (<= 29 atoms)
and fits GEOM-drugs (<= 181 atoms). A block is EDM's ``EquivariantBlock``: ``inv_sublayers``
invariant sublayers, then one coordinate update.

* messages m_ij = phi_e(h_i, h_j, |x_i - x_j|^2, |x0_i - x0_j|^2), the second distance being
  the input's (EDM's edge attribute), gated by attention sigmoid(w . m_ij), summed over j and
  divided by ``normalization_factor``; then h_i += phi_h(h_i, sum_j m_ij);
* x_i += sum_j (x_i - x_j) / (|x_i - x_j| + norm_constant) * tanh(phi_x(h_i, h_j, d_ij)) * r
  / normalization_factor, with r = coords_range / layers (EDM's bounded update).

Edge MLPs run on the list of real pairs (``real_edges``) rather than on all N x N slots: the
edge matmuls are most of the cost, and a QM9 batch (18 atoms on average, padded to 29) has
about 2.5x fewer real pairs than slots. Their first linear map, of [h_i, h_j, d_ij], is applied
as W_1 h_i + W_2 h_j + W_3 d_ij (``PairLinear``): the same map without building the
concatenation. Padding never leaks: inputs are zeroed on padding (``where``, which clears NaN
garbage too) and padded nodes take part in no edge.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

EPS = 1e-8


def clean(v: Tensor, node_mask: Tensor) -> Tensor:
    """``v`` (B, N, ...) with padded rows set to exactly zero (NaN and inf included)."""
    keep = node_mask.bool().view(*node_mask.shape, *([1] * (v.ndim - 2)))
    return torch.where(keep, v, torch.zeros((), dtype=v.dtype, device=v.device))


def real_edges(node_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Flat node indices (E,) of receiver i and sender j over B * N, for all real pairs i != j."""
    n = node_mask.shape[1]
    m = node_mask.bool()
    eye = torch.eye(n, dtype=torch.bool, device=m.device)
    b, i, j = (m[:, :, None] & m[:, None, :] & ~eye).nonzero(as_tuple=True)
    return b * n + i, b * n + j


def edge_vectors(x: Tensor, receiver: Tensor, sender: Tensor) -> Tensor:
    """x_i - x_j per edge: nodes (M, D) -> (E, D)."""
    return x.index_select(0, receiver) - x.index_select(0, sender)


def aggregate(messages: Tensor, receiver: Tensor, num_nodes: int) -> Tensor:
    """Sum of edge messages (E, ...) into their receivers: (num_nodes, ...)."""
    out = messages.new_zeros((num_nodes, *messages.shape[1:]))
    return out.index_add(0, receiver, messages)


class PairLinear(nn.Module):
    """A linear map of [h_i, h_j, e_ij] per edge: nodes (M, F), edges (E, D) -> (E, out)."""

    def __init__(self, node_dim: int, edge_dim: int, out_dim: int) -> None:
        super().__init__()
        self.node_dim = node_dim
        self.linear = nn.Linear(2 * node_dim + edge_dim, out_dim)

    def forward(self, h: Tensor, edge: Tensor, receiver: Tensor, sender: Tensor) -> Tensor:
        f = self.node_dim
        w, b = self.linear.weight, self.linear.bias
        h_i = F.linear(h, w[:, :f], b).index_select(0, receiver)
        h_j = F.linear(h, w[:, f : 2 * f]).index_select(0, sender)
        return h_i + h_j + F.linear(edge, w[:, 2 * f :])


class InvariantSublayer(nn.Module):
    """EDM's GCL: attention-gated message passing with a residual node update."""

    def __init__(
        self, hidden: int, edge_dim: int, normalization_factor: float, attention: bool
    ) -> None:
        super().__init__()
        self.edge_in = PairLinear(hidden, edge_dim, hidden)
        self.edge_out = nn.Linear(hidden, hidden)
        self.att = nn.Linear(hidden, 1) if attention else None
        self.node_mlp = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.normalization_factor = normalization_factor

    def forward(
        self, h: Tensor, edge: Tensor, receiver: Tensor, sender: Tensor, mask: Tensor
    ) -> Tensor:
        """h (M, F), edge (E, D), mask (M, 1) float -> h (M, F)."""
        m = F.silu(self.edge_out(F.silu(self.edge_in(h, edge, receiver, sender))))
        if self.att is not None:
            m = m * torch.sigmoid(self.att(m))
        agg = aggregate(m, receiver, h.shape[0]) / self.normalization_factor
        h = h + self.node_mlp(torch.cat([h, agg], -1))
        return h * mask


class CoordinateUpdate(nn.Module):
    """EDM's EquivariantUpdate: x_i += sum_j (x_i - x_j) / (|x_i - x_j| + c) * tanh(phi_x) * r."""

    def __init__(
        self,
        hidden: int,
        edge_dim: int,
        normalization_factor: float,
        coords_range: float,
        tanh: bool,
    ) -> None:
        super().__init__()
        self.edge_in = PairLinear(hidden, edge_dim, hidden)
        self.hidden = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(self.out.weight, gain=0.001)  # EDM: start near the identity
        self.normalization_factor = normalization_factor
        self.coords_range = coords_range
        self.tanh = tanh

    def forward(
        self,
        h: Tensor,
        x: Tensor,
        unit: Tensor,
        edge: Tensor,
        receiver: Tensor,
        sender: Tensor,
        mask: Tensor,
    ) -> Tensor:
        """x (M, 3) moved along the normalised differences ``unit`` (E, 3)."""
        phi = self.out(F.silu(self.hidden(F.silu(self.edge_in(h, edge, receiver, sender)))))
        if self.tanh:
            phi = torch.tanh(phi) * self.coords_range
        dx = aggregate(unit * phi, receiver, x.shape[0]) / self.normalization_factor
        return (x + dx) * mask


class EquivariantBlock(nn.Module):
    """``inv_sublayers`` invariant sublayers, then (optionally) one coordinate update."""

    def __init__(
        self,
        hidden: int,
        *,
        inv_sublayers: int,
        normalization_factor: float,
        attention: bool,
        coords_range: float,
        tanh: bool,
        update_coords: bool,
    ) -> None:
        super().__init__()
        self.sublayers = nn.ModuleList(
            InvariantSublayer(hidden, 2, normalization_factor, attention)
            for _ in range(inv_sublayers)
        )
        self.coords = (
            CoordinateUpdate(hidden, 2, normalization_factor, coords_range, tanh)
            if update_coords
            else None
        )


def check_inputs(h: Tensor, x: Tensor, node_mask: Tensor) -> None:
    """Raise a ValueError unless h (B, N, F), x (B, N, 3) and node_mask (B, N) agree."""
    if x.ndim != 3 or x.shape[-1] != 3 or h.ndim != 3 or h.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"need h (B, N, F) and x (B, N, 3); got {tuple(h.shape)}, {tuple(x.shape)}"
        )
    if node_mask.shape != x.shape[:2]:
        raise ValueError(f"node_mask must be {tuple(x.shape[:2])}, got {tuple(node_mask.shape)}")


class EGNN(nn.Module):
    """E(n)-equivariant GNN: ``forward(h, x, node_mask)`` -> (h (B, N, out_dim), x (B, N, 3)).

    h (B, N, in_dim) invariant features, x (B, N, 3) positions, node_mask (B, N) bool/float.
    Defaults are EDM's QM9 settings (attention, tanh-bounded updates with coords_range 15,
    norm_constant 1, one invariant sublayer, sum aggregation with normalization_factor 1).
    ``update_coords=False`` keeps x fixed (EDM's invariant property regressors);
    ``out_dim=None`` returns the hidden features without an output map.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int = 128,
        layers: int = 6,
        *,
        out_dim: int | None = None,
        inv_sublayers: int = 1,
        attention: bool = True,
        tanh: bool = True,
        coords_range: float = 15.0,
        norm_constant: float = 1.0,
        normalization_factor: float = 1.0,
        update_coords: bool = True,
    ) -> None:
        super().__init__()
        if layers < 1 or inv_sublayers < 1:
            raise ValueError(
                f"need layers >= 1 and inv_sublayers >= 1, got {layers} and {inv_sublayers}"
            )
        self.norm_constant = norm_constant
        self.out_dim = hidden if out_dim is None else out_dim
        self.embedding = nn.Linear(in_dim, hidden)
        self.embedding_out = nn.Identity() if out_dim is None else nn.Linear(hidden, out_dim)
        self.blocks = nn.ModuleList(
            EquivariantBlock(
                hidden,
                inv_sublayers=inv_sublayers,
                normalization_factor=normalization_factor,
                attention=attention,
                coords_range=coords_range / layers,
                tanh=tanh,
                update_coords=update_coords,
            )
            for _ in range(layers)
        )

    def forward(self, h: Tensor, x: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Updated features and positions, both zero on padding."""
        check_inputs(h, x, node_mask)
        b, n, _ = x.shape
        mask = node_mask.to(x.dtype).reshape(b * n, 1)
        h = clean(h, node_mask).reshape(b * n, -1)
        x = clean(x, node_mask).reshape(b * n, 3)
        receiver, sender = real_edges(node_mask)
        d0 = edge_vectors(x, receiver, sender).pow(2).sum(-1, keepdim=True)
        h = self.embedding(h) * mask
        for block in self.blocks:
            diff = edge_vectors(x, receiver, sender)
            d2 = diff.pow(2).sum(-1, keepdim=True)
            edge = torch.cat([d2, d0], -1)
            for sub in block.sublayers:
                h = sub(h, edge, receiver, sender, mask)
            if block.coords is not None:
                unit = diff / ((d2 + EPS).sqrt() + self.norm_constant)
                x = block.coords(h, x, unit, edge, receiver, sender, mask)
        h = self.embedding_out(h) * mask
        return h.reshape(b, n, -1), x.reshape(b, n, 3)
