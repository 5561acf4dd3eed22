"""Gaussian paths: schedules, derivatives, log-SNR inverses, SDE coefficients and marginals.

Every check is against something the path does not compute itself: finite differences,
the closed forms of Song et al. (2021) and Karras et al. (2022), or a Monte-Carlo run of
the forward SDE dx = f x dt + g dW.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from scorelab import EDM, VE, VP, GaussianPath, Interpolant, MeanReverting, SubVP, get_path
from scorelab.paths import PATHS

F64 = torch.float64


@dataclass
class Case:
    """A path and the time window in which its checks run (t_lo..t_hi inside (t_min, t_max))."""

    path: GaussianPath
    t_lo: float
    t_hi: float
    t_start: float  # Monte-Carlo start (exact marginal there)
    t_end: float  # Monte-Carlo end

    def times(self, n: int = 11) -> torch.Tensor:
        if isinstance(self.path, EDM):  # sigma spans decades: log-spaced
            return torch.logspace(math.log10(self.t_lo), math.log10(self.t_hi), n, dtype=F64)
        return torch.linspace(self.t_lo, self.t_hi, n, dtype=F64)


CASES = [
    pytest.param(Case(VP(), 0.01, 0.99, 1e-3, 1.0), id="vp"),
    pytest.param(Case(SubVP(), 0.01, 0.99, 1e-3, 1.0), id="subvp"),
    pytest.param(Case(VE(), 0.01, 0.99, 1e-5, 1.0), id="ve"),
    pytest.param(Case(EDM(), 0.01, 50.0, 0.002, 3.0), id="edm"),
    pytest.param(Case(Interpolant("linear"), 0.01, 0.95, 1e-3, 0.9), id="linear"),
    pytest.param(Case(Interpolant("trig"), 0.01, 0.95, 1e-3, 0.9), id="trig"),
    pytest.param(Case(Interpolant("linear", gamma=0.5), 0.01, 0.95, 1e-3, 0.9), id="linear-g0.5"),
    pytest.param(Case(Interpolant("trig", gamma=1.0), 0.01, 0.95, 1e-3, 0.9), id="trig-g1"),
]


def central_diff(fn, t: torch.Tensor) -> torch.Tensor:
    """Fourth-order central difference of ``fn`` at ``t`` (float64)."""
    h = 1e-4 * torch.clamp(t, min=1.0)
    return (-fn(t + 2 * h) + 8 * fn(t + h) - 8 * fn(t - h) + fn(t - 2 * h)) / (12 * h)


# --- schedules and derivatives ----------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_derivatives_match_finite_differences(case: Case):
    p, t = case.path, case.times()
    torch.testing.assert_close(p.dalpha(t), central_diff(p.alpha, t), rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(p.dsigma(t), central_diff(p.sigma, t), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_methods_keep_shape_and_dtype(case: Case):
    p = case.path
    t = case.times(6).reshape(2, 3)
    for fn in (p.alpha, p.sigma, p.dalpha, p.dsigma, p.log_snr, p.drift_coef, p.diffusion):
        out = fn(t)
        assert out.shape == t.shape and out.dtype == F64, fn.__name__
    t32 = t.float()
    assert p.sigma(t32).dtype == torch.float32


def test_published_marginals():
    """alpha, sigma in closed form (Song et al. 2021 eq. 29/33; EDM sigma(t) = t; interpolants)."""
    t = torch.linspace(0.01, 0.99, 13, dtype=F64)
    b0, b1 = 0.1, 20.0
    int_beta = b0 * t + 0.5 * (b1 - b0) * t**2
    vp_alpha = torch.exp(-0.25 * t**2 * (b1 - b0) - 0.5 * t * b0)
    vp, sub = VP(b0, b1), SubVP(b0, b1)
    torch.testing.assert_close(vp.alpha(t), vp_alpha, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        vp.sigma(t), torch.sqrt(1 - torch.exp(-int_beta)), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(sub.alpha(t), vp_alpha, rtol=1e-12, atol=0)
    torch.testing.assert_close(sub.sigma(t), 1 - torch.exp(-int_beta), rtol=1e-12, atol=0)

    ve = VE(0.01, 50.0)
    torch.testing.assert_close(ve.sigma(t), 0.01 * 5000.0**t, rtol=1e-12, atol=0)
    torch.testing.assert_close(ve.alpha(t), torch.ones_like(t))
    edm = EDM()
    torch.testing.assert_close(edm.sigma(t), t)
    torch.testing.assert_close(edm.alpha(t), torch.ones_like(t))

    h = math.pi / 2
    for kind, a, b in (("linear", 1 - t, t), ("trig", torch.cos(h * t), torch.sin(h * t))):
        for gamma in (0.0, 0.5, 1.0):
            p = Interpolant(kind, gamma=gamma)
            torch.testing.assert_close(p.alpha(t), a, rtol=1e-12, atol=1e-15)
            s = torch.sqrt(b**2 + gamma * t * (1 - t))
            torch.testing.assert_close(p.sigma(t), s, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_prior_std_is_sigma_at_t_max(case: Case):
    p = case.path
    t_max = torch.tensor(p.t_max, dtype=F64)
    assert p.prior_std() == pytest.approx(float(p.sigma(t_max)), rel=1e-4)
    # the data has (almost) left: alpha / sigma is small at t_max
    assert float(p.alpha(t_max) / p.sigma(t_max)) < 0.05


# --- log-SNR ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_log_snr_is_log_alpha_over_sigma_and_decreasing(case: Case):
    p, t = case.path, case.times(41)
    lam = p.log_snr(t)
    torch.testing.assert_close(lam, torch.log(p.alpha(t) / p.sigma(t)), rtol=1e-10, atol=1e-10)
    assert (lam.diff() < 0).all()


@pytest.mark.parametrize("case", CASES)
def test_t_from_log_snr_inverts_log_snr(case: Case):
    p, t = case.path, case.times(23)
    back = p.t_from_log_snr(p.log_snr(t))
    assert back.dtype == F64
    torch.testing.assert_close(back, t, rtol=1e-8, atol=1e-8)
    # and the other way round, on log-SNRs the path reaches
    lam = p.log_snr(t)
    torch.testing.assert_close(p.log_snr(p.t_from_log_snr(lam)), lam, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_t_from_sigma_ratio(case: Case):
    p, t = case.path, case.times(9)
    ratio = p.sigma(t) / p.alpha(t)
    torch.testing.assert_close(p.t_from_sigma_ratio(ratio), t, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(p.noise_level(t), ratio)


def test_noise_level_is_infinite_where_the_signal_is_gone():
    for kind in ("linear", "trig"):  # alpha(1) = 0 and cos(pi/2) = 6e-17
        assert math.isinf(float(Interpolant(kind).noise_level(1.0)))
    assert float(VP().noise_level(0.5)) == pytest.approx(
        float(VP().sigma(torch.tensor(0.5)) / VP().alpha(torch.tensor(0.5)))
    )


# --- SDE coefficients -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_drift_coef_and_diffusion_by_finite_differences(case: Case):
    """f = d log alpha / dt and g^2 = d sigma^2 / dt - 2 f sigma^2, from finite differences."""
    p, t = case.path, case.times()
    f = central_diff(lambda u: torch.log(p.alpha(u)), t)
    torch.testing.assert_close(p.drift_coef(t), f, rtol=1e-7, atol=1e-9)
    g2 = central_diff(lambda u: p.sigma(u) ** 2, t) - 2 * f * p.sigma(t) ** 2
    torch.testing.assert_close(p.diffusion(t) ** 2, g2, rtol=1e-6, atol=1e-9)


def _vp_beta(t):
    return 0.1 + t * (20.0 - 0.1)


def _vp_int_beta(t):
    return 0.1 * t + 0.5 * (20.0 - 0.1) * t**2


G2_CLOSED_FORMS = [
    # Song et al. (2021), eq. (11), (12) and the VE SDE of sec. 3.4 / app. C
    pytest.param(VP(), lambda t: _vp_beta(t), id="vp: beta"),
    pytest.param(
        SubVP(), lambda t: _vp_beta(t) * (1 - torch.exp(-2 * _vp_int_beta(t))), id="subvp"
    ),
    pytest.param(VE(0.01, 50.0), lambda t: (0.01 * 5000.0**t) ** 2 * 2 * math.log(5000.0), id="ve"),
    # EDM: sigma(t) = t, s(t) = 1  =>  g = sqrt(2 sigma' sigma) = sqrt(2 t)  (Karras et al. eq. 6)
    pytest.param(EDM(), lambda t: 2 * t, id="edm: 2t"),
    # derived by hand from g^2 = (sigma^2)' - 2 f sigma^2 for the gamma = 0 interpolants
    pytest.param(Interpolant("linear"), lambda t: 2 * t / (1 - t), id="linear: 2t/(1-t)"),
    pytest.param(
        Interpolant("trig"), lambda t: math.pi * torch.tan(math.pi * t / 2), id="trig: pi tan"
    ),
]


@pytest.mark.parametrize(("path", "g2"), G2_CLOSED_FORMS)
def test_diffusion_closed_forms(path: GaussianPath, g2):
    t = torch.linspace(0.02, 0.95, 17, dtype=F64)
    if isinstance(path, EDM):
        t = t * 40
    torch.testing.assert_close(path.diffusion(t) ** 2, g2(t), rtol=1e-10, atol=1e-12)


def test_vp_drift_is_minus_half_beta():
    p, t = VP(), torch.linspace(0.01, 1.0, 9, dtype=F64)
    torch.testing.assert_close(p.drift_coef(t), -0.5 * _vp_beta(t), rtol=1e-12, atol=0)
    torch.testing.assert_close(SubVP().drift_coef(t), -0.5 * _vp_beta(t), rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_drift_and_marginal_broadcast_per_sample_time(case: Case):
    p = case.path
    t = case.times(4)
    x0 = torch.randn(4, 2, 3, 5, dtype=F64)
    noise = torch.randn_like(x0)
    xt = p.marginal(x0, t, noise)
    for i in range(4):
        ti = t[i]
        torch.testing.assert_close(xt[i], p.alpha(ti) * x0[i] + p.sigma(ti) * noise[i])
        torch.testing.assert_close(p.drift(x0, t)[i], p.drift_coef(ti) * x0[i])


@pytest.mark.parametrize("case", CASES)
def test_transition_composes_with_marginals(case: Case):
    """alpha_t = a alpha_s and sigma_t^2 = a^2 sigma_s^2 + v: x_t | x_s chains x_s | x_0."""
    p = case.path
    s, t = case.times(5)[1:3], case.times(5)[2:4]
    a, v = p.transition(t, s)
    torch.testing.assert_close(a * p.alpha(s), p.alpha(t))
    torch.testing.assert_close(a * a * p.sigma(s) ** 2 + v, p.sigma(t) ** 2)
    assert (v > 0).all()


# --- the forward SDE against its marginals (Monte Carlo) --------------------------------


def euler_maruyama(
    path: GaussianPath,
    x: torch.Tensor,
    grid: torch.Tensor,
    gen: torch.Generator,
    chunk: int = 250,
    noise_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Euler-Maruyama for dx = f(t) x dt + g(t) dW on ``grid`` (coefficients at step midpoints).

    The step x_{k+1} = (1 + f_k dt_k) x_k + g_k sqrt(dt_k) z_k is linear, so a chunk of steps
    is applied at once: x_end = prod_k c_k x_start + sum_k (prod_{j>k} c_j) g_k sqrt(dt_k) z_k
    with c_k = 1 + f_k dt_k. Same random variable as the step-by-step loop, far fewer ops.
    The increments z_k are drawn in ``noise_dtype`` (float32 is 4x cheaper to draw and far
    more precise than Monte Carlo needs); the state stays in ``x``'s dtype.
    """
    mid, dt = 0.5 * (grid[1:] + grid[:-1]), grid.diff()
    c = 1 + path.drift_coef(mid) * dt
    w = path.diffusion(mid) * dt.sqrt()
    for i in range(0, len(dt), chunk):
        ck, wk = c[i : i + chunk], w[i : i + chunk]
        after = torch.flip(torch.cumprod(torch.flip(ck, [0]), 0), [0])  # prod_{j >= k}
        after = torch.cat([after[1:], after.new_ones(1)])  # prod_{j > k}
        z = torch.randn(len(ck), *x.shape, generator=gen, dtype=noise_dtype)
        x = ck.prod() * x + torch.einsum("k,k...->...", (after * wk).to(noise_dtype), z).to(x)
    return x


