"""Stochastic samplers against exact targets: moments on a Gaussian, sliced W2 on a mixture."""

import pytest
import torch

from scorelab import samplers as S
from scorelab.distances import gaussian_w2, sliced_w2

from .conftest import PATHS

STOCHASTIC = [
    ("euler_maruyama", {}),
    ("reverse_diffusion", {}),
    ("ancestral", {}),
    ("ddim", {"eta": 0.5}),
    ("pc", {"snr": 0.05}),
    ("s4", {"snr": 0.05}),
]


def _run(target, path, name, steps, n, seed=0, grid="uniform", **opts):
    model = target.predictor(path, "x0")
    g = torch.Generator().manual_seed(seed)
    x = path.prior_std() * torch.randn(n, target.dim, generator=g, dtype=torch.float64)
    return S.get_sampler(name)(model, x, S.get_grid(grid, path, steps), path, generator=g, **opts)


def _moment_w2(x, target, path):
    ref = target.marginal(path, path.t_min)
    return gaussian_w2(x.mean(0), torch.cov(x.T), ref.means[0], ref.covs[0])


@pytest.mark.parametrize("name,opts", STOCHASTIC)
@pytest.mark.parametrize("path_name", ["vp", "ve", "subvp"])
def test_sde_sampler_moments_converge(gauss3, name, opts, path_name):
    """Weak error of the output law (exact moments of p_{t_min}) falls with steps."""
    path = PATHS[path_name]
    n = 50_000  # Monte Carlo error of the moment W2 is about 0.005
    errs = [_moment_w2(_run(gauss3, path, name, k, n, **opts), gauss3, path) for k in (25, 100)]
    assert errs[1] < 0.07, errs
    # weak order 1: a 4x refinement cuts the bias by ~4 (>= 2.5 allowing Monte Carlo noise)
    assert errs[0] > 2.5 * errs[1], errs


ODE = [("euler", {}), ("heun", {}), ("ddim", {}), ("dpmpp_2m", {}), ("adaptive", {})]


@pytest.mark.parametrize("name,opts", STOCHASTIC + ODE)
def test_sampler_reaches_mixture(gmm2, name, opts):
    """Every sampler at 100 steps is within the sliced-W2 noise floor of a 4-mode mixture."""
    path = PATHS["vp"]
    n = 20_000
    out = _run(
        gmm2, path, name, 100, n, grid="karras" if (name, opts) in ODE else "uniform", **opts
    )
    ref = gmm2.marginal(path, path.t_min).sample(n, torch.Generator().manual_seed(9))
    floor = sliced_w2(
        gmm2.marginal(path, path.t_min).sample(n, torch.Generator().manual_seed(8)), ref
    )
    err = sliced_w2(out, ref)
    assert err < floor + 0.02, (err, floor)


def test_mixture_check_fails_for_a_wrong_score(gmm2):
    """Negative control: a score scaled by 0.8 is caught by the same check."""
    path = PATHS["vp"]
    n = 20_000
    exact = gmm2.predictor(path, "score")
    wrong = S.CountNFE(lambda x, t: 0.8 * exact(x, t))
    wrong.prediction = "score"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    out = S.sample_euler_maruyama(wrong, x, S.uniform_grid(path, 100), path, generator=g)
    ref = gmm2.marginal(path, path.t_min).sample(n, torch.Generator().manual_seed(9))
    assert sliced_w2(out, ref) > 0.1


def test_noise_fn_and_generator_make_runs_reproducible(gauss3):
    path = PATHS["vp"]
    a = _run(gauss3, path, "euler_maruyama", 20, 16, seed=3)
    b = _run(gauss3, path, "euler_maruyama", 20, 16, seed=3)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    model = gauss3.predictor(path, "x0")
    x = torch.zeros(4, 3, dtype=torch.float64)
    zero = S.sample_euler_maruyama(
        model, x, S.uniform_grid(path, 5), path, noise_fn=torch.zeros_like
    )
    det = S.sample_euler_maruyama(
        model, x, S.uniform_grid(path, 5), path, noise_fn=torch.zeros_like
    )
    torch.testing.assert_close(zero, det, rtol=0, atol=0)
    assert torch.allclose(zero[0], zero[1])  # no noise: identical inputs stay identical


def test_pc_with_more_corrector_steps_on_ve(gauss3):
    """Langevin correction pulls samples toward p_t: PC beats its predictor alone at few steps."""
    path = PATHS["ve"]
    pred = _moment_w2(_run(gauss3, path, "reverse_diffusion", 20, 50_000), gauss3, path)
    pc = _moment_w2(_run(gauss3, path, "pc", 20, 50_000, snr=0.16, n_corrector=2), gauss3, path)
    assert pc < pred, (pc, pred)


def test_langevin_noise_scale_is_checked_and_shrinks_the_spread(gauss3):
    """GDSS's scale_eps < 1 injects less noise: the output spread falls below the exact one."""
    path = PATHS["vp"]
    with pytest.raises(ValueError, match="noise_scale"):
        _run(gauss3, path, "pc", 5, 8, noise_scale=-1.0)
    exact = _run(gauss3, path, "s4", 50, 20_000, snr=0.2)
    cold = _run(gauss3, path, "s4", 50, 20_000, snr=0.2, noise_scale=0.3)
    assert torch.trace(torch.cov(cold.T)) < 0.95 * torch.trace(torch.cov(exact.T))
