"""SMC utilities: ESS bounds, systematic resampling counts, and clear errors."""

import pytest
import torch

from scorelab.smc import ess, resample_if, systematic_resample, take, weighted_mean


def test_ess_bounds():
    assert ess(torch.zeros(10)) == pytest.approx(10.0)
    one_hot = torch.full((10,), -float("inf"))
    one_hot[3] = 0.0
    assert ess(one_hot) == pytest.approx(1.0)
    # two equal weights of 4 particles: ESS = 2
    assert ess(torch.log(torch.tensor([0.5, 0.5, 1e-300, 1e-300], dtype=torch.float64))) == (
        pytest.approx(2.0)
    )


def test_systematic_copies_floor_or_ceil():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0.05, 0.5, 0.2, 0.25], dtype=torch.float64)
    for _ in range(50):
        idx = systematic_resample(w.log(), g)
        counts = torch.bincount(idx, minlength=4).double()
        n = 4 * w
        assert bool(((counts >= n.floor()) & (counts <= n.ceil())).all()), counts


def test_systematic_is_unbiased():
    g = torch.Generator().manual_seed(1)
    w = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
    counts = torch.zeros(3, dtype=torch.float64)
    for _ in range(4000):
        counts += torch.bincount(systematic_resample(w.log(), g), minlength=3)
    assert torch.allclose(counts / counts.sum(), w, atol=0.01)


def test_resample_if_threshold_and_structured_take():
    x = {"a": torch.arange(4.0)[:, None], "b": torch.arange(4)}
    logw = torch.log(torch.tensor([1e-9, 1e-9, 1e-9, 1.0]))
    same, lw, did = resample_if(x, torch.zeros(4), 0.5)
    assert not did and same is x
    new, lw, did = resample_if(x, logw, 0.5, torch.Generator().manual_seed(0))
    assert did and bool((lw == 0).all())
    assert bool((new["a"][:, 0] == 3).all()) and bool((new["b"] == 3).all())
    assert torch.equal(take(torch.arange(3), torch.tensor([2, 0])), torch.tensor([2, 0]))


def test_weighted_mean():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    logw = torch.log(torch.tensor([0.25, 0.75]))
    assert torch.allclose(weighted_mean(x, logw), torch.tensor([1.5, 2.5]))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="NaN"):
        ess(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="zero weight"):
        ess(torch.full((3,), -float("inf")))
    with pytest.raises(ValueError, match="shape"):
        ess(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="threshold"):
        resample_if(torch.zeros(2, 1), torch.zeros(2), 1.5)