def test_euler_maruyama_helper_matches_the_step_loop():
    p = VP()
    grid = torch.linspace(0.1, 0.9, 601, dtype=F64)
    x = torch.randn(7, 2, dtype=F64)
    fast = euler_maruyama(p, x, grid, torch.Generator().manual_seed(3), 250, noise_dtype=F64)
    gen = torch.Generator().manual_seed(3)
    slow = x.clone()
    zs = [torch.randn(len(c), 7, 2, generator=gen, dtype=F64) for c in grid.diff().split(250)]
    for k, (t0, t1) in enumerate(zip(grid[:-1], grid[1:])):
        tm, dt = 0.5 * (t0 + t1), t1 - t0
        z = zs[k // 250][k % 250]
        slow = slow + p.drift_coef(tm) * slow * dt + p.diffusion(tm) * dt.sqrt() * z
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_forward_sde_reproduces_marginals_and_transition(case: Case):
    """Simulate the forward SDE from the exact marginal at t_start; compare mean/std at t_mid and
    t_end with (alpha x0, sigma), and the regression of x_end on x_mid with ``transition``."""
    p = case.path
    n, steps = 20_000, 1000
    gen = torch.Generator().manual_seed(1234)
    x0 = torch.tensor([1.5, -0.7], dtype=F64)
    t0, t1 = case.t_start, case.t_end
    t_mid = 0.5 * (t0 + t1)
    tt = torch.tensor([t0, t_mid, t1], dtype=F64)
    alpha, sigma = p.alpha(tt), p.sigma(tt)
    x = alpha[0] * x0 + sigma[0] * torch.randn(n, 2, generator=gen, dtype=F64)
    half = steps // 2
    x_mid = euler_maruyama(p, x, torch.linspace(t0, t_mid, half + 1, dtype=F64), gen)
    x_end = euler_maruyama(p, x_mid, torch.linspace(t_mid, t1, half + 1, dtype=F64), gen)

    z = 4.5  # standard errors; Euler bias at 2000 steps is far below one
    for xt, a, s in ((x_mid, alpha[1], sigma[1]), (x_end, alpha[2], sigma[2])):
        mean, std = xt.mean(0), xt.std(0)
        assert torch.all((mean - a * x0).abs() < z * s / math.sqrt(n)), (mean, a * x0)
        assert torch.all((std / s - 1).abs() < z / math.sqrt(2 * n)), (std, s)
        corr = torch.corrcoef(xt.T)[0, 1]
        assert abs(float(corr)) < z / math.sqrt(n)

    # x_end | x_mid = a x_mid + sqrt(v) z: least-squares slope and residual std per coordinate
    a, v = p.transition(tt[2], tt[1])
    dm, de = x_mid - x_mid.mean(0), x_end - x_end.mean(0)
    slope = (dm * de).sum(0) / (dm * dm).sum(0)
    resid = de - slope * dm
    slope_se = v.sqrt() / (math.sqrt(n) * dm.std(0))
    assert torch.all((slope - a).abs() < z * slope_se), (slope, a)
    assert torch.all((resid.std(0) / v.sqrt() - 1).abs() < z / math.sqrt(2 * n)), (resid.std(0), v)


# --- prior ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_prior_sample_has_prior_std(case: Case):
    p = case.path
    gen = torch.Generator().manual_seed(5)
    x = p.prior_sample((4000, 3, 4), generator=gen, dtype=F64)
    assert x.shape == (4000, 3, 4) and x.dtype == F64
    n = x.numel()
    assert abs(float(x.std()) / p.prior_std() - 1) < 5 / math.sqrt(2 * n)
    assert abs(float(x.mean())) / p.prior_std() < 5 / math.sqrt(n)
    again = p.prior_sample((4000, 3, 4), generator=torch.Generator().manual_seed(5), dtype=F64)
    torch.testing.assert_close(x, again, rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_prior_logp_matches_torch_normal(case: Case):
    p = case.path
    x = p.prior_std() * torch.randn(6, 3, 2, dtype=F64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=F64), p.prior_std())
    ref = normal.log_prob(x).flatten(1).sum(1)
    got = p.prior_logp(x)
    assert got.shape == (6,)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-10)

    # fewer free dims: x is zero on the left-out ones, the normaliser counts only the free ones
    x[:, 2] = 0
    ref4 = normal.log_prob(x[:, :2]).flatten(1).sum(1)
    torch.testing.assert_close(p.prior_logp(x, dims=4), ref4, rtol=1e-12, atol=1e-10)
    dims = torch.tensor([4, 4, 4, 4, 4, 4])
    torch.testing.assert_close(p.prior_logp(x, dims=dims), ref4, rtol=1e-12, atol=1e-10)


