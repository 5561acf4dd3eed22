"""SDEdit and CODE against exact answers: a closed-form edit law, round trips, clipping."""

import math

import pytest
import torch

import scorelab as sl
from scorelab.distances import gaussian_w2
from scorelab.editing import code_edit, confidence_clip, sdedit
from scorelab.testing import GaussianMixture, sdedit_law

F64 = torch.float64
PATH = sl.VP()


@pytest.fixture(scope="module")
def gmm2() -> GaussianMixture:
    """The 4-component mixture in d = 2 used by the sampler tests."""
    return GaussianMixture.random(2, 4, seed=1)


def _gauss():
    m = torch.tensor([0.5, -0.3], dtype=F64)
    a = torch.tensor([[0.5, 0.2], [0.0, 0.3]], dtype=F64)
    return GaussianMixture.gaussian(m, a @ a.T + 0.02 * torch.eye(2, dtype=F64))


@pytest.mark.parametrize("t0", [0.3, 0.6])
def test_sdedit_matches_closed_form_law(t0):
    """20,000 edits of one input: moments within MC tolerance of the exact law (measured
    W2 ~0.008; the moment-W2 MC error is ~0.005); the PF-ODE variant is a different law
    (W2 > 0.1), so the check can fail."""
    target = _gauss()
    model = target.predictor(PATH, "eps")
    x_in = torch.tensor([2.0, -1.0], dtype=F64)
    mean, cov = sdedit_law(target, PATH, x_in, t0)
    n = 20_000
    x = x_in.expand(n, 2).clone()

    def w2(out):
        return gaussian_w2(out.mean(0), torch.cov(out.T), mean, cov)

    g = torch.Generator().manual_seed(0)
    assert w2(sdedit(model, x, PATH, t0, steps=100, generator=g)) < 0.025
    ode = sdedit(model, x, PATH, t0, sampler="heun", steps=50, generator=g)
    assert w2(ode) > 0.1


def test_code_round_trip_without_corrections(gmm2):
    """Encode then decode with no Langevin step and no clipping returns the input."""
    model = gmm2.predictor(PATH, "eps")
    x = gmm2.sample(64, torch.Generator().manual_seed(3))
    y, info = code_edit(model, x, PATH, 0.6, langevin_steps=0, ode_steps=200, return_info=True)
    assert (y - x).abs().max() < 1e-4  # measured 2e-5 (Heun, second order)
    assert torch.equal(info.latent, info.corrected)
    assert info.nfe == 2 * 200 + 2 * 200


def test_confidence_clipping_bounds(gmm2):
    model = gmm2.predictor(PATH, "eps")
    x = 5.0 + torch.randn(128, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    t0, eta, rng = 0.5, 1.5, (-1.0, 1.0)
    _, info = code_edit(
        model, x, PATH, t0, eta=eta, data_range=rng, langevin_steps=3, return_info=True
    )
    tt = torch.tensor(t0, dtype=F64)
    a, s = PATH.alpha(tt), PATH.sigma(tt)
    assert info.latent.max() <= a * rng[1] + eta * s + 1e-12
    assert info.latent.min() >= a * rng[0] - eta * s - 1e-12
    # without clipping the same encoding leaves the interval: the clip did act
    _, free = code_edit(model, x, PATH, t0, langevin_steps=3, return_info=True)
    assert free.latent.max() > a * rng[1] + eta * s + 0.5
    assert torch.equal(confidence_clip(x, t0, PATH, math.inf, rng), x)


def test_editing_raises_likelihood_of_corrupted_inputs(gmm2):
    """Targets plus N(0, 2.5^2) corruption: both editors raise the exact log-likelihood by
    far more than its MC spread (input mean log p ~ -31, edits > -6 at t0 = 0.35)."""
    model = gmm2.predictor(PATH, "eps")
    g = torch.Generator().manual_seed(1)
    x = gmm2.sample(300, g) + 2.5 * torch.randn(300, 2, generator=g, dtype=F64)
    before = gmm2.log_prob(x).mean()
    s = sdedit(model, x, PATH, 0.35, generator=g)
    c = code_edit(model, x, PATH, 0.35, langevin_steps=20, step_size=0.5, ode_steps=30, generator=g)
    assert gmm2.log_prob(s).mean() > before + 15
    assert gmm2.log_prob(c).mean() > before + 15
    # CODE's editing strength is set by the corrections, not by t0: without them it is
    # (nearly) the identity at the same t0
    c0 = code_edit(model, x, PATH, 0.35, langevin_steps=0, ode_steps=30)
    assert (c0 - x).norm(dim=1).mean() < 0.05


def test_errors(gmm2):
    model = gmm2.predictor(PATH, "eps")
    x = torch.zeros(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="t0 must be in"):
        sdedit(model, x, PATH, 0.0)
    with pytest.raises(ValueError, match="t0 must be in"):
        code_edit(model, x, PATH, 1.5)
    with pytest.raises(ValueError, match="unknown sampler"):
        sdedit(model, x, PATH, 0.5, sampler="nope")
    with pytest.raises(ValueError, match="NaN"):
        sdedit(model, x * float("nan"), PATH, 0.5)
    with pytest.raises(ValueError, match="eta must be positive"):
        code_edit(model, x, PATH, 0.5, eta=0.0)
    with pytest.raises(ValueError, match="step_size"):
        code_edit(model, x, PATH, 0.5, step_size=-0.1)
    with pytest.raises(ValueError, match="langevin_steps"):
        code_edit(model, x, PATH, 0.5, langevin_steps=-1)
    with pytest.raises(ValueError, match="data_range"):
        code_edit(model, x, PATH, 0.5, data_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="batch dim"):
        sdedit(model, torch.zeros(2, dtype=F64), PATH, 0.5)
    with pytest.raises(TypeError, match="prediction"):
        sdedit(lambda v, t: v, x, PATH, 0.5)
