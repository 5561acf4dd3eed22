"""Shared inputs and the E(3) check of the backbone tests (EGNN, PaiNN, e3nn)."""

from __future__ import annotations

import torch

from scorelab.apps.molecules.egnn import clean
from scorelab.testing.equivariance import EquivarianceReport, check_e3

B, N, D = 3, 7, 6  # B != N so the checker can tell the node axis


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 features, positions and a mask of 7, 5 and 2 real atoms."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(N)[None] < torch.tensor([7, 5, 2])[:, None]
    h = torch.randn(B, N, D, generator=g, dtype=torch.float64)
    x = torch.randn(B, N, 3, generator=g, dtype=torch.float64) * 1.5
    return clean(h, mask), clean(x, mask), mask


def vector_backbone_report(net) -> tuple[EquivarianceReport, dict[str, torch.Tensor]]:
    """check_e3 of a backbone returning (scalars, vectors), and its outputs on ``inputs()``."""
    h, x, mask = inputs()

    def fn(inp, node_mask):
        s, v = net(inp["h"], inp["x"], node_mask)
        return {"s": s, "v": v}

    report = check_e3(
        fn,
        {"h": h, "x": x},
        node_mask=mask,
        vector_fields=("x",),
        vector_outputs=("v",),
        generator=torch.Generator().manual_seed(1),
    )
    return report, fn({"h": h, "x": x}, mask)
