"""Multiplicative (GBM) diffusion on log-normal data, against closed forms (float64).

log X0 ~ N(m, S) in d = 2, so log X_t ~ N(m + c t, S + sigma^2 t I) exactly and the
Hyvarinen score is known in closed form. The Dale-Langevin sampler is affine in log space
(in the log prior draw and in each step's noise) when driven by this score, so its output
law in log space is an exact Gaussian: its error is an exact W2, no Monte Carlo.
"""

from __future__ import annotations

import math

import pytest
import torch

from scorelab import samplers as S
from scorelab.distances import gaussian_w2
from scorelab.multiplicative import GBM, MultiplicativeDSMLoss, sample_gbm, to_hyvarinen
from scorelab.testing import GaussianMixture, affine_noisy_pushforward

F64 = torch.float64
M = torch.tensor([0.3, -0.2], dtype=F64)
COV = torch.tensor([[0.2, 0.05], [0.05, 0.1]], dtype=F64)
LOG_TARGET = GaussianMixture.gaussian(M, COV)


def process(mu: float = 0.0, sigma: float = 1.0, t_max: float = 4.0) -> GBM:
    return GBM(mu, sigma, t_min=1e-3, t_max=t_max, data_log_mean=M, data_log_var=COV)


def lognormal(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.exp(LOG_TARGET.sample(n, g))


# --- forward process -------------------------------------------------------------------------


def test_forward_sde_gives_the_closed_form_lognormal():
    """Euler-Maruyama of dX = mu X dt + sigma X dW in x matches log X_t ~ N(m + c t, S + s^2 t)."""
    p = process(mu=0.4, sigma=0.8, t_max=1.0)
    n, g = 20_000, torch.Generator().manual_seed(0)
    x = lognormal(n, g)
    steps, t_end = 500, 1.0
    dt = t_end / steps
    for _ in range(steps):
        x = x * (
            1 + p.mu * dt + p.sigma * math.sqrt(dt) * torch.randn(x.shape, generator=g, dtype=F64)
        )
    assert bool((x > 0).all())
    mean, cov = p.log_moments(t_end)
    y = torch.log(x)
    # SE of the mean sqrt(0.84 / n) = 0.0065; of the covariance entries <= 0.84 sqrt(2 / n) = 0.008;
    # the EM bias of log-moments is O(dt) = 0.002
    torch.testing.assert_close(y.mean(0), mean, rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(y.T), cov, rtol=0, atol=0.04)
    # the closed-form sampler and the transition agree with the same moments
    t = torch.full((n,), t_end, dtype=F64)
    xs = p.marginal(lognormal(n, g), t, torch.randn(n, 2, generator=g, dtype=F64))
    torch.testing.assert_close(torch.log(xs).mean(0), mean, rtol=0, atol=0.03)
    shift, var = p.transition(torch.tensor(1.0, dtype=F64), torch.tensor(0.25, dtype=F64))
    assert math.isclose(float(shift), 0.75 * p.c) and math.isclose(float(var), 0.75 * 0.64)


def test_prior_is_the_lognormal_at_t_max():
    p = process(mu=0.5, sigma=1.0, t_max=2.0)
    x = p.prior_sample((40_000, 2), torch.Generator().manual_seed(1))
    mean, cov = p.log_moments(2.0)
    assert bool((x > 0).all())
    y = torch.log(x)
    # SE of the mean sqrt(2.2 / 40000) = 0.0074, of the variance 2.2 sqrt(2 / 40000) = 0.016
    torch.testing.assert_close(y.mean(0), mean, rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(y.T), cov, rtol=0, atol=0.06)
    # the stated default: data at x = 1, prior log X_T ~ N(c T, sigma^2 T I)
    m0, c0 = GBM(0.5, 1.0, t_max=2.0).log_moments(2.0, dim=3)
    torch.testing.assert_close(m0, torch.zeros(3, dtype=F64))
    torch.testing.assert_close(c0, 2.0 * torch.eye(3, dtype=F64))


# --- the score and the loss ------------------------------------------------------------------


def test_exact_hyvarinen_score_is_x_times_grad_log_density():
    """h = x o grad_x log p_t(x), log p_X(x) = log N(log x; m_t, S_t) - sum log x (autograd)."""
    p = process(mu=0.3)
    g = torch.Generator().manual_seed(2)
    x = lognormal(16, g).requires_grad_(True)
    for t in (0.01, 0.7, 3.0):
        mean, cov = p.log_moments(t)
        dist = torch.distributions.MultivariateNormal(mean, cov)
        logp = dist.log_prob(torch.log(x)) - torch.log(x).sum(1)
        (grad,) = torch.autograd.grad(logp.sum(), x)
        h = p.exact_model(LOG_TARGET)(x.detach(), torch.full((16,), t, dtype=F64))
        torch.testing.assert_close(h, x.detach() * grad, rtol=1e-10, atol=1e-10)
        # the three parameterizations convert exactly: s_x = (s_y - 1) / x
        xd = x.detach()
        torch.testing.assert_close(to_hyvarinen(grad, "score", xd), h, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(to_hyvarinen(h + 1, "log_score", xd), h, rtol=1e-12, atol=0)


class Perturbed(torch.nn.Module):
    """The exact Hyvarinen score times ``scale`` plus ``shift``."""

    prediction = "hyvarinen"

    def __init__(self, p: GBM, scale: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        self.exact, self.scale, self.shift = p.exact_model(LOG_TARGET), scale, shift

    def forward(self, x, t):
        return self.scale * self.exact(x, t) + self.shift


def test_loss_is_minimal_at_the_exact_score():
    p = process(sigma=1.0, t_max=1.0)
    loss = MultiplicativeDSMLoss(p)
    x0 = lognormal(100_000, torch.Generator().manual_seed(3))

    def value(model) -> float:
        return float(loss(model, x0, generator=torch.Generator().manual_seed(4)))

    exact = value(Perturbed(p))
    # closed form: E_t sum_i lam_i / (lam_i + s^2 t) / d, t ~ U(t_min, t_max)
    lam, s2, lo, hi = torch.linalg.eigvalsh(COV), p.sigma**2, p.t_min, p.t_max
    closed = float((lam / (s2 * (hi - lo)) * torch.log((lam + s2 * hi) / (lam + s2 * lo))).mean())
    # per-sample loss has std 0.43 (measured), so the SE over 1e5 samples is 0.0013
    assert abs(exact - closed) < 0.005, (exact, closed)
    # same draws (common random numbers): the excess is E[w delta^2] = 0.09 s^2 E[t] = 0.045
    # for the shift (measured 0.044; 0.048 for the scale)
    assert value(Perturbed(p, shift=0.3)) > exact + 0.03
    assert value(Perturbed(p, scale=1.2)) > exact + 0.01
    none = MultiplicativeDSMLoss(GBM(sigma=1.0, t_min=0.05, data_log_mean=M), weighting="none")
    base = float(none(Perturbed(p), x0[:20_000], generator=torch.Generator().manual_seed(5)))
    worse = float(
        none(Perturbed(p, shift=0.3), x0[:20_000], generator=torch.Generator().manual_seed(5))
    )
    assert worse > base + 0.05


# --- the reverse samplers -------------------------------------------------------------------


def dale_langevin_law(p: GBM, model, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact law of log(output): affine in the standard log-prior draw and each step's noise."""
    mean_T, cov_T = p.log_moments(p.t_max)
    chol = torch.linalg.cholesky(cov_T)
    ts = S.uniform_grid(p.log_path, steps)

    def run(z, noise_fn):
        x_T = torch.exp(mean_T + z @ chol.T)
        return torch.log(sample_gbm(model, x_T, ts, p, noise_fn=noise_fn))

    return affine_noisy_pushforward(run, 2)


def test_dale_langevin_converges_to_the_lognormal_at_order_one():
    p = process(mu=0.5)
    model = p.exact_model(LOG_TARGET)
    errs = [gaussian_w2(*dale_langevin_law(p, model, n), M, COV) for n in (50, 100, 200)]
    # measured 0.066 / 0.035 / 0.018: Euler-Maruyama in log space, weak order 1
    assert errs[-1] < 0.025, errs
    for i in range(2):
        assert 0.7 < math.log2(errs[i] / errs[i + 1]) < 1.4, errs
    # control: the model's h taken as the log-space score (the Lamperti +1 dropped) fails
    wrong = Perturbed(p)
    wrong.prediction = "log_score"
    assert gaussian_w2(*dale_langevin_law(p, wrong, 100), M, COV) > 0.5  # measured 0.90


def test_dale_langevin_samples_stay_positive_and_match_the_law():
    p = process(mu=0.5)
    model = p.exact_model(LOG_TARGET)
    n, steps = 20_000, 100
    x_T = p.prior_sample((n, 2), torch.Generator().manual_seed(6))
    ts = S.uniform_grid(p.log_path, steps)
    out = sample_gbm(model, x_T, ts, p, generator=torch.Generator().manual_seed(7))
    assert bool((out > 0).all())
    y = torch.log(out)
    mean, cov = dale_langevin_law(p, model, steps)
    # SE of the mean sqrt(0.2 / n) = 0.003; of the covariance entries 0.2 sqrt(2 / n) = 0.002
    torch.testing.assert_close(y.mean(0), mean, rtol=0, atol=0.015)
    torch.testing.assert_close(torch.cov(y.T), cov, rtol=0, atol=0.012)
    assert gaussian_w2(y.mean(0), torch.cov(y.T), M, COV) < 0.05  # measured 0.035


def test_additive_update_leaves_the_positive_orthant():
    """Negative control: Euler-Maruyama of the same reverse SDE in x at the same step counts."""
    p = process(mu=0.0, sigma=1.0, t_max=4.0)
    model = p.exact_model(LOG_TARGET)
    x_T = p.prior_sample((20_000, 2), torch.Generator().manual_seed(8))
    for steps, min_bad in ((20, 0.1), (50, 0.005)):  # measured 19% and 1.1% of the samples
        ts = S.uniform_grid(p.log_path, steps)
        outs = {
            u: sample_gbm(model, x_T, ts, p, update=u, generator=torch.Generator().manual_seed(9))
            for u in ("multiplicative", "additive")
        }
        assert bool((outs["multiplicative"] > 0).all())
        bad = float((~(outs["additive"] > 0)).any(1).double().mean())
        assert bad > min_bad, (steps, bad)


# --- errors --------------------------------------------------------------------------------


def test_errors():
    p = process()
    model = p.exact_model(LOG_TARGET)
    ts = S.uniform_grid(p.log_path, 4)
    x = torch.ones(3, 2, dtype=F64)
    neg = torch.tensor([[1.0, -0.5], [1.0, 1.0]], dtype=F64)
    with pytest.raises(ValueError, match="strictly positive"):
        p.marginal(neg, torch.ones(2, dtype=F64), torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="strictly positive"):
        MultiplicativeDSMLoss(p)(model, torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="strictly positive"):
        sample_gbm(model, neg, ts, p)
    with pytest.raises(ValueError, match="NaN"):
        sample_gbm(model, torch.full((2, 2), float("nan"), dtype=F64), ts, p)
    with pytest.raises(ValueError, match="unknown GBM update"):
        sample_gbm(model, x, ts, p, update="heun")
    with pytest.raises(ValueError, match="unknown weighting"):
        MultiplicativeDSMLoss(p, weighting="edm")
    with pytest.raises(ValueError, match="unknown GBM prediction"):
        to_hyvarinen(x, "eps", x)
    with pytest.raises(ValueError, match="has shape"):
        sample_gbm(lambda x, t: x[:, :1], x, ts, p)
    with pytest.raises(ValueError, match="single-tensor"):
        sample_gbm(model, {"a": x}, ts, p)
    with pytest.raises(ValueError, match="sigma"):
        GBM(sigma=0.0)
    with pytest.raises(ValueError, match="t_min < t_max"):
        GBM(t_min=1.0, t_max=1.0)
    with pytest.raises(ValueError, match="data_log_var"):
        GBM(data_log_var=-1.0)
    with pytest.raises(ValueError, match=r"\(2, 2\) covariance, need \(3, 3\)"):
        p.log_moments(1.0, dim=3)
