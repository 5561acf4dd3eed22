"""Gaussian-mixture reference targets: exact densities, scores and denoisers under every path."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab import EDM, KINDS, VE, VP, Interpolant, Spec, SubVP, convert, predict
from scorelab.testing import GaussianMixture, affine_noisy_pushforward, affine_pushforward

F64 = torch.float64

PATHS = [
    pytest.param(VP(), (0.05, 0.9), id="vp"),
    pytest.param(SubVP(), (0.05, 0.9), id="subvp"),
    pytest.param(VE(), (0.05, 0.9), id="ve"),
    pytest.param(EDM(), (0.01, 20.0), id="edm"),
    pytest.param(Interpolant("linear"), (0.05, 0.9), id="linear"),
    pytest.param(Interpolant("trig", gamma=1.0), (0.05, 0.9), id="trig-g1"),
]


@pytest.fixture
def gm() -> GaussianMixture:
    return GaussianMixture.random(3, components=3, seed=1)


def direct_log_prob(gm: GaussianMixture, x: torch.Tensor) -> torch.Tensor:
    """log sum_k w_k N(x; mu_k, S_k) with torch.distributions."""
    comp = torch.distributions.MultivariateNormal(gm.means, covariance_matrix=gm.covs)
    return torch.logsumexp(torch.log(gm.weights) + comp.log_prob(x[:, None, :]), dim=1)


def test_log_prob_is_the_mixture_density(gm):
    x = gm.sample(50, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gm.log_prob(x), direct_log_prob(gm, x), rtol=1e-12, atol=1e-12)
    far = 10 * torch.randn(5, 3, dtype=F64)
    torch.testing.assert_close(gm.log_prob(far), direct_log_prob(gm, far), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize(("path", "window"), PATHS)
def test_marginal_log_prob_equals_log_prob_t(gm, path, window):
    x = 2 * torch.randn(20, 3, dtype=F64)
    for t in torch.linspace(*window, 4).tolist():
        marg = gm.marginal(path, t)
        torch.testing.assert_close(marg.log_prob(x), gm.log_prob_t(x, t, path))
        torch.testing.assert_close(marg.log_prob(x), direct_log_prob(marg, x))


def test_log_prob_t_near_the_data_is_log_prob(gm):
    x = gm.sample(20, generator=torch.Generator().manual_seed(2))
    near = gm.log_prob_t(x, 1e-6, EDM(sigma_min=1e-7))
    torch.testing.assert_close(near, gm.log_prob(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("path", "window"), PATHS)
@pytest.mark.parametrize("per_sample", [False, True])
def test_score_is_the_gradient_of_log_prob_t(gm, path, window, per_sample):
    n = 8
    x = (2 * torch.randn(n, 3, dtype=F64)).requires_grad_()
    times = torch.linspace(*window, n, dtype=F64) if per_sample else [window[0], window[1]]
    for t in [times] if per_sample else times:
        (grad,) = torch.autograd.grad(gm.log_prob_t(x, t, path).sum(), x)
        score = gm.score(x.detach(), t, path)
        assert score.shape == (n, 3)
        torch.testing.assert_close(score, grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("path", "window"), PATHS)
def test_x0_is_tweedie(gm, path, window):
    """E[x0 | x_t] = (x_t + sigma^2 grad log p_t(x_t)) / alpha."""
    t = torch.linspace(*window, 10, dtype=F64)
    x = 2 * torch.randn(10, 3, dtype=F64)
    a, s = path.alpha(t)[:, None], path.sigma(t)[:, None]
    tweedie = (x + s**2 * gm.score(x, t, path)) / a
    torch.testing.assert_close(gm.x0(x, t, path), tweedie, rtol=1e-9, atol=1e-9)


def test_single_gaussian_posterior_closed_form():
    """One Gaussian N(mu, S): E[x0|x] = mu + a S (a^2 S + s^2 I)^-1 (x - a mu), by linalg.solve."""
    g = torch.Generator().manual_seed(4)
    mu = torch.randn(3, generator=g, dtype=F64)
    l = torch.randn(3, 3, generator=g, dtype=F64)
    cov = l @ l.T + 0.1 * torch.eye(3, dtype=F64)
    gm = GaussianMixture.gaussian(mu, cov)
    path = VP()
    t = torch.tensor([0.1, 0.4, 0.8], dtype=F64)
    x = torch.randn(3, 3, generator=g, dtype=F64)
    for i in range(3):
        a, s = path.alpha(t[i]), path.sigma(t[i])
        c = a * a * cov + s * s * torch.eye(3, dtype=F64)
        r = x[i] - a * mu
        torch.testing.assert_close(gm.score(x, t, path)[i], -torch.linalg.solve(c, r))
        torch.testing.assert_close(gm.x0(x, t, path)[i], mu + a * cov @ torch.linalg.solve(c, r))


def test_x0_posterior_mean_by_monte_carlo():
    """E[x0 | x_t] against a Monte-Carlo posterior mean via importance weights p(x_t | x0)."""
    gm = GaussianMixture.random(2, components=3, seed=3)
    path, t = VP(), 0.5
    a, s = float(path.alpha(torch.tensor(t))), float(path.sigma(torch.tensor(t)))
    x0 = gm.sample(200_000, generator=torch.Generator().manual_seed(5))
    xt = torch.tensor([[0.3, -0.2], [1.0, 0.5]], dtype=F64)
    logw = -((xt[:, None, :] - a * x0[None]) ** 2).sum(-1) / (2 * s * s)
    w = torch.softmax(logw, dim=1)
    mc = w @ x0
    ess = 1 / (w**2).sum(1)
    err = (mc - gm.x0(xt, t, path)).abs()
    assert torch.all(err < 6 * x0.std(0) / ess.sqrt()[:, None]), (err, ess)


def test_sample_matches_mean_and_cov(gm):
    n = 50_000
    x = gm.sample(n, generator=torch.Generator().manual_seed(6))
    assert x.shape == (n, 3) and x.dtype == F64
    sd = gm.cov().diagonal().sqrt()
    assert torch.all((x.mean(0) - gm.mean()).abs() < 5 * sd / math.sqrt(n))
    emp = torch.cov(x.T)
    scale = torch.outer(sd, sd)
    assert torch.all((emp - gm.cov()).abs() < 6 * scale * math.sqrt(2 / n)), emp - gm.cov()


def test_mean_and_cov_closed_form():
    w = torch.tensor([0.25, 0.75], dtype=F64)
    means = torch.tensor([[0.0, 0.0], [2.0, -4.0]], dtype=F64)
    covs = torch.stack([torch.eye(2, dtype=F64), torch.diag(torch.tensor([2.0, 3.0], dtype=F64))])
    gm = GaussianMixture(w, means, covs)
    torch.testing.assert_close(gm.mean(), torch.tensor([1.5, -3.0], dtype=F64))
    # cov = sum w (S + mu mu^T) - m m^T
    second = 0.25 * covs[0] + 0.75 * (covs[1] + torch.outer(means[1], means[1]))
    torch.testing.assert_close(gm.cov(), second - torch.outer(gm.mean(), gm.mean()))


@pytest.mark.parametrize(
    ("path", "t"),
    [(None, None), (VP(), 0.5), (Interpolant("linear"), 0.3)],
    ids=["data", "vp", "lin"],
)
def test_density_integrates_to_one_in_2d(path, t):
    gm = GaussianMixture.random(2, components=4, seed=0)
    if path is not None:
        gm = gm.marginal(path, t)
    sd = gm.lam.max().sqrt()
    lo = (gm.means.min(0).values - 8 * sd).tolist()
    hi = (gm.means.max(0).values + 8 * sd).tolist()
    n = 400
    gx = torch.linspace(lo[0], hi[0], n, dtype=F64)
    gy = torch.linspace(lo[1], hi[1], n, dtype=F64)
    xx, yy = torch.meshgrid(gx, gy, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    dens = gm.log_prob(pts).exp().reshape(n, n)
    mass = torch.trapezoid(torch.trapezoid(dens, gy, dim=1), gx)
    assert float(mass) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("path", "window"), PATHS)
def test_predictor_kinds_are_consistent(gm, path, window):
    """predictor(path, k) equals the x0 predictor converted to k; x0/score equal x0()/score()."""
    t = torch.linspace(*window, 5, dtype=F64)
    x = 2 * torch.randn(5, 3, dtype=F64)
    ref = gm.predictor(path, "x0")(x, t)
    torch.testing.assert_close(ref, gm.x0(x, t, path))
    torch.testing.assert_close(gm.predictor(path, "score")(x, t), gm.score(x, t, path))
    for kind in KINDS:
        model = gm.predictor(path, kind)
        assert model.prediction == kind
        out = model(x, t)
        torch.testing.assert_close(out, convert(ref, "x0", kind, x, t, path), rtol=1e-7, atol=1e-7)
        # and predict() recovers the same x0 from every kind
        x0 = predict(model, x, t, Spec(path, x), "x0")
        torch.testing.assert_close(x0, ref, rtol=1e-7, atol=1e-7)


def test_predictor_reshapes_and_keeps_input_dtype():
    gm = GaussianMixture.random(6, components=2, seed=2)
    path = VP()
    x = torch.randn(4, 2, 3)
    t = torch.full((4,), 0.4)
    out = gm.predictor(path, "eps")(x, t)
    assert out.shape == (4, 2, 3) and out.dtype == torch.float32
    flat = gm.predictor(path, "eps")(x.double().reshape(4, 6), t.double())
    torch.testing.assert_close(out.reshape(4, 6), flat.float(), rtol=1e-5, atol=1e-5)


def test_constructors():
    gm = GaussianMixture.random(4, components=5, seed=7)
    assert gm.dim == 4 and gm.weights.shape == (5,) and gm.means.dtype == F64
    torch.testing.assert_close(gm.weights.sum(), torch.tensor(1.0, dtype=F64))
    again = GaussianMixture.random(4, components=5, seed=7)
    torch.testing.assert_close(gm.covs, again.covs, rtol=0, atol=0)
    g32 = gm.to(torch.float32)
    assert g32.means.dtype == torch.float32
    x = gm.sample(10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        g32.log_prob(x.float()), gm.log_prob(x).float(), rtol=1e-4, atol=1e-4
    )
    single = GaussianMixture.gaussian(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64))
    assert single.weights.tolist() == [1.0]
    torch.testing.assert_close(
        single.log_prob(torch.zeros(1, 2, dtype=F64)),
        torch.tensor([-math.log(2 * math.pi)], dtype=F64),
    )


@pytest.mark.parametrize(
    ("weights", "means", "covs"),
    [
        pytest.param([1.0], [0.0, 1.0], [[[1.0]]], id="means-not-2d"),
        pytest.param([1.0], [[0.0, 1.0]], [[[1.0, 0.0]]], id="covs-wrong-shape"),
        pytest.param(
            [0.5, 0.5], [[0.0, 1.0]], [[[1.0, 0.0], [0.0, 1.0]]], id="weights-wrong-shape"
        ),
        pytest.param([0.7, 0.7], [[0.0], [1.0]], [[[1.0]], [[1.0]]], id="weights-do-not-sum-to-1"),
        pytest.param([1.5, -0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]], id="negative-weight"),
        pytest.param([1.0], [[0.0, 0.0]], [[[1.0, 0.0], [0.0, -1.0]]], id="not-psd"),
    ],
)
def test_bad_arguments_raise(weights, means, covs):
    with pytest.raises(ValueError):
        GaussianMixture(
            torch.tensor(weights, dtype=F64),
            torch.tensor(means, dtype=F64),
            torch.tensor(covs, dtype=F64),
        )


def test_flow_map_is_the_pf_ode_flow_and_gives_ode_pushforward():
    """flow_map composes (t -> u -> s equals t -> s), is the identity at s = t, and pushes the
    prior to ode_pushforward's law; mixtures raise."""
    g = GaussianMixture.random(3, 1, seed=2)
    path = VP()
    x = torch.randn(5, 3, dtype=torch.float64)
    t, u, s = torch.full((5,), 0.9), torch.full((5,), 0.4), torch.full((5,), 0.01)
    two = g.flow_map(path, g.flow_map(path, x, t, u), u, s)
    torch.testing.assert_close(two, g.flow_map(path, x, t, s))
    torch.testing.assert_close(g.flow_map(path, x, t, t), x)
    mean, cov = affine_pushforward(lambda p: g.flow_map(path, p, 1.0, 1e-3), 3, 1.0)
    m2, c2 = g.ode_pushforward(path, 1.0, 1e-3, 1.0)
    torch.testing.assert_close((mean, cov), (m2, c2))
    with pytest.raises(ValueError, match="single Gaussian"):
        GaussianMixture.ring().flow_map(path, x[:, :2], 1.0, 0.5)


def test_affine_noisy_pushforward_recovers_a_known_affine_law():
    """run(z, noise) = A z + B1 z1 + B2 z2 + c has law N(c, A A^T + B1 B1^T + B2 B2^T)."""
    gen = torch.Generator().manual_seed(0)
    a, b1, b2 = (torch.randn(2, 2, generator=gen, dtype=torch.float64) for _ in range(3))
    c = torch.tensor([1.0, -2.0], dtype=torch.float64)

    def run(z, noise_fn):
        return z @ a.T + noise_fn(z) @ b1.T + noise_fn(z) @ b2.T + c

    mean, cov = affine_noisy_pushforward(run, 2)
    torch.testing.assert_close(mean, c)
    torch.testing.assert_close(cov, a @ a.T + b1 @ b1.T + b2 @ b2.T)
