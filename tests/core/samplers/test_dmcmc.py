"""Denoising MCMC and the exact noise-level estimator against an exact Gaussian mixture."""

import pytest
import torch
from scipy.stats import kstest

import scorelab as sl
from scorelab.distances import w2_empirical
from scorelab.samplers import CountNFE
from scorelab.samplers.dmcmc import LearnedNoiseLevel, noise_level_loss, sample_dmcmc
from scorelab.testing import GaussianMixture
from scorelab.testing.noise_level import ExactNoiseLevel

F64 = torch.float64
PATH = sl.VP()


def _xt(target, t, n, g):
    x0 = target.sample(n, g)
    return PATH.marginal(x0, t, torch.randn(n, target.dim, generator=g, dtype=F64))


@pytest.mark.parametrize("estimate", ["mean", "mode"])
def test_exact_noise_level_recovers_t(estimate):
    """In d = 16 the posterior of t is sharp: the estimate lands near the true t."""
    target = GaussianMixture.random(16, 3, seed=1)
    est = ExactNoiseLevel(target, PATH, estimate=estimate, levels=256)
    g = torch.Generator().manual_seed(0)
    for t in (0.05, 0.2, 0.35):
        th = est(_xt(target, torch.full((100,), t, dtype=F64), 100, g))
        # measured median abs errors 0.01-0.02; a wrong likelihood is off by > 0.1
        assert (th - t).abs().median() < 0.04, (t, th.median())


def test_exact_noise_level_posterior_is_calibrated(gmm2):
    """t ~ U, x ~ p_t: the posterior CDF at the true t is uniform (probability integral
    transform), which holds only for the exact posterior; a wrong path fails it."""
    g = torch.Generator().manual_seed(0)
    n = 2000
    t = PATH.t_min + (PATH.t_max - PATH.t_min) * torch.rand(n, generator=g, dtype=F64)
    x = _xt(gmm2, t, n, g)

    def pit(est):
        cdf = est.log_posterior(x).exp().cumsum(1)
        idx = torch.searchsorted(est.times, t).clamp(max=est.times.numel() - 1)
        return cdf.gather(1, idx[:, None])[:, 0].numpy()

    good = ExactNoiseLevel(gmm2, PATH, levels=512)
    wrong = ExactNoiseLevel(gmm2, sl.VP(beta_max=8.0), levels=512)
    # grid step 1/512 shifts the PIT by < 0.002, far below the KS critical value 0.036
    assert kstest(pit(good), "uniform").pvalue > 1e-3
    assert kstest(pit(wrong), "uniform").pvalue < 1e-6


def _floor(target, n):
    refs = [target.sample(n, torch.Generator().manual_seed(100 + i)) for i in range(3)]
    return refs[0], (w2_empirical(refs[1], refs[0]) + w2_empirical(refs[2], refs[0])) / 2


def _dmcmc(model, target, estimator, **kw):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g, dtype=F64)
    opts = dict(n_chain_steps=2, n_samples=10, burn_in=50, step_size=0.2, solver_steps=6)
    opts.update(kw)
    return sample_dmcmc(
        model, x, PATH, noise_estimator=estimator, generator=g, return_info=True, **opts
    )


def test_dmcmc_reaches_mixture(gmm2):
    """200 chains x 10 samples reach the mixture within 1.5x the POT-W2 noise floor
    (floor ~0.15 at n = 2000, its seed-to-seed spread ~0.02); wrong score or a broken
    estimator (always t_min: no denoising) fail the same check."""
    ref, floor = _floor(gmm2, 2000)
    model = gmm2.predictor(PATH, "eps")
    est = ExactNoiseLevel(gmm2, PATH, estimate="mean", levels=256)
    out, info = _dmcmc(model, gmm2, est)
    assert out.shape == (2000, 2)
    err = w2_empirical(out, ref)
    assert err < 1.5 * floor, (err, floor)
    assert info.nfe_per_sample == pytest.approx(50 / 10 + 2 + 2 * 6)

    exact = gmm2.predictor(PATH, "score")
    wrong = sl.Predictor(lambda x, t: 0.7 * exact(x, t), "score")
    bad, _ = _dmcmc(wrong, gmm2, est)
    assert w2_empirical(bad, ref) > 2 * floor

    def broken(x):
        return torch.full((x.shape[0],), PATH.t_min, dtype=x.dtype)

    stuck, _ = _dmcmc(model, gmm2, broken, step_size=0.01)
    assert w2_empirical(stuck, ref) > 2 * floor


