"""The closed-form linear-Gaussian posterior against brute-force grid integration in 2-D."""

import pytest
import torch

from scorelab import VP
from scorelab.testing import GaussianMixture, geometric_gaussian
from scorelab.testing.posterior import linear_gaussian_posterior


def _grid_moments(prior: GaussianMixture, a, y, s, lim=6.0, n=801):
    """Posterior mean, covariance and per-component mass by a Riemann sum on a fine grid."""
    u = torch.linspace(-lim, lim, n, dtype=torch.float64)
    gx, gy = torch.meshgrid(u, u, indexing="ij")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    loglik = -0.5 * ((pts @ a.T - y).pow(2).sum(1)) / s**2
    comps = torch.stack(
        [
            torch.distributions.MultivariateNormal(m, c).log_prob(pts) + torch.log(w)
            for w, m, c in zip(prior.weights, prior.means, prior.covs)
        ],
        1,
    )  # (P, K)
    joint = (comps + loglik[:, None]).exp()  # constant factors cancel on normalizing
    mass = joint.sum(0)
    p = joint.sum(1) / mass.sum()
    mean = p @ pts
    d = pts - mean
    cov = (p[:, None] * d).T @ d
    return mean, cov, mass / mass.sum()


@pytest.mark.parametrize(
    "a, y, s",
    [
        ([[1.0, 0.0]], [0.3], 0.4),  # 1-D projection: posterior stays multimodal
        ([[1.0, 0.5], [-0.3, 1.0]], [1.0, -0.5], 0.3),  # full-rank 2x2
        ([[0.7, -0.7]], [0.0], 0.2),
    ],
)
def test_matches_grid_integration(a, y, s):
    prior = GaussianMixture.random(2, 4, seed=1)
    a, y = torch.tensor(a, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    post = linear_gaussian_posterior(prior, a, y, s)
    mean, cov, mass = _grid_moments(prior, a, y, s)
    # the grid step is 0.015 and the box holds every component to > 6 std: the Riemann sum of
    # a smooth density is accurate far below these tolerances
    assert torch.allclose(post.mean(), mean, atol=1e-6)
    assert torch.allclose(post.cov(), cov, atol=1e-6)
    assert torch.allclose(post.weights, mass, atol=1e-6)


def test_gaussian_prior_is_the_textbook_formula():
    mean, cov = (
        torch.tensor([1.0, -1.0], dtype=torch.float64),
        torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=torch.float64),
    )
    a, y, s = torch.tensor([[2.0, 1.0]], dtype=torch.float64), torch.tensor([0.7]), 0.5
    post = linear_gaussian_posterior(GaussianMixture.gaussian(mean, cov), a, y, s)
    prec = torch.linalg.inv(cov) + a.T @ a / s**2
    c_post = torch.linalg.inv(prec)
    m_post = c_post @ (torch.linalg.solve(cov, mean) + a.T @ y.double() / s**2)
    assert torch.allclose(post.covs[0], c_post, atol=1e-12)
    assert torch.allclose(post.means[0], m_post, atol=1e-12)


def test_singular_prior_covariance_and_batch_of_y():
    # a degenerate component (rank-1 covariance) is fine in the Kalman form
    covs = torch.stack([torch.tensor([[1.0, 0.0], [0.0, 0.0]]), 0.2 * torch.eye(2)]).double()
    prior = GaussianMixture(
        torch.tensor([0.4, 0.6]).double(), torch.tensor([[0.0, 0.0], [2.0, 1.0]]).double(), covs
    )
    a = torch.eye(2, dtype=torch.float64)
    ys = torch.tensor([[0.1, 0.0], [2.0, 1.2], [1.0, 0.5]], dtype=torch.float64)
    batch = linear_gaussian_posterior(prior, a, ys, 0.3)
    assert isinstance(batch, list) and len(batch) == 3
    for yi, post in zip(ys, batch):
        one = linear_gaussian_posterior(prior, a, yi, 0.3)
        assert torch.allclose(one.means, post.means) and torch.allclose(one.weights, post.weights)
        assert bool((post.lam >= 0).all())
        assert post.covs[0][1, 1].abs() < 1e-12  # the prior's null direction stays exact


def test_no_information_returns_the_prior_and_noiseless_limit():
    prior = GaussianMixture.random(2, 3, seed=4)
    post = linear_gaussian_posterior(prior, torch.zeros(1, 2), torch.tensor([5.0]), 0.5)
    assert torch.allclose(post.weights, prior.weights) and torch.allclose(post.means, prior.means)
    assert torch.allclose(post.covs, prior.covs)
    exact = linear_gaussian_posterior(prior, torch.eye(2), torch.tensor([0.5, 0.5]), 0.0)
    assert torch.allclose(exact.means, torch.tensor([0.5, 0.5]).double().expand(3, 2), atol=1e-9)


def test_errors_name_the_problem():
    prior = GaussianMixture.random(2, 2, seed=0)
    with pytest.raises(ValueError, match="A must have shape"):
        linear_gaussian_posterior(prior, torch.ones(1, 3), torch.ones(1), 0.1)
    with pytest.raises(ValueError, match="y must have shape"):
        linear_gaussian_posterior(prior, torch.ones(1, 2), torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="finite"):
        linear_gaussian_posterior(prior, torch.ones(1, 2), torch.tensor([float("nan")]), 0.1)
    with pytest.raises(ValueError, match="noise_std"):
        linear_gaussian_posterior(prior, torch.ones(1, 2), torch.ones(1), -1.0)
    with pytest.raises(ValueError, match="singular"):
        linear_gaussian_posterior(prior, torch.zeros(1, 2), torch.ones(1), 0.0)


def test_geometric_gaussian_closed_forms():
    """p^beta is N(m, C / beta); N(m1, C1) N(m2, C2) has precision P1 + P2; mixtures raise."""
    path = VP()
    g1 = GaussianMixture.random(2, 1, seed=3)
    g2 = GaussianMixture.random(2, 1, seed=4)
    m1, c1 = g1.marginal(path, 0.3).means[0], g1.marginal(path, 0.3).covs[0]
    m2, c2 = g2.marginal(path, 0.3).means[0], g2.marginal(path, 0.3).covs[0]
    mean, cov = geometric_gaussian([g1], [2.0], path, 0.3)
    torch.testing.assert_close((mean, cov), (m1, c1 / 2))
    mean, cov = geometric_gaussian([g1, g2], [1.0, 1.0], path, 0.3)
    p1, p2 = torch.linalg.inv(c1), torch.linalg.inv(c2)
    torch.testing.assert_close(torch.linalg.inv(cov), p1 + p2)
    torch.testing.assert_close(mean, cov @ (p1 @ m1 + p2 @ m2))
    with pytest.raises(ValueError, match="single Gaussians"):
        geometric_gaussian([GaussianMixture.ring()], [1.0], path, 0.3)
