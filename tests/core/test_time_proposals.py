"""Time proposals: bounds, the distributions they claim, the registry."""

import math

import pytest
import torch

from scorelab import EDM, VP, Interpolant
from scorelab.time_proposals import (
    TIME_PROPOSALS,
    LogitNormalTime,
    LogLogisticSigma,
    LogNormalSigma,
    UniformTime,
    get_time_proposal,
)

N = 200_000


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("path", [VP(), EDM(), Interpolant("linear")])
@pytest.mark.parametrize(
    "proposal", [UniformTime(), LogNormalSigma(), LogitNormalTime(), LogLogisticSigma()]
)
def test_times_lie_in_the_path_range(path, proposal):
    t = proposal(10_000, path, generator=gen(), dtype=torch.float64)
    assert t.shape == (10_000,) and t.dtype == torch.float64
    assert float(t.min()) >= path.t_min and float(t.max()) <= path.t_max


def test_uniform_moments_and_bounds():
    path = VP()
    t = UniformTime()(N, path, generator=gen(), dtype=torch.float64)
    lo, hi = path.t_min, path.t_max
    assert abs(float(t.mean()) - 0.5 * (lo + hi)) < 4 * (hi - lo) / math.sqrt(12 * N)
    assert abs(float(t.var()) - (hi - lo) ** 2 / 12) < 0.01 * (hi - lo) ** 2 / 12
    t = UniformTime(0.2, 0.4)(N, path, generator=gen(1), dtype=torch.float64)
    assert float(t.min()) >= 0.2 and float(t.max()) <= 0.4
    assert abs(float(t.mean()) - 0.3) < 1e-3
    fixed = UniformTime(0.3, 0.3)(5, path)
    assert torch.all(fixed == 0.3)


def test_lognormal_sigma_on_edm_has_the_stated_log_moments():
    t = LogNormalSigma()(N, EDM(), generator=gen(), dtype=torch.float64)
    log_ratio = torch.log(t)  # EDM path: alpha = 1, sigma = t
    assert abs(float(log_ratio.mean()) + 1.2) < 4 * 1.2 / math.sqrt(N)
    assert abs(float(log_ratio.std()) - 1.2) < 0.01


def test_lognormal_sigma_maps_through_the_path():
    # On VP, sigma/alpha lies in ~[0.01, 150]: a little mass is clamped, the median is not.
    path = VP()
    prop = LogNormalSigma(p_mean=-0.5, p_std=0.8)
    t = prop(N, path, generator=gen(), dtype=torch.float64)
    log_ratio = torch.log(path.sigma(t) / path.alpha(t))
    assert abs(float(log_ratio.median()) + 0.5) < 0.01
    q = torch.quantile(log_ratio, torch.tensor([0.1587, 0.8413], dtype=torch.float64))
    assert torch.allclose(q, torch.tensor([-1.3, 0.3], dtype=torch.float64), atol=0.02)


def test_logit_normal_moments_and_scaling():
    t = LogitNormalTime()(N, Interpolant("linear"), generator=gen(), dtype=torch.float64)
    z = torch.logit(t)
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1.0) < 0.01
    prop = LogitNormalTime(mean=0.5, std=0.8, t_min=0.1, t_max=0.9)
    t = prop(N, Interpolant("linear"), generator=gen(1), dtype=torch.float64)
    z = torch.logit((t - 0.1) / 0.8)
    assert abs(float(z.mean()) - 0.5) < 0.01 and abs(float(z.std()) - 0.8) < 0.01


def test_generator_makes_draws_reproducible():
    for prop in (UniformTime(), LogNormalSigma(), LogitNormalTime()):
        a = prop(100, VP(), generator=gen(3))
        b = prop(100, VP(), generator=gen(3))
        assert torch.equal(a, b) and a.dtype == torch.float32


def test_registry_and_errors():
    assert TIME_PROPOSALS.names() == ["logit_normal", "loglogistic", "lognormal", "uniform"]
    assert isinstance(get_time_proposal("lognormal", p_mean=0.0), LogNormalSigma)
    assert isinstance(get_time_proposal("logit_normal"), LogitNormalTime)
    assert isinstance(get_time_proposal("uniform"), UniformTime)
    with pytest.raises(ValueError, match="logit_normal, loglogistic, lognormal, uniform"):
        get_time_proposal("beta")
    with pytest.raises(ValueError, match="t_min <= t_max"):
        UniformTime(0.5, 0.1)
    with pytest.raises(ValueError, match="t_min <= t_max"):
        UniformTime(t_min=2.0)(3, VP())
    with pytest.raises(ValueError, match="p_std"):
        LogNormalSigma(p_std=0.0)
    with pytest.raises(ValueError, match="std"):
        LogitNormalTime(std=-1.0)


def test_reprs_are_readable():
    assert repr(UniformTime()) == "UniformTime()"
    assert repr(UniformTime(0.1, 0.5)) == "UniformTime(t_min=0.1, t_max=0.5)"
    assert repr(LogNormalSigma()) == "LogNormalSigma(p_mean=-1.2, p_std=1.2)"
    assert repr(LogitNormalTime()) == "LogitNormalTime(mean=0.0, std=1.0)"


def test_loglogistic_sigma_follows_its_truncated_cdf():
    # BESO's defaults on EDM's path (sigma = t): a KS test against the exact truncated CDF.
    from scipy import stats

    prop = LogLogisticSigma(loc=math.log(0.5), scale=0.5, sigma_min=0.001, sigma_max=80.0)
    t = prop(N, EDM(sigma_min=0.001, sigma_max=80.0), generator=gen(), dtype=torch.float64)
    assert float(t.min()) >= 0.001 and float(t.max()) <= 80.0
    c_lo, c_hi = prop.cdf(torch.tensor(0.001)), prop.cdf(torch.tensor(80.0))

    def cdf(x):
        return ((prop.cdf(torch.as_tensor(x)) - c_lo) / (c_hi - c_lo)).numpy()

    assert stats.kstest(t.numpy(), cdf).pvalue > 0.01
    assert abs(float(torch.log(t).median()) - math.log(0.5)) < 0.01
    # a log-normal with the same median fails the same test
    wrong = LogNormalSigma(p_mean=math.log(0.5), p_std=0.5)(N, EDM(), generator=gen())
    assert stats.kstest(wrong.double().numpy(), cdf).pvalue < 1e-6


def test_loglogistic_sigma_maps_through_a_path_and_truncates():
    path = VP()
    prop = LogLogisticSigma(loc=0.0, scale=1.0, sigma_min=0.1, sigma_max=10.0)
    t = prop(N, path, generator=gen(1), dtype=torch.float64)
    ratio = path.sigma(t) / path.alpha(t)
    assert float(ratio.min()) >= 0.1 - 1e-6 and float(ratio.max()) <= 10.0 + 1e-6
    assert abs(float(torch.log(ratio).median())) < 0.02
    flow = LogLogisticSigma()(1000, Interpolant("linear"), generator=gen(2))
    assert torch.isfinite(flow).all()
    with pytest.raises(ValueError, match="scale"):
        LogLogisticSigma(scale=0.0)
    with pytest.raises(ValueError, match="sigma_min"):
        LogLogisticSigma(sigma_min=2.0, sigma_max=1.0)