def test_nfe_accounting(gmm2):
    """Chain and solver evaluations are counted exactly, per chain and per sample."""
    model = CountNFE(gmm2.predictor(PATH, "x0"))
    est = ExactNoiseLevel(gmm2, PATH, levels=64)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 2, generator=g, dtype=F64)
    out, info = sample_dmcmc(
        model,
        x,
        PATH,
        noise_estimator=est,
        n_chain_steps=3,
        n_samples=2,
        burn_in=4,
        solver="euler",
        solver_steps=5,
        generator=g,
        return_info=True,
    )
    assert info.nfe_chain == 4 + 2 * 3
    assert info.nfe_solver == 5  # Euler: 1 per step, every sample solved from t > t_min
    assert model.nfe == info.nfe_chain + 5 * info.buckets
    assert info.nfe_per_sample == pytest.approx(10 / 2 + 5)
    assert info.t_start.shape == (64,) and torch.isfinite(out).all()


def test_noise_level_loss_minimised_by_posterior_mean():
    """The regression loss is smallest at E[t | x] (the exact 'mean' estimator)."""
    target = GaussianMixture.random(16, 3, seed=1)
    x0 = target.sample(2000, torch.Generator().manual_seed(0))

    def loss(fn):
        return float(noise_level_loss(fn, x0, PATH, torch.Generator().manual_seed(5)))

    mean = ExactNoiseLevel(target, PATH, estimate="mean", levels=256)
    mode = ExactNoiseLevel(target, PATH, estimate="mode", levels=256)
    const = loss(lambda x: torch.full((x.shape[0],), 0.5, dtype=x.dtype))
    assert loss(mean) < loss(mode) < const
    assert loss(mean) < 0.5 * const  # the posterior mean explains most of the variance


def test_learned_noise_level_maps_log_snr_back_to_t():
    t = torch.linspace(0.01, 0.99, 7, dtype=F64)
    est = LearnedNoiseLevel(lambda x: PATH.log_snr(t), PATH, regress="log_snr")
    assert torch.allclose(est(torch.zeros(7, 2, dtype=F64)), t, atol=1e-8)


def test_errors(gmm2):
    model = gmm2.predictor(PATH, "eps")
    est = ExactNoiseLevel(gmm2, PATH, levels=16)
    x = torch.randn(8, 2, dtype=F64)
    with pytest.raises(ValueError, match="unknown sampler"):
        sample_dmcmc(model, x, PATH, noise_estimator=est, solver="nope")
    with pytest.raises(ValueError, match="unknown select"):
        sample_dmcmc(model, x, PATH, noise_estimator=est, select="max")
    with pytest.raises(ValueError, match="step_size"):
        sample_dmcmc(model, x, PATH, noise_estimator=est, step_size=-1.0)
    with pytest.raises(ValueError, match="n_chain_steps"):
        sample_dmcmc(model, x, PATH, noise_estimator=est, n_chain_steps=0)
    with pytest.raises(ValueError, match="t_init"):
        sample_dmcmc(model, x, PATH, noise_estimator=est, t_init=2.0)
    with pytest.raises(ValueError, match="NaN"):
        sample_dmcmc(model, x * float("nan"), PATH, noise_estimator=est)
    with pytest.raises(ValueError, match=r"noise_estimator must return times of shape \(8,\)"):
        sample_dmcmc(model, x, PATH, noise_estimator=lambda v: torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="unknown estimate"):
        ExactNoiseLevel(gmm2, PATH, estimate="median")
    with pytest.raises(ValueError, match="t_lo < t_hi"):
        ExactNoiseLevel(gmm2, PATH, t_lo=0.5, t_hi=0.2)
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        est(torch.zeros(4, 3, dtype=F64))
    with pytest.raises(ValueError, match="unknown regress"):
        noise_level_loss(lambda v: v[:, 0], x, PATH, regress="sigma")
    with pytest.raises(ValueError, match=r"net must return shape \(8,\)"):
        noise_level_loss(lambda v: v, x, PATH)
