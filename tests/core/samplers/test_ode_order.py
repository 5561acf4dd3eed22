"""ODE samplers against the exact PF-ODE law: exact W2 (no Monte Carlo) and convergence order."""

import math

import pytest
import torch

from scorelab import samplers as S
from scorelab.distances import gaussian_w2
from scorelab.testing import affine_pushforward

from .conftest import PATHS

# (sampler, order); on the Karras grid every path is integrated to its own t_min
ORDERS = [("euler", 1), ("ddim", 1), ("heun", 2), ("dpmpp_2m", 2)]


def _exact_w2(target, path, name, steps, grid="karras"):
    model = target.predictor(path, "x0")
    ts = S.get_grid(grid, path, steps)
    fn = S.get_sampler(name)
    mu, cov = affine_pushforward(lambda x: fn(model, x, ts, path), target.dim, path.prior_std())
    ref = target.ode_pushforward(path, float(ts[0]), float(ts[-1]), path.prior_std())
    return gaussian_w2(mu, cov, *ref)


@pytest.mark.parametrize("name,order", ORDERS)
@pytest.mark.parametrize("path_name", ["vp", "ve", "edm", "subvp", "trig"])
def test_ode_sampler_converges_at_its_order(gauss3, name, order, path_name):
    path = PATHS[path_name]
    errs = [_exact_w2(gauss3, path, name, n) for n in (20, 40, 80)]
    slopes = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert errs[-1] < (0.25 if order == 1 else 0.02), errs
    # observed order within [p - 0.3, p + 0.6] on both halvings
    for s in slopes:
        assert order - 0.3 < s < order + 0.6, (errs, slopes)


def test_euler_equals_ddim_on_edm(gauss3):
    """On alpha = 1 paths DDIM is exactly Euler on the PF-ODE in sigma (Karras et al. 2022)."""
    path = PATHS["edm"]
    assert math.isclose(
        _exact_w2(gauss3, path, "euler", 15), _exact_w2(gauss3, path, "ddim", 15), rel_tol=1e-9
    )


@pytest.mark.parametrize("path_name", ["vp", "edm", "linear"])
def test_adaptive_matches_exact_flow(gauss3, path_name):
    path = PATHS[path_name]
    # eps/score models cannot give a velocity where alpha = 0 (a flow path at t = 1)
    kind = "x0" if path_name == "linear" else "eps"
    model = S.CountNFE(gauss3.predictor(path, kind))
    ts = S.uniform_grid(path, 1)
    fn = lambda x: S.sample_adaptive(model, x, ts, path, rtol=1e-8, atol=1e-8)  # noqa: E731
    mu, cov = affine_pushforward(fn, 3, path.prior_std())
    ref = gauss3.ode_pushforward(path, path.t_max, path.t_min, path.prior_std())
    assert gaussian_w2(mu, cov, *ref) < 1e-4
    assert model.nfe > 10


@pytest.fixture(scope="module")
def gmm_reference(gmm2):
    """A tight dopri5 solve of the VP PF-ODE for 256 prior points."""
    path = PATHS["vp"]
    model = gmm2.predictor(path, "x0")
    x_t = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (
        model,
        x_t,
        S.sample_adaptive(model, x_t, S.uniform_grid(path, 1), path, rtol=1e-9, atol=1e-9),
    )


@pytest.mark.parametrize("name", ["euler", "heun", "ddim", "dpmpp_2m"])
def test_pathwise_convergence_on_gmm(gmm_reference, name):
    """On a mixture (non-linear score) the error to a tight dopri5 solve from the same x_T falls."""
    path = PATHS["vp"]
    model, x_t, ref = gmm_reference
    errs = []
    for n in (25, 100):
        out = S.get_sampler(name)(model, x_t, S.karras_grid(path, n), path)
        errs.append(float((out - ref).norm(dim=1).mean()))
    order = 1 if name in ("euler", "ddim") else 2
    assert errs[0] / errs[1] > 4**order * 0.5, errs
    assert errs[1] < (0.05 if order == 1 else 0.002), errs


@pytest.mark.parametrize("kind", ["x0", "eps", "score", "v", "velocity"])
def test_prediction_kind_does_not_change_the_sampler(gauss3, kind):
    path = PATHS["vp"]
    ts = S.karras_grid(path, 10)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = S.sample_heun(gauss3.predictor(path, "x0"), x, ts, path)
    out = S.sample_heun(gauss3.predictor(path, kind), x, ts, path)
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-8)
