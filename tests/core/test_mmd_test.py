"""The MMD permutation test: exact statistic, exact p-value, calibration and power."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch

from scorelab.distances import MMDTest, mmd_permutation_test, mmd_rbf
from scorelab.testing import GaussianMixture

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_statistic_is_the_unbiased_mmd_of_mmd_rbf():
    g = gen(0)
    x, y = torch.randn(40, 3, generator=g, dtype=F64), torch.randn(55, 3, generator=g, dtype=F64)
    bw = (0.3, 1.0, 2.5)
    res = mmd_permutation_test(x, y, n_perm=50, bandwidths=bw)
    assert isinstance(res, MMDTest)
    assert res.bandwidths == bw and res.n_perm == 50
    assert res.stat == pytest.approx(mmd_rbf(x, y, bw), rel=1e-9, abs=1e-13)
    # with float32 input and the swapped roles the statistic is unchanged
    swapped = mmd_permutation_test(y.float(), x.float(), n_perm=50, bandwidths=bw)
    assert swapped.stat == pytest.approx(res.stat, rel=1e-5, abs=1e-8)


def test_median_heuristic_bandwidths():
    g = gen(1)
    x, y = torch.randn(30, 2, generator=g, dtype=F64), 2 * torch.randn(20, 2, generator=g)
    res = mmd_permutation_test(x, y, n_perm=10)
    med = float(torch.pdist(torch.cat([x, y.double()])).median())  # lower median of the pairs
    assert res.bandwidths == pytest.approx(tuple(med * c for c in (0.25, 0.5, 1, 2, 4)), rel=1e-12)
    assert res.stat == pytest.approx(mmd_rbf(x, y, res.bandwidths), rel=1e-9, abs=1e-13)


def test_pvalue_is_deterministic_and_on_the_permutation_grid():
    g = gen(2)
    x, y = torch.randn(50, 2, generator=g, dtype=F64), torch.randn(50, 2, generator=g) + 0.3
    a = mmd_permutation_test(x, y, n_perm=99, seed=5)
    assert a == mmd_permutation_test(x, y, n_perm=99, seed=5)
    k = a.pvalue * 100
    assert k == pytest.approx(round(k), abs=1e-9) and 1 <= round(k) <= 100
    pvals = {mmd_permutation_test(x, y, n_perm=99, seed=s).pvalue for s in range(6)}
    assert len(pvals) > 1  # the seed drives the permutations
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.stat = 0.0


def test_pvalue_matches_exact_enumeration_of_all_relabellings():
    """n = 3, m = 4: the 35 relabellings give the exact permutation p-value."""
    g = gen(3)
    x = torch.randn(3, 2, generator=g, dtype=F64)
    y = torch.randn(4, 2, generator=g, dtype=F64) + torch.tensor([1.0, 0.0], dtype=F64)
    bw = (0.5, 1.0)
    z = torch.cat([x, y])
    obs = mmd_rbf(x, y, bw)
    stats = []
    for idx in itertools.combinations(range(7), 3):
        rest = [i for i in range(7) if i not in idx]
        stats.append(mmd_rbf(z[list(idx)], z[rest], bw))
    exact = sum(s >= obs - 1e-12 for s in stats) / len(stats)
    res = mmd_permutation_test(x, y, n_perm=20000, bandwidths=bw, seed=1)
    assert res.stat == pytest.approx(obs, rel=1e-10)
    # (1 + Binomial(n_perm, exact)) / (1 + n_perm): sd ~ 0.002
    assert res.pvalue == pytest.approx(exact, abs=0.01)


def test_calibrated_under_the_null():
    """40 tests of two samples from the same Gaussian: p < 0.05 in about 5% of them."""
    g = gen(4)
    pvals = []
    for i in range(40):
        x, y = torch.randn(2, 200, 2, generator=g, dtype=F64)
        pvals.append(mmd_permutation_test(x, y, n_perm=100, seed=i).pvalue)
    pvals = torch.tensor(pvals)
    assert float((pvals < 0.05).double().mean()) < 0.15
    assert 0.3 < float(pvals.mean()) < 0.7  # roughly uniform: mean 1/2, sd ~ 0.046


def test_power_against_a_half_std_shift():
    g = gen(5)
    x = torch.randn(500, 2, generator=g, dtype=F64)
    y = torch.randn(500, 2, generator=g, dtype=F64) + torch.tensor([0.5, 0.0], dtype=F64)
    res = mmd_permutation_test(x, y, n_perm=200)
    assert res.pvalue < 0.01 and res.stat > 0


def test_power_ring_against_its_moment_matched_gaussian():
    """The 8-mode ring vs the Gaussian with the same mean and covariance."""
    k = 8
    ang = torch.arange(k, dtype=F64) * 2 * math.pi / k
    means = 2.0 * torch.stack([ang.cos(), ang.sin()], 1)
    ring = GaussianMixture(
        torch.full((k,), 1 / k, dtype=F64), means, 0.0625 * torch.eye(2, dtype=F64).expand(k, 2, 2)
    )
    gauss = GaussianMixture.gaussian(ring.mean(), ring.cov())
    x, y = ring.sample(1000, gen(6)), gauss.sample(1000, gen(7))
    assert torch.allclose(x.mean(0), y.mean(0), atol=0.15)  # first moments alike
    res = mmd_permutation_test(x, y, n_perm=200)
    assert res.pvalue < 0.01


@pytest.mark.parametrize(
    ("x", "y", "kw", "match"),
    [
        (torch.randn(10), torch.randn(10, 1), {}, r"x must be a 2-D.*\(10,\)"),
        (torch.randn(10, 2), torch.randn(10, 3), {}, "same dimension"),
        (torch.randn(1, 2), torch.randn(10, 2), {}, "x needs at least 2 rows"),
        (torch.randn(10, 2), torch.randn(1, 2), {}, "y needs at least 2 rows"),
        (torch.randn(10, 2), torch.full((10, 2), float("nan")), {}, "non-finite.*10 rows"),
        (torch.randn(10, 2), torch.randn(10, 2), {"n_perm": 0}, "n_perm"),
        (torch.randn(10, 2), torch.randn(10, 2), {"bandwidths": ()}, "bandwidths"),
        (torch.randn(10, 2), torch.randn(10, 2), {"bandwidths": (1.0, -1.0)}, "bandwidths"),
        (torch.zeros(10, 2), torch.zeros(10, 2), {}, "median pairwise distance"),
    ],
)
def test_invalid_inputs(x, y, kw, match):
    with pytest.raises(ValueError, match=match):
        mmd_permutation_test(x, y, **kw)
