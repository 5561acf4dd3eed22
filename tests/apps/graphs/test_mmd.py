"""Kernels and MMD against POT's exact EMD and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import toeplitz

from scorelab.apps.graphs.mmd import (
    KERNELS,
    compute_mmd,
    emd_1d,
    gaussian,
    gaussian_emd,
    gaussian_tv,
    kernel_matrix,
)


def _random_hist(rng, n):
    h = rng.random(n) * (rng.random(n) < 0.6)
    h[rng.integers(n)] += 0.1
    return h / h.sum()


@pytest.mark.parametrize("scaling", [1.0, 100.0])
def test_closed_form_emd_matches_pot(scaling):
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(2, 40))
        a, b = _random_hist(rng, n), _random_hist(rng, n)
        cost = toeplitz(np.arange(n)).astype(np.float64) / scaling
        assert emd_1d(a, b, scaling) == pytest.approx(ot.emd2(a, b, cost), rel=1e-9, abs=1e-12)


def test_emd_pads_shorter_histogram():
    # mass 1 at bin 0 vs mass 1 at bin 3: distance 3
    assert emd_1d([1.0], [0, 0, 0, 1.0]) == pytest.approx(3.0)
    assert gaussian_emd([1.0], [0, 0, 0, 1.0], sigma=2.0) == pytest.approx(np.exp(-9 / 8))


def test_kernels_by_hand():
    x, y = np.array([0.5, 0.5]), np.array([0.0, 0.25, 0.75])
    tv = 0.5 * (0.5 + 0.25 + 0.75)
    assert gaussian_tv(x, y, sigma=0.5) == pytest.approx(np.exp(-(tv**2) / 0.5))
    l2 = 0.5**2 + 0.25**2 + 0.75**2
    assert gaussian(x, y, sigma=3.0) == pytest.approx(np.exp(-l2 / 18))
    emd = 0.5 + 0.75 + 0.0  # |cdf differences| = |0.5-0|, |1-0.25|, |1-1|
    assert gaussian_emd(x, y) == pytest.approx(np.exp(-(emd**2) / 2))
    assert set(KERNELS) == {"gaussian_emd", "gaussian_tv", "gaussian"}


def test_mmd_by_hand():
    s1 = [np.array([2.0, 2.0]), np.array([0.0, 1.0])]  # -> [.5,.5], [0,1]
    s2 = [np.array([1.0])]
    p = [np.array([0.5, 0.5]), np.array([0.0, 1.0])]
    q = [np.array([1.0, 0.0])]

    def k(a, b):
        emd = np.abs(np.cumsum(a - b)).sum()
        return np.exp(-(emd**2) / 2)

    kxx = np.mean([k(a, b) for a in p for b in p])  # includes i == j
    kyy = 1.0
    kxy = np.mean([k(a, b) for a in p for b in q])
    expected = kxx + kyy - 2 * kxy
    assert compute_mmd(s1, s2, "gaussian_emd") == pytest.approx(expected, rel=1e-12)
    assert compute_mmd(s1, s2, gaussian_emd) == pytest.approx(expected, rel=1e-12)


def test_mmd_same_set_is_zero_and_callable_fallback():
    rng = np.random.default_rng(1)
    hists = [rng.random(int(rng.integers(3, 9))) for _ in range(12)]
    for name in KERNELS:
        assert abs(compute_mmd(hists, list(hists), name)) < 1e-12
    custom = lambda a, b, sigma=1.0: float(np.exp(-np.abs(a - b).sum() / sigma))  # noqa: E731
    x = np.stack([h[:3] for h in hists])
    np.testing.assert_allclose(
        kernel_matrix(x, x[:4], custom, sigma=2.0),
        [[custom(a, b, 2.0) for b in x[:4]] for a in x],
    )


def test_vectorised_matches_per_pair():
    rng = np.random.default_rng(2)
    x = np.stack([_random_hist(rng, 10) for _ in range(6)])
    y = np.stack([_random_hist(rng, 10) for _ in range(5)])
    for name, fn in KERNELS.items():
        kw = {"sigma": 0.3} if name != "gaussian_emd" else {"sigma": 0.1, "distance_scaling": 10}
        np.testing.assert_allclose(
            kernel_matrix(x, y, name, **kw), [[fn(a, b, **kw) for b in y] for a in x], rtol=1e-12
        )


def test_thousand_by_thousand_is_symmetric_and_finite():
    """The vectorised path on benchmark-sized inputs (its speed belongs to benchmarks)."""
    rng = np.random.default_rng(3)
    h1 = [rng.random(200) for _ in range(1000)]
    h2 = [rng.random(200) for _ in range(1000)]
    val = compute_mmd(h1, h2, "gaussian_emd", sigma=1.0)
    assert np.isfinite(val) and val >= 0
    assert val == pytest.approx(compute_mmd(h2, h1, "gaussian_emd", sigma=1.0), rel=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        compute_mmd([], [np.ones(2)], "gaussian")
    with pytest.raises(ValueError, match="unknown kernel"):
        compute_mmd([np.ones(2)], [np.ones(2)], "rbf")
    with pytest.raises(ValueError, match=r"samples2\[0\].*sums to"):
        compute_mmd([np.ones(2)], [np.zeros(2)], "gaussian_emd")
    with pytest.raises(ValueError, match="1-D"):
        compute_mmd([np.ones((2, 2))], [np.ones(2)], "gaussian")
