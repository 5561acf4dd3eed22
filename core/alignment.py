"""Equivariant optimal-transport alignment of noise to data (EquiFM, Song et al. 2023; SemlaFlow).

Flow matching pairs each data point x0 with an independent noise draw eps. For point sets
the law of the data is invariant under rotations and node permutations, so each noise draw
may be replaced by the member of its orbit {R P eps} closest to x0: the paths cross less
and the regression target has lower variance. ``align_points`` finds that member
approximately (Hungarian assignment alternated with Kabsch rotation, started from the
identity and from each principal-axis alignment, the best kept), and
``equivariant_ot_coupling`` wraps it as a coupling for ``FlowMatchingLoss``/``DSMLoss``.

Why the loss stays valid: the alignment is itself equivariant, align(h eps, h x0) =
h align(eps, x0) for every rotation and permutation h, and it keeps the orbit of eps. For an
equivariant model (or rotation- and permutation-augmented data) the objective is that of an
invariant data law, under which the aligned noise has exactly the noise's law: its law is
invariant and it lies on the same orbit as eps. For one fixed x0 the aligned noise is, by
design, pulled towards x0.

The assignment runs per sample with ``scipy.optimize.linear_sum_assignment`` on the CPU
(cheap for molecules, N <= 200); the rotations are batched in torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .checks import check_int
from .state import Spec, State


def _node_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """A (B, N, 1) float mask (ones when ``mask`` is None)."""
    if mask is None:
        return torch.ones(x.shape[:2] + (1,), dtype=x.dtype, device=x.device)
    if mask.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not match points of shape {tuple(x.shape)}"
        )
    return (mask.reshape(*mask.shape[:2], -1)[..., :1] != 0).to(x.dtype)


def _centre(x: Tensor, m: Tensor) -> Tensor:
    return (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)


def _check_points(source: Tensor, target: Tensor) -> None:
    if source.ndim != 3 or source.shape != target.shape:
        raise ValueError(
            "source and target must be point sets of one shape (B, N, D), got "
            f"{tuple(source.shape)} and {tuple(target.shape)}"
        )


def kabsch(
    source: Tensor, target: Tensor, mask: Tensor | None = None, allow_reflection: bool = False
) -> Tensor:
    """The rotation R (B, D, D) minimising sum_i m_i |R s_i - t_i|^2 over centred point sets.

    source, target: (B, N, D); mask: (B, N) (or (B, N, 1)), nonzero on real points, which
    alone set the centres. R is proper (det +1) unless ``allow_reflection``; where the
    cross-covariance vanishes (one real point) it is the identity.
    """
    _check_points(source, target)
    m = _node_mask(source, mask)
    s = (source - _centre(source, m)) * m
    t = (target - _centre(target, m)) * m
    h = s.transpose(1, 2) @ t  # sum_i s_i t_i^T
    u, _, vh = torch.linalg.svd(h)
    v = vh.transpose(1, 2)
    if not allow_reflection:
        d = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))
        d = torch.where(d == 0, torch.ones_like(d), d)
        v = torch.cat([v[..., :-1], v[..., -1:] * d[:, None, None]], dim=-1)
    rot = v @ u.transpose(1, 2)
    eye = torch.eye(source.shape[-1], dtype=rot.dtype, device=rot.device).expand_as(rot)
    degenerate = h.flatten(1).abs().amax(1) == 0
    return torch.where(degenerate[:, None, None], eye, rot)


def _principal_starts(s: Tensor, t: Tensor, m: Tensor) -> Tensor:
    """The 2^(D-1) proper rotations taking the principal axes of s onto t's: (B, K, D, D)."""
    _, vs = torch.linalg.eigh(s.transpose(1, 2) @ (s * m))
    _, vt = torch.linalg.eigh(t.transpose(1, 2) @ (t * m))
    det = torch.linalg.det(vs) * torch.linalg.det(vt)  # +-1
    dim = s.shape[-1]
    starts = []
    for signs in itertools.product((1.0, -1.0), repeat=dim - 1):
        head = torch.tensor(signs, dtype=s.dtype, device=s.device).expand(s.shape[0], -1)
        last = det * float(np.prod(signs))  # makes the product proper
        d = torch.cat([head, last[:, None]], dim=1)
        starts.append(vt @ torch.diag_embed(d) @ vs.transpose(1, 2))
    return torch.stack(starts, dim=1)


