import math

import pytest
import torch

import scorelab as sl
from scorelab import samplers as S

from .conftest import PATHS


@pytest.mark.parametrize("grid", ["uniform", "karras", "log_snr"])
@pytest.mark.parametrize("name", list(PATHS))
def test_grid_shape_order_endpoints(grid, name):
    path = PATHS[name]
    ts = S.get_grid(grid, path, 17)
    assert ts.shape == (18,)
    assert ts[0] == path.t_max and ts[-1] == path.t_min
    assert bool((ts[1:] < ts[:-1]).all())


def test_karras_grid_is_edms_rho_schedule():
    path = sl.EDM()
    n, rho = 10, 7.0
    i = torch.arange(n + 1, dtype=torch.float64)
    smax, smin = path.sigma_max, path.sigma_min
    ref = (smax ** (1 / rho) + i / n * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    torch.testing.assert_close(S.karras_grid(path, n, rho=rho), ref, rtol=1e-10, atol=1e-12)


def test_karras_grid_on_vp_matches_noise_levels():
    path = sl.VP()
    ts = S.karras_grid(path, 8)
    ratio = path.sigma(ts) / path.alpha(ts)
    rho = 7.0
    lo, hi = ratio[-1] ** (1 / rho), ratio[0] ** (1 / rho)
    torch.testing.assert_close(ratio ** (1 / rho), torch.linspace(hi, lo, 9, dtype=ts.dtype))


@pytest.mark.parametrize("name", ["vp", "ve", "edm", "subvp"])
def test_log_snr_grid_is_uniform_in_log_snr(name):
    path = PATHS[name]
    lam = path.log_snr(S.log_snr_grid(path, 12))
    d = lam[1:] - lam[:-1]
    torch.testing.assert_close(d, d.mean().expand_as(d), rtol=1e-6, atol=1e-8)


def test_karras_on_flow_path_keeps_exact_endpoints():
    path = sl.Interpolant("linear")
    ts = S.karras_grid(path, 5)
    assert ts[0] == 1.0 and ts[-1] == 0.0
    # first interior point has EDM's sigma_max noise level
    assert math.isclose(float(path.sigma(ts[1]) / path.alpha(ts[1])), 80.0, rel_tol=1e-6)


def test_grid_errors():
    with pytest.raises(ValueError, match="steps"):
        S.uniform_grid(sl.VP(), 0)
    with pytest.raises(ValueError, match="t_min < t_max"):
        S.uniform_grid(sl.VP(), 5, t_min=0.5, t_max=0.5)
    with pytest.raises(ValueError, match="unknown time grid 'cosine'"):
        S.get_grid("cosine", sl.VP(), 5)