# --- registry and constructors ----------------------------------------------------------


def test_get_path_names_and_kwargs():
    assert PATHS.names() == ["edm", "linear", "mean_reverting", "subvp", "trig", "ve", "vp"]
    pairs = (("vp", VP), ("subvp", SubVP), ("ve", VE), ("edm", EDM))
    for name, cls in pairs + (("mean_reverting", MeanReverting),):
        assert type(get_path(name)) is cls
    assert get_path("vp", beta_max=10.0).beta_max == 10.0
    lin = get_path("linear", gamma=0.5)
    assert isinstance(lin, Interpolant) and lin.kind == "linear" and lin.gamma == 0.5
    trig = get_path("trig")
    assert trig.kind == "trig" and trig.gamma == 0.0
    assert "beta_max=10.0" in repr(get_path("vp", beta_max=10.0))
    assert get_path("mean_reverting", lambda_=0.5).prior_std() == 0.5


def test_get_path_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown path 'cosine'") as err:
        get_path("cosine")
    for name in ("edm", "linear", "subvp", "trig", "ve", "vp"):
        assert name in str(err.value)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: VP(beta_min=1.0, beta_max=0.5), id="vp-beta-order"),
        pytest.param(lambda: VP(beta_min=-0.1), id="vp-negative-beta"),
        pytest.param(lambda: SubVP(beta_min=2.0, beta_max=2.0), id="subvp-equal-betas"),
        pytest.param(lambda: VE(sigma_min=0.0), id="ve-zero-sigma"),
        pytest.param(lambda: VE(sigma_min=5.0, sigma_max=1.0), id="ve-sigma-order"),
        pytest.param(lambda: EDM(sigma_min=-1.0), id="edm-negative-sigma"),
        pytest.param(lambda: EDM(sigma_min=80.0, sigma_max=1.0), id="edm-sigma-order"),
        pytest.param(lambda: Interpolant("cosine"), id="interpolant-kind"),
        pytest.param(lambda: Interpolant("linear", gamma=-0.1), id="interpolant-gamma"),
        pytest.param(lambda: get_path("trig", gamma=-1.0), id="registry-forwards-kwargs"),
    ],
)
def test_invalid_constructor_arguments_raise(make):
    with pytest.raises(ValueError):
        make()
