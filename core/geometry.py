"""Geometries of a state field: where noise lives and how updates are projected.

A geometry acts on a field tensor of shape (B, ...) with an optional mask that is
broadcastable to it (1 = real entry, 0 = padding). Padding never moves: projected
vectors are zero there. The zero-centre-of-mass geometry (molecules) treats the
field as (B, N, D) point sets and removes the mean over real points; the symmetric-matrix
geometry (graph adjacency) treats it as (B, N, N) matrices whose free coordinates are the
entries above the diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Euclidean:
    """Flat R^n: noise is standard normal, updates are unconstrained."""

    name = "euclidean"

    def project(self, v: Tensor, mask: Tensor | None = None) -> Tensor:
        """Project a tangent vector (noise, drift, update) onto the geometry; zero on padding."""
        return v if mask is None else v * mask

    def randn_like(
        self, x: Tensor, mask: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Standard Gaussian noise in the geometry's tangent space."""
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return self.project(z, mask)

    def dims(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Number of free dimensions per sample, shape (B,)."""
        per = x[0].numel() if mask is None else None
        if per is not None:
            return torch.full((x.shape[0],), float(per), dtype=x.dtype, device=x.device)
        return torch.broadcast_to(mask, x.shape).flatten(1).sum(1).to(x.dtype)

    def sqnorm(self, v: Tensor, mask: Tensor | None = None) -> Tensor:
        """Squared norm per sample in the free coordinates, shape (B,); padding excluded."""
        if mask is not None:
            v = v * mask
        return v.flatten(1).pow(2).sum(1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ZeroCoM(Euclidean):
    """Point sets (B, N, D) with zero centre of mass over the real points (E(3) flows)."""

    name = "zero_com"

    def _node_mask(self, x: Tensor, mask: Tensor | None) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"ZeroCoM fields must be (B, N, D), got shape {tuple(x.shape)}")
        if mask is None:
            return torch.ones(x.shape[:2] + (1,), dtype=x.dtype, device=x.device)
        m = torch.broadcast_to(mask, x.shape)[..., :1]
        return m.to(x.dtype)

    def project(self, v: Tensor, mask: Tensor | None = None) -> Tensor:
        m = self._node_mask(v, mask)
        com = (v * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
        return (v - com) * m

    def dims(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        n = self._node_mask(x, mask).flatten(1).sum(1)
        return ((n - 1).clamp(min=0) * x.shape[-1]).to(x.dtype)


class SymmetricMatrix(Euclidean):
    """Symmetric (B, N, N) matrices with zero diagonal: weighted graph adjacency (GDSS).

    The free coordinates are the N(N-1)/2 entries above the diagonal (between real nodes when
    a mask is given): noise is standard normal there and mirrored below, a tangent vector is
    projected by symmetrising and zeroing the diagonal, and norms and dimension counts run
    over the free coordinates only, so densities are those of the upper triangle.
    """

    name = "symmetric_matrix"

    @staticmethod
    def _check(v: Tensor) -> None:
        if v.ndim != 3 or v.shape[-1] != v.shape[-2]:
            raise ValueError(
                f"SymmetricMatrix fields must be (B, N, N), got shape {tuple(v.shape)}"
            )

    def project(self, v: Tensor, mask: Tensor | None = None) -> Tensor:
        self._check(v)
        v = 0.5 * (v + v.transpose(-1, -2))
        v = v - torch.diag_embed(torch.diagonal(v, dim1=-2, dim2=-1))
        return v if mask is None else v * mask

    def randn_like(
        self, x: Tensor, mask: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        self._check(x)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device).triu(1)
        z = z + z.transpose(-1, -2)
        return z if mask is None else z * mask

    def dims(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        self._check(x)
        off = 1 - torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        m = off if mask is None else torch.broadcast_to(mask, x.shape) * off
        return 0.5 * torch.broadcast_to(m, x.shape).flatten(1).sum(1).to(x.dtype)

    def sqnorm(self, v: Tensor, mask: Tensor | None = None) -> Tensor:
        """Half the Frobenius norm off the diagonal: the norm over the upper triangle."""
        self._check(v)
        off = 1 - torch.eye(v.shape[-1], dtype=v.dtype, device=v.device)
        v = v * off if mask is None else v * mask * off
        return 0.5 * v.flatten(1).pow(2).sum(1)


EUCLIDEAN = Euclidean()
ZERO_COM = ZeroCoM()
SYMMETRIC_MATRIX = SymmetricMatrix()

__all__ = [
    "EUCLIDEAN",
    "SYMMETRIC_MATRIX",
    "ZERO_COM",
    "Euclidean",
    "SymmetricMatrix",
    "ZeroCoM",
]
