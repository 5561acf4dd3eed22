"""PaiNN (Schütt et al. 2021): equivariant message passing with scalar and vector features.

Each node holds scalars s (F,) and vectors v (3, F). Per layer, as in the paper:

* message: phi(s_j) = [a_ss, a_vv, a_vs] (an MLP to 3F), times a filter W(r_ij) (a linear map
  of a radial basis, times a cosine cutoff); ds_i = sum_j a_ss, dv_i = sum_j a_vv * v_j +
  a_vs * (x_j - x_i) / r_ij;
* update: U v, V v (channel mixing, no bias); [a_vv, a_sv, a_ss] = MLP([s, |V v|]);
  dv = a_vv * U v, ds = a_sv * <U v, V v> + a_ss.

The radial basis is sin(n pi r / c) / r, n = 1..n_rbf, with a cosine cutoff at c (10 Å by
default, wider than any QM9 molecule, so every pair of real atoms interacts). The output is the
final scalars and one vector per node, a bias-free projection of the vector channels.

The message sums run densely as batched matmuls over (batch, channel): filters are laid out
(B, 3F, N, N), zero off the real pairs, so no (pairs, 3, F) tensor is ever built; the
direction term uses sum_j K_ij (x_j - x_i) = (K x)_i - (sum_j K_ij) x_i on centred positions.
Dense means N^2 memory: trailing all-padding columns are dropped first, so a batch costs its
largest molecule, which is right for QM9; for GEOM-drugs (up to 181 atoms) EGNN is lighter.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .egnn import EPS, check_inputs, clean


def sine_basis(r: Tensor, n_rbf: int, cutoff: float) -> Tensor:
    """sin(n pi r / cutoff) / r for n = 1..n_rbf: r (B, N, N) -> (B, n_rbf, N, N)."""
    n = torch.arange(1, n_rbf + 1, dtype=r.dtype, device=r.device).view(1, -1, 1, 1)
    r = r[:, None]
    return torch.sin(n * math.pi * r / cutoff) / r


def cosine_cutoff(r: Tensor, cutoff: float) -> Tensor:
    """0.5 (cos(pi r / cutoff) + 1) inside the cutoff, 0 beyond it."""
    return 0.5 * (torch.cos(math.pi * r / cutoff) + 1) * (r < cutoff).to(r.dtype)


class Message(nn.Module):
    """PaiNN's message block: residual increments of s (B, N, F) and v (B, N, 3, F)."""

    def __init__(self, hidden: int, n_rbf: int) -> None:
        super().__init__()
        self.phi = nn.Sequential(
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 3 * hidden)
        )
        self.filter = nn.Linear(n_rbf, 3 * hidden)

    def forward(
        self, s: Tensor, v: Tensor, x: Tensor, rbf: Tensor, envelope: Tensor, inv_r: Tensor
    ) -> tuple[Tensor, Tensor]:
        """x (B, N, 3) centred; rbf (B, R, N, N); envelope, inv_r (B, 1, N, N)."""
        # filters (B, 3F, N, N): W rbf + b, times the cutoff and the pair mask (in envelope)
        w = torch.matmul(self.filter.weight, rbf.flatten(2)).view(rbf.shape[0], -1, *rbf.shape[2:])
        w = (w + self.filter.bias[:, None, None]) * envelope
        w_ss, w_vv, w_vs = w.chunk(3, dim=1)
        a_ss, a_vv, a_vs = self.phi(s).transpose(1, 2).chunk(3, dim=1)  # (B, F, N) each
        ds = torch.matmul(w_ss, a_ss[..., None]).squeeze(-1)  # (B, F, N)
        vv = v.permute(0, 3, 1, 2) * a_vv[..., None]  # (B, F, N, 3)
        k = w_vs * inv_r * a_vs[:, :, None, :]  # (B, F, N, N)
        dv = (
            torch.matmul(w_vv, vv)
            + torch.matmul(k, x[:, None])
            - k.sum(-1, keepdim=True) * x[:, None]
        )
        return ds.transpose(1, 2), dv.permute(0, 2, 3, 1)


class Update(nn.Module):
    """PaiNN's update block: residual increments of s (B, N, F) and v (B, N, 3, F)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.u = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, hidden, bias=False)
        self.mlp = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, 3 * hidden)
        )

    def forward(self, s: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        uv, vv = self.u(v), self.v(v)
        vnorm = (vv.pow(2).sum(-2) + EPS).sqrt()  # EPS: v starts at zero, keep the grad finite
        a_vv, a_sv, a_ss = self.mlp(torch.cat([s, vnorm], -1)).chunk(3, dim=-1)
        return a_sv * (uv * vv).sum(-2) + a_ss, a_vv[..., None, :] * uv


class PaiNN(nn.Module):
    """``forward(h, x, node_mask)`` -> (scalars (B, N, out_dim), vector (B, N, 3)).

    h (B, N, in_dim) invariant features, x (B, N, 3) positions, node_mask (B, N). Both outputs
    are zero on padding; the vector rotates with x and ignores translations.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int = 128,
        layers: int = 3,
        *,
        out_dim: int | None = None,
        n_rbf: int = 20,
        cutoff: float = 10.0,
        normalization_factor: float = 1.0,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"need layers >= 1, got {layers}")
        self.hidden, self.n_rbf, self.cutoff = hidden, n_rbf, cutoff
        self.normalization_factor = normalization_factor
        self.out_dim = hidden if out_dim is None else out_dim
        self.embedding = nn.Linear(in_dim, hidden)
        self.messages = nn.ModuleList(Message(hidden, n_rbf) for _ in range(layers))
        self.updates = nn.ModuleList(Update(hidden) for _ in range(layers))
        self.vector_out = nn.Linear(hidden, 1, bias=False)
        self.scalar_out = nn.Identity() if out_dim is None else nn.Linear(hidden, out_dim)

    def forward(self, h: Tensor, x: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Final scalars and the projected vector channel, zero on padding."""
        check_inputs(h, x, node_mask)
        n_full = x.shape[1]
        # the dense sums cost N^2: drop the trailing columns that are padding in every molecule
        real = node_mask.bool().any(0).nonzero()
        n = int(real.max()) + 1 if real.numel() else 1
        h, x, node_mask = h[:, :n], x[:, :n], node_mask[:, :n]
        m = node_mask.to(x.dtype)
        mask = m[..., None]
        s = self.embedding(clean(h, node_mask)) * mask
        x = clean(x, node_mask)
        x = (x - x.sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1)) * mask
        v = s.new_zeros((*s.shape[:2], 3, self.hidden))
        r = ((x[:, :, None] - x[:, None, :]).pow(2).sum(-1) + EPS).sqrt()  # (B, N, N)
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        pair = m[:, :, None] * m[:, None, :] * (1 - eye)
        envelope = (cosine_cutoff(r, self.cutoff) * pair / self.normalization_factor)[:, None]
        rbf = sine_basis(r, self.n_rbf, self.cutoff)
        inv_r = (1 / r)[:, None]
        for message, update in zip(self.messages, self.updates, strict=True):
            ds, dv = message(s, v, x, rbf, envelope, inv_r)
            s, v = s + ds, v + dv
            ds, dv = update(s, v)
            s, v = (s + ds) * mask, (v + dv) * mask[..., None]
        vec = self.vector_out(v).squeeze(-1) * mask
        pad = (0, 0, 0, n_full - n)
        return F.pad(self.scalar_out(s) * mask, pad), F.pad(vec, pad)
