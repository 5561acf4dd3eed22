"""An E(3)-invariant property regressor, as EDM's QM9 property classifiers.

An EGNN over (one-hot atom types, one-hot charges) and positions with the coordinates held
fixed (EDM's regressors update features only), a per-node MLP, a sum (or mean) over real
atoms and an MLP to one scalar per molecule: the normalised property. Its features depend on
the positions through pair distances only, so the prediction is invariant to rotations,
reflections, translations and atom order.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .egnn import EGNN, check_inputs, clean
from .painn import PaiNN

POOLS = ("sum", "mean")


class PropertyRegressor(nn.Module):
    """``forward(pos, atom_type_onehot, charge_onehot, node_mask)`` -> (B,) normalised property."""

    def __init__(
        self,
        n_types: int,
        n_charges: int,
        hidden: int = 128,
        layers: int = 6,
        backbone: str = "egnn",
        *,
        pool: str = "sum",
        **backbone_options,
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}; known: {', '.join(POOLS)}")
        in_dim = n_types + n_charges
        if backbone == "egnn":
            self.backbone = EGNN(in_dim, hidden, layers, update_coords=False, **backbone_options)
        elif backbone == "painn":
            self.backbone = PaiNN(in_dim, hidden, layers, **backbone_options)
        else:
            raise ValueError(f"unknown regressor backbone {backbone!r}; known: egnn, painn")
        self.n_types, self.n_charges, self.pool = n_types, n_charges, pool
        self.node_out = nn.Sequential(
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.graph_out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(
        self, pos: Tensor, atom_type_onehot: Tensor, charge_onehot: Tensor, node_mask: Tensor
    ) -> Tensor:
        """The predicted normalised property per molecule, shape (B,)."""
        h = _features(atom_type_onehot, charge_onehot, self.n_types, self.n_charges)
        check_inputs(h, pos, node_mask)
        h, _ = self.backbone(clean(h, node_mask), clean(pos, node_mask), node_mask)
        mask = node_mask.to(h.dtype)[..., None]
        pooled = (self.node_out(h) * mask).sum(1)
        if self.pool == "mean":
            pooled = pooled / mask.sum(1).clamp(min=1)
        return self.graph_out(pooled).squeeze(-1)


def _features(types: Tensor, charges: Tensor, n_types: int, n_charges: int) -> Tensor:
    """[types, charges] (B, N, T + C), checking the vocabulary sizes."""
    if types.shape[-1] != n_types or charges.shape[-1] != n_charges:
        raise ValueError(
            f"need one-hot types (..., {n_types}) and charges (..., {n_charges}); "
            f"got {tuple(types.shape)} and {tuple(charges.shape)}"
        )
    return torch.cat([types, charges], -1)
