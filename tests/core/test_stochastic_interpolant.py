"""Stochastic interpolants: coefficients, marginals and exact minimizers of the quadratic losses."""

import math

import pytest
import torch

import scorelab as sl
from scorelab.stochastic_interpolant import (
    DenoiserLoss,
    ScoreLoss,
    StochasticInterpolant,
    VelocityLoss,
    gaussian_fields,
    score_from_denoiser,
)
from scorelab.testing import GaussianMixture

F64 = torch.float64
GMM = GaussianMixture.random(2, 4, seed=1)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["linear", "trig"])
@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_matches_core_path_coefficients(kind, c):
    """With a N(0, I) base, alpha = a and sigma^2 = b^2 + gamma^2 of Interpolant(kind, gamma=c)."""
    si = StochasticInterpolant(kind, "sqrt", c)
    path = si.gaussian_path()
    t = torch.linspace(0, 1, 101, dtype=F64)
    a, b, da, db = si.coefs(t)
    torch.testing.assert_close(a, path.alpha(t), rtol=0, atol=1e-14)
    torch.testing.assert_close(b * b + si.gamma(t) ** 2, path.sigma(t) ** 2, rtol=0, atol=1e-14)
    inner = t[1:-1]
    sig = path.sigma(inner)
    # sigma' = (b b' + gamma gamma') / sigma: the derivatives agree too
    bb = b[1:-1] * db[1:-1] + si.gamma(inner) * si.dgamma(inner)
    torch.testing.assert_close(bb / sig, path.dsigma(inner), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("gamma", ["sqrt", "quadratic"])
def test_dgamma_is_the_derivative_and_finite_at_the_ends(gamma):
    """gamma' matches a central difference inside (0, 1) and stays finite at t = 0, 1."""
    si = StochasticInterpolant("linear", gamma, 2.0)
    t, h = torch.linspace(0.02, 0.98, 49, dtype=F64), 1e-6
    fd = (si.gamma(t + h) - si.gamma(t - h)) / (2 * h)
    torch.testing.assert_close(si.dgamma(t), fd, rtol=1e-7, atol=1e-7)
    ends = si.dgamma(torch.tensor([0.0, 1.0], dtype=F64))
    assert torch.isfinite(ends).all()
    assert (si.gamma(torch.tensor([0.0, 1.0], dtype=F64)) == 0).all()


def test_marginal_matches_core_path():
    """Monte Carlo x_t (GMM data, N(0, I) base) has the core path's marginal mean and covariance."""
    si = StochasticInterpolant("trig", "sqrt", 1.0)
    path, n, t = si.gaussian_path(), 200_000, 0.35
    g = _gen(0)
    x_data = GMM.sample(n, g)
    xt = si.interpolate(
        x_data,
        torch.randn(n, 2, generator=g, dtype=F64),
        torch.full((n,), t, dtype=F64),
        torch.randn(n, 2, generator=g, dtype=F64),
    )
    ref = GMM.marginal(path, t)
    # per-entry std of the mean is sqrt(var / n) <= 0.006 here, of the covariance <= 0.01
    torch.testing.assert_close(xt.mean(0), ref.mean(), rtol=0, atol=0.025)
    torch.testing.assert_close(torch.cov(xt.T), ref.cov(), rtol=0, atol=0.05)


def _excess(loss, exact, delta, seed=1, n=20_000, x_base=None):
    """Per-sample L(exact + delta) - L(exact) on common random numbers: mean and its std error."""
    x_data = GMM.sample(n, _gen(100 + seed)) if x_base is None else x_base[0]
    xb = None if x_base is None else x_base[1]
    lo = loss.per_sample(exact, x_data, xb, _gen(seed))
    hi = loss.per_sample(lambda x, t: exact(x, t) + delta, x_data, xb, _gen(seed))
    d = hi - lo
    return float(d.mean()), float(d.std() / math.sqrt(n))


DELTA = torch.tensor([0.3, -0.2], dtype=F64)
HALF_SQ = 0.5 * float(DELTA @ DELTA)  # E[L(f* + c)] - E[L(f*)] = |c|^2 / 2 exactly


def _exact_fields(si):
    path = si.gaussian_path()
    vel, score, eps = (GMM.predictor(path, k) for k in ("velocity", "score", "eps"))

    def eta(x, t):  # E[z | x_t] = (gamma / sigma) E[eps | x_t] for the N(0, I) base
        return (si.gamma(t) / path.sigma(t))[:, None] * eps(x, t)

    return vel, score, eta


@pytest.mark.parametrize("kind", ["linear", "trig"])
def test_velocity_loss_minimized_by_exact_b(kind):
    """Excess velocity loss of b* + c is |c|^2 / 2 (within 4 standard errors); b* is the minimum."""
    si = StochasticInterpolant(kind, "sqrt", 1.0)
    vel, _, _ = _exact_fields(si)
    mean, se = _excess(VelocityLoss(si, t_lo=1e-3, t_hi=1 - 1e-3), vel, DELTA)
    assert abs(mean - HALF_SQ) < 4 * se and se < 0.1 * HALF_SQ, (mean, se, HALF_SQ)


def test_velocity_loss_rejects_the_wrong_field():
    """The b of a different interpolant (gamma = 0) scores a clearly higher velocity loss."""
    si = StochasticInterpolant("linear", "sqrt", 1.0)
    vel, _, _ = _exact_fields(si)
    wrong = GMM.predictor(sl.Interpolant("linear"), "velocity")
    x0 = GMM.sample(20_000, _gen(5))
    loss = VelocityLoss(si, t_lo=1e-3, t_hi=1 - 1e-3)
    lo, hi = loss.per_sample(vel, x0, None, _gen(2)), loss.per_sample(wrong, x0, None, _gen(2))
    d = hi - lo
    assert float(d.mean()) > 10 * float(d.std() / math.sqrt(len(d))), float(d.mean())


def test_denoiser_and_score_losses_minimized_by_exact_fields():
    """eta* = E[z | x_t] and s* minimize their losses (excess |c|^2 / 2), and s* = -eta*/gamma."""
    si = StochasticInterpolant("linear", "sqrt", 2.0)
    _, score, eta = _exact_fields(si)
    for loss, exact in ((DenoiserLoss(si), eta), (ScoreLoss(si, 0.05, 0.95), score)):
        mean, se = _excess(loss, exact, DELTA)
        assert abs(mean - HALF_SQ) < 4 * se and se < 0.1 * HALF_SQ, (loss, mean, se)
    x, t = GMM.sample(64, _gen(3)), torch.rand(64, generator=_gen(4), dtype=F64) * 0.9 + 0.05
    torch.testing.assert_close(score_from_denoiser(eta, si)(x, t), score(x, t))


def test_velocity_loss_two_sided_gaussian():
    """Non-Gaussian-path case: base N(m_b, C_b), data N(m_d, C_d); closed-form b is the minimum."""
    si = StochasticInterpolant("linear", "quadratic", 1.0)
    md, mb = torch.tensor([1.0, -1.0], dtype=F64), torch.tensor([-2.0, 0.5], dtype=F64)
    cd = torch.tensor([[0.5, 0.2], [0.2, 0.3]], dtype=F64)
    cb = torch.tensor([[2.0, -0.4], [-0.4, 0.6]], dtype=F64)
    vel, _ = gaussian_fields(si, md, cd, mb, cb)
    n = 20_000
    pair = tuple(
        GaussianMixture.gaussian(m, c).sample(n, _gen(s)) for m, c, s in ((md, cd, 8), (mb, cb, 9))
    )
    mean, se = _excess(VelocityLoss(si), vel, DELTA, x_base=pair)
    assert abs(mean - HALF_SQ) < 4 * se and se < 0.1 * HALF_SQ, (mean, se)


def test_antithetic_cancels_the_singular_term():
    """With the sqrt gamma, antithetic pairs cut the variance of the velocity loss near the ends."""
    si = StochasticInterpolant("linear", "sqrt", 1.0)
    vel, _, _ = _exact_fields(si)
    x0 = GMM.sample(4000, _gen(6))
    var = [
        float(VelocityLoss(si, 0.0, 0.01, antithetic=a).per_sample(vel, x0, None, _gen(1)).var())
        for a in (False, True)
    ]
    assert var[1] < 0.1 * var[0], var


def test_errors():
    """Bad names, ranges, shapes and values raise errors that name the problem."""
    with pytest.raises(ValueError, match="unknown interpolant kind"):
        StochasticInterpolant("cubic")
    with pytest.raises(ValueError, match="unknown gamma"):
        StochasticInterpolant("linear", "cube")
    with pytest.raises(ValueError, match="gamma_scale"):
        StochasticInterpolant("linear", "sqrt", -1.0)
    si = StochasticInterpolant()
    with pytest.raises(ValueError, match="t_lo < t_hi"):
        VelocityLoss(si, 0.5, 0.2)
    with pytest.raises(ValueError, match="gamma > 0"):
        ScoreLoss(StochasticInterpolant("linear", "zero"))
    with pytest.raises(ValueError, match="0 < t_lo"):
        ScoreLoss(si, 0.0, 0.5)
    with pytest.raises(ValueError, match="no core Interpolant"):
        StochasticInterpolant("linear", "quadratic").gaussian_path()
    x = torch.zeros(4, 2, dtype=F64)
    loss = VelocityLoss(si)
    with pytest.raises(ValueError, match="x_base must have"):
        loss(lambda x, t: x, x, torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="NaN or inf"):
        loss(lambda x, t: x, torch.full((4, 2), math.nan, dtype=F64))
    with pytest.raises(ValueError, match="model output has shape"):
        loss(lambda x, t: x[:, :1], x)
    with pytest.raises(ValueError, match="singular where gamma"):
        score_from_denoiser(lambda x, t: x, si)(x, torch.zeros(4, dtype=F64))


def test_gaussian_fields_match_the_core_path():
    """Closed-form b, s for Gaussian ends equal the core path's exact fields when base = N(0, I)."""
    si = StochasticInterpolant("trig", "sqrt", 1.5)
    path = si.gaussian_path()
    mean = torch.tensor([1.0, -0.5], dtype=F64)
    cov = torch.tensor([[0.5, 0.2], [0.2, 0.3]], dtype=F64)
    target = GaussianMixture.gaussian(mean, cov)
    vel, score = gaussian_fields(si, mean, cov, torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64))
    x = torch.randn(50, 2, generator=_gen(0), dtype=F64)
    t = torch.linspace(0.01, 1.0, 50, dtype=F64)
    torch.testing.assert_close(vel(x, t), target.predictor(path, "velocity")(x, t))
    torch.testing.assert_close(score(x, t), target.predictor(path, "score")(x, t))
