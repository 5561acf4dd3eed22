"""Geometries: Euclidean (optionally masked) and zero-centre-of-mass point sets."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab import EUCLIDEAN, ZERO_COM, Euclidean, ZeroCoM

F64 = torch.float64


def node_mask(n_real: list[int], n: int) -> torch.Tensor:
    """(B, N, 1) mask with the first n_real[b] nodes real."""
    return (torch.arange(n)[None, :] < torch.tensor(n_real)[:, None]).to(F64)[..., None]


N_REAL, N, D = [5, 3, 1, 7], 7, 3


def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).flatten(1).sum(1)


# --- Euclidean --------------------------------------------------------------------------


def test_euclidean_without_mask_is_identity_with_all_dims():
    x = torch.randn(4, 3, 2, dtype=F64)
    assert EUCLIDEAN.project(x) is x
    torch.testing.assert_close(EUCLIDEAN.dims(x), torch.full((4,), 6.0, dtype=F64))
    assert isinstance(ZERO_COM, ZeroCoM) and isinstance(EUCLIDEAN, Euclidean)


def test_euclidean_with_mask():
    m = node_mask(N_REAL, N)
    v = torch.randn(4, N, D, dtype=F64)
    p = EUCLIDEAN.project(v, m)
    torch.testing.assert_close(p, v * m)
    torch.testing.assert_close(EUCLIDEAN.project(p, m), p)
    torch.testing.assert_close(EUCLIDEAN.dims(v, m), torch.tensor(N_REAL, dtype=F64) * D)
    z = EUCLIDEAN.randn_like(v, m, generator=torch.Generator().manual_seed(0))
    assert z.dtype == F64 and z.shape == v.shape
    assert (z[m.expand_as(z) == 0] == 0).all()
    assert (z[m.expand_as(z) == 1] != 0).all()


def test_euclidean_randn_like_is_standard_and_seeded():
    x = torch.empty(20_000, 3, dtype=F64)
    z = EUCLIDEAN.randn_like(x, generator=torch.Generator().manual_seed(1))
    n = z.numel()
    assert abs(float(z.mean())) < 5 / math.sqrt(n)
    assert abs(float(z.std()) - 1) < 5 / math.sqrt(2 * n)
    z2 = EUCLIDEAN.randn_like(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(z, z2, rtol=0, atol=0)


# --- zero centre of mass ----------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_zero_com_project_centres_real_nodes_and_zeros_padding(masked):
    m = node_mask(N_REAL, N) if masked else None
    v = torch.randn(4, N, D, dtype=F64) + 3.0
    p = ZERO_COM.project(v, m)
    mm = torch.ones(4, N, 1, dtype=F64) if m is None else m
    torch.testing.assert_close(p.sum(1), torch.zeros(4, D, dtype=F64), rtol=0, atol=1e-12)
    assert (p[mm.expand_as(p) == 0] == 0).all()
    # real nodes: v minus the mean over the real nodes only
    for b in range(4):
        k = int(mm[b].sum())
        vb = v[b, :k]
        torch.testing.assert_close(p[b, :k], vb - vb.mean(0, keepdim=True))


@pytest.mark.parametrize("masked", [False, True])
def test_zero_com_project_is_an_orthogonal_projection(masked):
    m = node_mask(N_REAL, N) if masked else None
    v, w = torch.randn(2, 4, N, D, dtype=F64)
    p = ZERO_COM.project(v, m)
    torch.testing.assert_close(ZERO_COM.project(p, m), p, rtol=0, atol=1e-12)  # idempotent
    torch.testing.assert_close(inner(p, w), inner(v, ZERO_COM.project(w, m)))  # self-adjoint
    # the residual is orthogonal to the subspace
    torch.testing.assert_close(inner(v - p, ZERO_COM.project(w, m)), torch.zeros(4, dtype=F64))


def test_zero_com_project_keeps_relative_positions_and_ignores_translations():
    v = torch.randn(3, 6, D, dtype=F64)
    p = ZERO_COM.project(v)
    torch.testing.assert_close(p[:, 1:] - p[:, :1], v[:, 1:] - v[:, :1])
    shift = torch.randn(3, 1, D, dtype=F64)
    torch.testing.assert_close(ZERO_COM.project(v + shift), p)


def test_zero_com_projection_matrix_has_rank_n_minus_one_times_d():
    """Build the projection as a matrix from basis vectors: symmetric, idempotent, trace (n-1)D."""
    m = node_mask([4], 6)
    basis = torch.eye(6 * D, dtype=F64).reshape(6 * D, 6, D)
    cols = ZERO_COM.project(basis, m.expand(6 * D, 6, 1)).reshape(6 * D, 6 * D)
    torch.testing.assert_close(cols, cols.T)
    torch.testing.assert_close(cols @ cols, cols)
    assert float(torch.trace(cols)) == pytest.approx((4 - 1) * D)
    assert int(torch.linalg.matrix_rank(cols)) == (4 - 1) * D


def test_zero_com_dims():
    x = torch.randn(4, N, D, dtype=F64)
    expected = (torch.tensor(N_REAL, dtype=F64) - 1) * D
    torch.testing.assert_close(ZERO_COM.dims(x, node_mask(N_REAL, N)), expected)
    torch.testing.assert_close(ZERO_COM.dims(x), torch.full((4,), (N - 1.0) * D, dtype=F64))
    # a (B, N) mask without the trailing dim, as bool, and a (B, N, D) mask count the same
    bool_mask = node_mask(N_REAL, N)[..., 0].bool()[..., None]
    torch.testing.assert_close(ZERO_COM.dims(x, bool_mask), expected)
    torch.testing.assert_close(ZERO_COM.dims(x, node_mask(N_REAL, N).expand(4, N, D)), expected)


def test_zero_com_randn_like_respects_mask_and_com():
    m = node_mask(N_REAL, N)
    x = torch.empty(4, N, D, dtype=F64)
    z = ZERO_COM.randn_like(x, m, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(z.sum(1), torch.zeros(4, D, dtype=F64), rtol=0, atol=1e-12)
    assert (z[m.expand_as(z) == 0] == 0).all()


def test_zero_com_randn_like_has_projected_covariance():
    """Noise projected from N(0, I) has covariance P: per-coordinate variance 1 - 1/n."""
    n_nodes, b = 4, 20_000
    x = torch.empty(b, n_nodes, D, dtype=F64)
    z = ZERO_COM.randn_like(x, generator=torch.Generator().manual_seed(3))
    var = z.var(0)
    assert torch.all((var / (1 - 1 / n_nodes) - 1).abs() < 5 / math.sqrt(b / 2)), var
    # two different nodes, same coordinate: covariance -1/n
    cov01 = (z[:, 0, 0] * z[:, 1, 0]).mean()
    assert abs(float(cov01) + 1 / n_nodes) < 5 / math.sqrt(b)


def test_zero_com_needs_point_sets():
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        ZERO_COM.project(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        ZERO_COM.dims(torch.randn(4, 3, 2, 1))


def test_repr():
    assert repr(EUCLIDEAN) == "Euclidean()"
    assert repr(ZERO_COM) == "ZeroCoM()"