def _assign(s: Tensor, t: Tensor, real: np.ndarray, labels: np.ndarray | None) -> Tensor:
    """Per-sample Hungarian permutation (B, N) of s onto t over real points; padding fixed."""
    from scipy.optimize import linear_sum_assignment  # imported here: keeps `import scorelab` light

    cost = torch.cdist(s, t).pow(2).cpu().numpy()
    perm = np.tile(np.arange(s.shape[1]), (s.shape[0], 1))
    for b in range(s.shape[0]):
        idx = np.flatnonzero(real[b])
        c = cost[b][np.ix_(idx, idx)]
        if labels is not None:
            lab = labels[b, idx]
            c = np.where(lab[:, None] == lab[None, :], c, np.inf)
        rows, cols = linear_sum_assignment(c)
        perm[b, idx[cols]] = idx[rows]  # slot idx[cols] takes source point idx[rows]
    return torch.as_tensor(perm, device=s.device)


def _gather(x: Tensor, perm: Tensor) -> Tensor:
    return torch.gather(x, 1, perm[..., None].expand_as(x))


def align_points(
    source: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    *,
    labels: Tensor | None = None,
    permute: bool = True,
    rotate: bool = True,
    iterations: int = 2,
) -> Tensor:
    """``source`` reordered and rotated about its centre to lie close to ``target``: (B, N, D).

    The real points of source are permuted (Hungarian assignment on squared distances, only
    between points of equal ``labels`` when given: a (B, N) integer tensor shared by both sets)
    and rotated by Kabsch about their centre, alternately ``iterations`` times, from the
    identity and from each proper principal-axis alignment; the result with the smallest
    squared distance is kept (never larger than the input's). Padding is returned untouched.
    """
    _check_points(source, target)
    check_int(iterations, "iterations")
    m = _node_mask(source, mask)
    real = m[..., 0].cpu().numpy() > 0
    lab = None
    if labels is not None:
        if labels.shape != source.shape[:2]:
            raise ValueError(
                f"labels must be (B, N) = {tuple(source.shape[:2])}, got {tuple(labels.shape)}"
            )
        lab = labels.cpu().numpy()  # shared by both sets: every label group is square
    centre = _centre(source, m)
    s = (source - centre) * m
    t = (target - _centre(target, m)) * m
    if not rotate:
        if not permute:
            return source
        perm = _assign(source, target, real, lab)
        return torch.where(m > 0, _gather(source, perm), source)
    if not permute:
        rot = kabsch(s, t, m)
        return torch.where(m > 0, s @ rot.transpose(1, 2) + centre, source)

    b, n, dim = s.shape
    eye = torch.eye(dim, dtype=s.dtype, device=s.device).expand(b, 1, dim, dim)
    starts = torch.cat([eye, _principal_starts(s, t, m)], dim=1)  # (B, K, D, D)
    k = starts.shape[1]
    sk = s.repeat_interleave(k, 0)
    tk, mk = t.repeat_interleave(k, 0), m.repeat_interleave(k, 0)
    realk = np.repeat(real, k, axis=0)
    labk = None if lab is None else np.repeat(lab, k, axis=0)
    cur = sk @ starts.reshape(b * k, dim, dim).transpose(1, 2)
    for _ in range(iterations):
        cur = _gather(cur, _assign(cur, tk, realk, labk))
        cur = cur @ kabsch(cur, tk, mk).transpose(1, 2)
    cost = ((cur - tk) * mk).pow(2).flatten(1).sum(1).view(b, k)
    best = cost.argmin(1)
    aligned = cur.view(b, k, n, dim)[torch.arange(b, device=s.device), best]
    return torch.where(m > 0, aligned + centre, source)


@dataclass(frozen=True)
class EquivariantOTCoupling:
    """Aligns the noise of one ZeroCoM field to the data of that field; other fields untouched."""

    field: str = "pos"
    permute: bool = True
    rotate: bool = True
    iterations: int = 2

    def __call__(self, x0: State, eps: State, spec: Spec) -> State:
        """Coupled noise shaped like ``eps``: ``eps[field]`` aligned to ``x0[field]``."""
        name = self.field if spec.structured else "x"
        if name not in spec.views:
            raise ValueError(
                f"coupling field {self.field!r} is not a state field: {list(spec.views)}"
            )
        noise, data = (eps[name], x0[name]) if spec.structured else (eps, x0)
        mask = spec.views[name].mask
        if mask is not None:
            mask = torch.broadcast_to(mask, noise.shape)[..., 0]
        aligned = align_points(
            noise,
            data,
            mask,
            permute=self.permute,
            rotate=self.rotate,
            iterations=self.iterations,
        )
        return {**eps, name: aligned} if spec.structured else aligned


def equivariant_ot_coupling(
    field: str = "pos", *, permute: bool = True, rotate: bool = True, iterations: int = 2
) -> EquivariantOTCoupling:
    """A loss coupling that aligns the noise of ``field`` to its data (rotation + permutation)."""
    check_int(iterations, "iterations")
    return EquivariantOTCoupling(field, permute, rotate, iterations)


__all__ = ["EquivariantOTCoupling", "align_points", "equivariant_ot_coupling", "kabsch"]
