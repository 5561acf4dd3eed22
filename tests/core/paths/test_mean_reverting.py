"""IR-SDE's mean-reverting path: schedules, SDE coefficients, marginals with mu, errors.

Checked against what the path does not compute itself: finite differences, IR-SDE's own
discrete schedule, the base class's generic SDE formula, and Euler-Maruyama runs of
dx = theta (mu - x) dt + sigma dW in x itself.
"""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.paths.base import GaussianPath
from scorelab.paths.mean_reverting import MeanReverting

F64 = torch.float64
SCHEDULES = ["cosine", "linear", "constant"]


def central_diff(fn, t: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    """Fourth-order central difference of ``fn`` at ``t``."""
    return (-fn(t + 2 * h) + 8 * fn(t + h) - 8 * fn(t - h) + fn(t - 2 * h)) / (12 * h)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_derivatives_match_finite_differences(schedule):
    p = MeanReverting(0.5, schedule)
    t = torch.linspace(0.01, 0.99, 15, dtype=F64)
    torch.testing.assert_close(p.dalpha(t), central_diff(p.alpha, t), rtol=1e-8, atol=1e-11)
    torch.testing.assert_close(p.dsigma(t), central_diff(p.sigma, t), rtol=1e-8, atol=1e-11)
    torch.testing.assert_close(p.theta(t), central_diff(p.thetabar, t), rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_closed_form_and_sde(schedule):
    """alpha = e^{-thetabar}, sigma^2 = lambda^2 (1 - alpha^2), f = -theta, g^2 = 2 lam^2 theta."""
    lam = 0.3
    p = MeanReverting(lam, schedule, thetabar_max=6.0)
    t = torch.linspace(0.01, 1.0, 12, dtype=F64)
    a, s = p.alpha(t), p.sigma(t)
    torch.testing.assert_close(a, torch.exp(-p.thetabar(t)), rtol=1e-13, atol=0)
    ref = -torch.expm1(-2 * p.thetabar(t))  # 1 - alpha^2 without cancellation
    torch.testing.assert_close(s * s, lam**2 * ref, rtol=1e-12, atol=0)
    assert math.isclose(float(p.thetabar(torch.tensor(1.0, dtype=F64))), 6.0, rel_tol=1e-12)
    f, g = p.sde(t)
    f_gen, g_gen = GaussianPath.sde(p, t)  # the core's generic formula from alpha, sigma
    torch.testing.assert_close(f, -p.theta(t), rtol=1e-13, atol=0)
    torch.testing.assert_close(f_gen, f, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_gen, g, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(
        g * g / p.theta(t), torch.full_like(t, 2 * lam**2), rtol=1e-12, atol=0
    )
    assert p.prior_std() == lam


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_log_snr_inverse(schedule):
    p = MeanReverting(10 / 255, schedule)
    t = torch.linspace(0.002, 1.0, 40, dtype=F64)
    torch.testing.assert_close(p.t_from_log_snr(p.log_snr(t)), t, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(p.log_snr(t), GaussianPath.log_snr(p, t), rtol=1e-10, atol=1e-10)
    t32 = t.float()
    assert p.sigma(t32).dtype == torch.float32 and p.t_from_log_snr(p.log_snr(t32)).dtype == (
        torch.float32
    )


def _irsde_thetabar(steps: int) -> torch.Tensor:
    """IR-SDE's discrete cosine schedule (their ``cosine_theta_schedule`` and ``dt``)."""
    n = steps + 2
    x = torch.linspace(0, n, n + 1, dtype=F64)
    ac = torch.cos((x / n + 0.008) / 1.008 * math.pi / 2) ** 2
    th = 1 - (ac / ac[0])[1:-1]
    cs = torch.cumsum(th, 0) - th[0]
    return cs * (-math.log(0.01) / cs[-1])


def test_cosine_schedule_is_the_limit_of_irsde():
    """Our continuous thetabar is the T -> infinity limit of IR-SDE's discrete one (error ~ 1/T)."""
    p = MeanReverting()
    errs = []
    for steps in (100, 1000):
        t = torch.arange(steps + 1, dtype=F64) / steps
        errs.append(float((p.thetabar(t) - _irsde_thetabar(steps)).abs().max()))
    assert errs[1] < 5e-3 and 7 < errs[0] / errs[1] < 13, errs


def _euler_maruyama_x(p: MeanReverting, x0, mu, t_end: float, steps: int, g: torch.Generator):
    """dx = theta (mu - x) dt + sqrt(2 lambda^2 theta) dW in x itself, from t = 0."""
    x, dt = x0.clone(), t_end / steps
    for i in range(steps):
        th = p.theta(torch.tensor((i + 0.5) * dt, dtype=F64))  # midpoint rate in time
        z = torch.randn(x.shape, generator=g, dtype=F64)
        x = x + th * (mu - x) * dt + p.lambda_ * torch.sqrt(2 * th * dt) * z
    return x


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_forward_sde_matches_marginal(schedule):
    """Moments of an Euler-Maruyama run in x equal mu + alpha (x0 - mu) and sigma^2 per sample."""
    p = MeanReverting(0.5, schedule, thetabar_max=3.0)
    n, g = 20_000, torch.Generator().manual_seed(0)
    mu = torch.tensor([1.0, -2.0], dtype=F64)
    x0 = torch.tensor([-1.0, 0.5], dtype=F64).expand(n, 2)
    for t_end in (0.4, 1.0):
        x = _euler_maruyama_x(p, x0, mu, t_end, 400, g)
        tt = torch.full((n,), t_end, dtype=F64)
        mean, sd = p.mean_at(x0, mu, tt)[0], float(p.sigma(tt[0]))
        # mean: SE = sd / sqrt(n) <= 0.0036; 5 SE plus an EM bias O(dt) < 5e-3
        torch.testing.assert_close(x.mean(0), mean, rtol=0, atol=5 * sd / math.sqrt(n) + 5e-3)
        # variance: SE = var sqrt(2 / n) ~ 1% of var
        torch.testing.assert_close(
            x.var(0), torch.full((2,), sd * sd, dtype=F64), rtol=0.05, atol=0
        )


def test_stationary_law():
    """Started far from mu, the process forgets x0: N(mu, lambda^2 I) at large thetabar."""
    lam = 0.7
    p = MeanReverting(lam, "constant", thetabar_max=12.0)
    n, g = 20_000, torch.Generator().manual_seed(1)
    mu = torch.tensor([3.0, -1.0], dtype=F64)
    x = _euler_maruyama_x(p, torch.full((n, 2), -5.0, dtype=F64), mu, 1.0, 600, g)
    assert float(p.alpha(torch.tensor(1.0, dtype=F64))) < 1e-5
    # SE of the mean 0.005, of the variance 0.49 * 0.01; EM bias of the variance ~ theta dt / 2 = 1%
    torch.testing.assert_close(x.mean(0), mu, rtol=0, atol=0.03)
    torch.testing.assert_close(x.var(0), torch.full((2,), lam**2, dtype=F64), rtol=0.05, atol=0)
    assert math.isclose(float(p.sigma(torch.tensor(1.0, dtype=F64))), lam, rel_tol=1e-9)


def test_mu_shift_and_prior():
    p = MeanReverting(0.2)
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(5, 3, generator=g, dtype=F64)
    mu = torch.randn(5, 3, generator=g, dtype=F64)  # per-sample condition
    t = torch.rand(5, generator=g, dtype=F64)
    z = torch.randn(5, 3, generator=g, dtype=F64)
    xt = p.marginal_at(x0, mu, t, z)
    a, s = p.alpha(t)[:, None], p.sigma(t)[:, None]
    torch.testing.assert_close(xt, mu + a * (x0 - mu) + s * z, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(xt - mu, p.marginal(x0 - mu, t, z), rtol=1e-14, atol=1e-14)
    # a shared mu of shape (3,) broadcasts
    shared = mu[0]
    torch.testing.assert_close(
        p.marginal_at(x0, shared, t, z), shared + p.marginal(x0 - shared, t, z)
    )
    prior = p.prior_sample_at(mu[:1].expand(40_000, 3), torch.Generator().manual_seed(3))
    # SE of the mean 0.001, of the std 0.0007
    torch.testing.assert_close(prior.mean(0), mu[0], rtol=0, atol=0.005)
    torch.testing.assert_close(prior.std(0), torch.full((3,), 0.2, dtype=F64), rtol=0.02, atol=0)


def test_errors():
    with pytest.raises(ValueError, match="unknown theta schedule"):
        MeanReverting(0.1, "sigmoid")
    with pytest.raises(ValueError, match="lambda_"):
        MeanReverting(0.0)
    with pytest.raises(ValueError, match="lambda_"):
        MeanReverting(float("nan"))
    with pytest.raises(ValueError, match="thetabar_max"):
        MeanReverting(0.1, thetabar_max=-1.0)
    with pytest.raises(ValueError, match="t_min"):
        MeanReverting(0.1, t_min=1.0)
    p = MeanReverting(0.1)
    x0, t = torch.zeros(4, 3, dtype=F64), torch.full((4,), 0.5, dtype=F64)
    with pytest.raises(ValueError, match="does not broadcast"):
        p.marginal_at(x0, torch.zeros(4, 2, dtype=F64), t, x0)
    with pytest.raises(ValueError, match="mu .* is needed"):
        p.mean_at(x0, None, t)
    with pytest.raises(ValueError, match="NaN"):
        p.mean_at(x0, torch.full((3,), float("nan"), dtype=F64), t)
