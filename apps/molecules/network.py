"""The flow network for molecules: ``net(x, t, *, node_mask, properties=None) -> dict``.

The state is ``{"pos": (B, N, 3), "atom_type": (B, N, T), "charge": (B, N, C)}``. Node
features h0 = MLP([atom_type, charge, time]) (time as EDM: t itself as a feature), combined
with the property embedding when the network is conditional (``conditioning.py``), go with
the positions through an equivariant backbone:

* ``egnn``: EDM's EGNN; the "pos" head is x_out - x_in (EDM's velocity-style output);
* ``painn``: PaiNN; the "pos" head is its equivariant vector output;
* ``e3nn``: a depthwise e3nn tensor-product network; the "pos" head is its 1o output.

"pos" is then centred over real atoms (CoM-free) and every head is zero on padding;
"atom_type" and "charge" are linear maps of the final invariant features. The heads are raw:
the Predictor around the network decides whether they are velocities or clean-data guesses.
Padding rows may hold anything (they are cleared on entry and take part in no edge).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from scorelab.broadcast import batch_time
from scorelab.geometry import ZERO_COM

from .conditioning import PropertyConditioner, TimeEmbedding, check_property_names
from .egnn import EGNN, clean
from .painn import PaiNN

BACKBONES = ("egnn", "painn", "e3nn")
FIELDS = ("pos", "atom_type", "charge")


def build_backbone(name: str, in_dim: int, hidden: int, layers: int, **options) -> nn.Module:
    """An equivariant backbone ``forward(h, x, node_mask) -> (h_out, vector or x_out)``."""
    if name == "egnn":
        return EGNN(in_dim, hidden, layers, **options)
    if name == "painn":
        return PaiNN(in_dim, hidden, layers, **options)
    if name == "e3nn":
        from .tensor_product import TensorProductNet

        return TensorProductNet(in_dim, hidden, layers, **options)
    raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")


class MoleculeFlowNet(nn.Module):
    """E(3)-equivariant network over molecules, optionally conditioned on properties.

    ``properties`` names the (normalised) properties the network conditions on;
    ``combination``, ``gaussian_expansion`` and ``n_gaussians`` choose how (see
    ``conditioning.py``). ``backbone_options`` go to the backbone's constructor.
    """

    def __init__(
        self,
        n_types: int,
        n_charges: int,
        *,
        backbone: str = "egnn",
        hidden: int = 128,
        layers: int = 6,
        properties: tuple[str, ...] = (),
        combination: str = "concatenate",
        gaussian_expansion: bool = False,
        n_gaussians: int = 64,
        time_embedding: str = "scalar",
        **backbone_options,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; known: {', '.join(BACKBONES)}")
        self.n_types, self.n_charges = n_types, n_charges
        self.backbone_name = backbone
        self.properties = tuple(properties)
        self.time = TimeEmbedding(time_embedding)
        self.embedding = nn.Sequential(
            nn.Linear(n_types + n_charges + self.time.out_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
        )
        self.condition = (
            PropertyConditioner(
                self.properties,
                hidden,
                combination=combination,
                gaussian_expansion=gaussian_expansion,
                n_gaussians=n_gaussians,
            )
            if self.properties
            else None
        )
        self.backbone = build_backbone(backbone, hidden, hidden, layers, **backbone_options)
        self.type_head = nn.Linear(self.backbone.out_dim, n_types)
        self.charge_head = nn.Linear(self.backbone.out_dim, n_charges)

    def _check(self, x: Mapping[str, Tensor], node_mask: Tensor) -> None:
        missing = [k for k in FIELDS if k not in x]
        if missing:
            raise ValueError(f"state is missing fields {missing}; need {', '.join(FIELDS)}")
        b, n = node_mask.shape if node_mask.ndim == 2 else (None, None)
        want = {"pos": 3, "atom_type": self.n_types, "charge": self.n_charges}
        for k, d in want.items():
            if x[k].shape != (b, n, d):
                raise ValueError(
                    f"{k!r} must be (B, N, {d}) matching node_mask {tuple(node_mask.shape)}, "
                    f"got {tuple(x[k].shape)}"
                )

    def forward(
        self,
        x: Mapping[str, Tensor],
        t: Tensor | float,
        *,
        node_mask: Tensor,
        properties: Mapping[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """Raw heads {"pos", "atom_type", "charge"}, shaped as ``x``, zero on padding."""
        self._check(x, node_mask)
        if properties and self.condition is None:
            check_property_names(properties, self.properties)
        pos = clean(x["pos"], node_mask)
        b, n, _ = pos.shape
        t = batch_time(t, b, pos)
        time = self.time(t)[:, None, :].expand(-1, n, -1)
        feats = torch.cat(
            [clean(x["atom_type"], node_mask), clean(x["charge"], node_mask), time], -1
        )
        mask = node_mask.to(pos.dtype)[..., None]
        h = self.embedding(feats)
        if self.condition is not None:
            h = self.condition(h, properties)
        h_out, vec = self.backbone(h * mask, pos, node_mask)
        if self.backbone_name == "egnn":
            vec = vec - pos
        return {
            "pos": ZERO_COM.project(vec, mask),
            "atom_type": self.type_head(h_out) * mask,
            "charge": self.charge_head(h_out) * mask,
        }
