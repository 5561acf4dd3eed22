"""Distances between Gaussians and sample sets, against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.distances import gaussian_w2, mmd_rbf, sliced_w2, w2_empirical

F64 = torch.float64


def random_rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(
        torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    )
    return q


# --- Gaussians --------------------------------------------------------------------------


@pytest.mark.parametrize(("m1", "s1", "m2", "s2"), [(0.0, 1.0, 0.0, 1.0), (1.0, 2.0, -0.5, 0.3)])
def test_gaussian_w2_1d_closed_form(m1, s1, m2, s2):
    """W2(N(m1, s1^2), N(m2, s2^2))^2 = (m1 - m2)^2 + (s1 - s2)^2."""
    t = lambda v: torch.tensor([v], dtype=F64)  # noqa: E731
    got = gaussian_w2(t(m1), t(s1**2)[None], t(m2), t(s2**2)[None])
    assert got == pytest.approx(math.hypot(m1 - m2, s1 - s2), rel=1e-10, abs=1e-12)


def test_gaussian_w2_commuting_covariances():
    """Same eigenbasis: W2^2 = |m1 - m2|^2 + ||C1^1/2 - C2^1/2||_F^2.

    With C_i = Q diag(l_i) Q^T the second term is sum (sqrt l1 - sqrt l2)^2.
    """
    q = random_rotation(4, 0)
    l1 = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64)
    l2 = torch.tensor([1.0, 0.1, 3.0, 4.0], dtype=F64)
    c1, c2 = q @ torch.diag(l1) @ q.T, q @ torch.diag(l2) @ q.T
    m1, m2 = torch.tensor([0.0, 1, 2, 3], dtype=F64), torch.tensor([1.0, 1, 0, 3], dtype=F64)
    ref = math.sqrt(float((m1 - m2).pow(2).sum() + (l1.sqrt() - l2.sqrt()).pow(2).sum()))
    assert gaussian_w2(m1, c1, m2, c2) == pytest.approx(ref, rel=1e-10)


def test_gaussian_w2_is_symmetric_and_zero_on_itself():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 3, 3, generator=g, dtype=F64)
    c1, c2 = a @ a.T + 0.1 * torch.eye(3, dtype=F64), b @ b.T + 0.1 * torch.eye(3, dtype=F64)
    m1, m2 = torch.randn(2, 3, generator=g, dtype=F64)
    assert gaussian_w2(m1, c1, m2, c2) == pytest.approx(gaussian_w2(m2, c2, m1, c1), rel=1e-9)
    assert gaussian_w2(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-6)
    # scaling both by r scales the distance by r
    r = 2.5
    w = gaussian_w2(m1, c1, m2, c2)
    assert gaussian_w2(r * m1, r * r * c1, r * m2, r * r * c2) == pytest.approx(r * w, rel=1e-9)


def test_gaussian_w2_against_empirical_ot_in_1d():
    """In 1-D the optimal coupling is monotone: compare with sorted large samples."""
    g = torch.Generator().manual_seed(2)
    n = 100_000
    x = 0.5 + 2.0 * torch.randn(n, generator=g, dtype=F64)
    y = -1.0 + 0.7 * torch.randn(n, generator=g, dtype=F64)
    emp = float((x.sort().values - y.sort().values).pow(2).mean().sqrt())
    exact = gaussian_w2(
        torch.tensor([0.5], dtype=F64),
        torch.tensor([[4.0]], dtype=F64),
        torch.tensor([-1.0], dtype=F64),
        torch.tensor([[0.49]], dtype=F64),
    )
    assert exact == pytest.approx(math.hypot(1.5, 1.3), rel=1e-10)
    assert emp == pytest.approx(exact, rel=0.02)


# --- sample sets ------------------------------------------------------------------------


def test_sliced_w2_is_zero_on_itself_and_grows_with_a_shift():
    x = torch.randn(500, 3, dtype=F64)
    assert sliced_w2(x, x) == 0.0
    assert sliced_w2(x, x[torch.randperm(500)]) == pytest.approx(0.0, abs=1e-12)
    prev = 0.0
    for delta in (0.1, 0.5, 2.0):
        shift = delta * torch.ones(3, dtype=F64)
        got = sliced_w2(x, x + shift, n_proj=256, seed=0)
        # sorted projections move by <shift, theta>: SW2^2 = mean_theta <shift, theta>^2
        g = torch.Generator().manual_seed(0)
        dirs = torch.randn(3, 256, generator=g, dtype=F64)
        dirs /= dirs.norm(dim=0, keepdim=True)
        assert got == pytest.approx(float((shift @ dirs).pow(2).mean().sqrt()), rel=1e-10)
        # E_theta <shift, theta>^2 = |shift|^2 / d = delta^2: about delta
        assert got == pytest.approx(delta, rel=0.1)
        assert got > prev
        prev = got


def test_sliced_w2_in_1d_is_the_sorted_w2_and_handles_unequal_sizes():
    x = torch.randn(300, 1, dtype=F64)
    y = 0.5 * torch.randn(300, 1, dtype=F64) + 1.0
    ref = float((x[:, 0].sort().values - y[:, 0].sort().values).pow(2).mean().sqrt())
    assert sliced_w2(x, y, n_proj=8) == pytest.approx(ref, rel=1e-10)
    big = torch.randn(2000, 2, dtype=F64)
    other = torch.randn(1500, 2, dtype=F64)
    assert sliced_w2(big, other) < 0.1
    assert sliced_w2(big, other + 1.0) == pytest.approx(1.0, rel=0.15)
    with pytest.raises(ValueError, match="need"):
        sliced_w2(big, torch.randn(10, 3))


def test_w2_empirical_of_a_translation_is_the_shift():
    pytest.importorskip("ot")
    x = torch.randn(200, 3, dtype=F64)
    shift = torch.tensor([0.3, -1.2, 2.0], dtype=F64)
    assert w2_empirical(x, x + shift) == pytest.approx(float(shift.norm()), rel=1e-8)
    assert w2_empirical(x, x[torch.randperm(200)]) == pytest.approx(0.0, abs=1e-6)  # sqrt(1e-16)
    # 1-D equal sizes: sorted matching is optimal
    a, b = torch.randn(150, 1, dtype=F64), torch.randn(150, 1, dtype=F64) * 2
    ref = float((a[:, 0].sort().values - b[:, 0].sort().values).pow(2).mean().sqrt())
    assert w2_empirical(a, b) == pytest.approx(ref, rel=1e-8)


def test_mmd_rbf_same_vs_shifted():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(2, 600, 2, generator=g, dtype=F64)
    same = mmd_rbf(x, y)
    shifted = mmd_rbf(x, y + torch.tensor([1.0, 0.0], dtype=F64))
    assert abs(same) < 0.02
    assert shifted > 0.2
    assert shifted > 10 * abs(same)
    # the unbiased estimator is symmetric
    assert mmd_rbf(y, x) == pytest.approx(same, rel=1e-10, abs=1e-14)


def test_mmd_rbf_single_bandwidth_closed_form_for_two_points():
    """One point each, k = exp(-|x - y|^2 / 2h^2): the U-statistic keeps only -2 k(x, y)."""
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    y = torch.tensor([[0.0, 2.0], [0.0, 3.0]], dtype=F64)
    h = 1.0
    k = lambda a, b: math.exp(-float((a - b).pow(2).sum()) / (2 * h * h))  # noqa: E731
    sxx = k(x[0], x[1])
    syy = k(y[0], y[1])
    sxy = sum(k(a, b) for a in x for b in y) / 4
    assert mmd_rbf(x, y, bandwidths=(h,)) == pytest.approx(sxx + syy - 2 * sxy, rel=1e-12)
