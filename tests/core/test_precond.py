"""EDM preconditioning (Karras et al. 2022, Table 1) on EDM's path and on other paths."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab import (
    EDM,
    VE,
    VP,
    EDMPrecond,
    Interpolant,
    Predictor,
    Spec,
    edm_coefficients,
    predict,
)
from scorelab.testing import GaussianMixture

F64 = torch.float64
SIGMAS = torch.tensor([0.002, 0.1, 0.5, 1.0, 3.0, 80.0], dtype=F64)


def table1(sigma: float, sd: float) -> tuple[float, float, float, float]:
    """c_skip, c_out, c_in, c_noise of EDM Table 1, written out in plain floats."""
    return (
        sd**2 / (sigma**2 + sd**2),
        sigma * sd / math.sqrt(sd**2 + sigma**2),
        1 / math.sqrt(sigma**2 + sd**2),
        0.25 * math.log(sigma),
    )


@pytest.mark.parametrize("sd", [0.5, 1.0])
def test_edm_coefficients_match_table1(sd):
    c = edm_coefficients(SIGMAS, sd)
    for i, s in enumerate(SIGMAS.tolist()):
        ref = table1(s, sd)
        got = (c.c_skip[i], c.c_out[i], c.c_in[i], c.c_noise[i])
        for name, g, r in zip(("c_skip", "c_out", "c_in", "c_noise"), got, ref):
            assert float(g) == pytest.approx(r, rel=1e-12, abs=1e-15), (name, s)
        assert c.c_skip.shape == SIGMAS.shape


def test_edm_coefficients_known_values():
    c = edm_coefficients(torch.tensor([0.5, 1.0], dtype=F64), 0.5)
    torch.testing.assert_close(c.c_skip, torch.tensor([0.5, 0.2], dtype=F64))
    torch.testing.assert_close(c.c_out, torch.tensor([0.5**0.5 / 2, 0.5 / 1.25**0.5], dtype=F64))
    torch.testing.assert_close(c.c_in, torch.tensor([2**0.5, 1 / 1.25**0.5], dtype=F64))
    torch.testing.assert_close(c.c_noise, torch.tensor([math.log(0.5) / 4, 0.0], dtype=F64))


def test_edm_coefficients_design_identities():
    """Unit input variance c_in^2 (s^2 + sd^2) = 1 and c_skip + c_out^2 / sd^2 = 1."""
    sd = 0.5
    c = edm_coefficients(SIGMAS, sd)
    torch.testing.assert_close(c.c_in**2 * (SIGMAS**2 + sd**2), torch.ones_like(SIGMAS))
    torch.testing.assert_close(c.c_skip + c.c_out**2 / sd**2, torch.ones_like(SIGMAS))


class KnownNet(torch.nn.Module):
    """F(x_in, c_noise) = sin(x_in) + c_noise * x_in^2; records its inputs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x_in, c_noise, **cond):
        self.calls.append((x_in, c_noise, cond))
        return torch.sin(x_in) + c_noise.reshape(-1, *([1] * (x_in.ndim - 1))) * x_in**2


def test_edm_precond_on_edm_path():
    sd = 0.5
    net = KnownNet()
    pre = EDMPrecond(net, EDM(sigma_data=sd), sigma_data=sd)
    assert pre.prediction == "x0"
    x = torch.randn(len(SIGMAS), 3, 4, dtype=F64) * SIGMAS[:, None, None]
    out = pre(x, SIGMAS, label=7)
    for i, s in enumerate(SIGMAS.tolist()):
        c_skip, c_out, c_in, c_noise = table1(s, sd)
        x_in = c_in * x[i]
        expected = c_skip * x[i] + c_out * (torch.sin(x_in) + c_noise * x_in**2)
        torch.testing.assert_close(out[i], expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(net.calls[0][0][i], x_in)
        assert float(net.calls[0][1][i]) == pytest.approx(c_noise, rel=1e-12, abs=1e-15)
    assert net.calls[0][1].shape == (len(SIGMAS),)
    assert net.calls[0][2] == {"label": 7}


@pytest.mark.parametrize(
    "path", [VP(), VE(), Interpolant("trig", gamma=1.0), Interpolant("linear")], ids=repr
)
def test_edm_precond_on_other_paths_is_the_ve_equivalent(path):
    """On (alpha, sigma) the wrapper is EDM's applied to x / alpha at noise level sigma / alpha."""
    sd = 0.5
    t = torch.linspace(0.05, 0.9, 5, dtype=F64)
    x = torch.randn(5, 2, 3, dtype=F64)
    a, s = path.alpha(t), path.sigma(t)
    got = EDMPrecond(KnownNet(), path, sd)(x, t)
    ve_equiv = EDMPrecond(KnownNet(), EDM(), sd)(x / a[:, None, None], s / a)
    torch.testing.assert_close(got, ve_equiv, rtol=1e-12, atol=1e-12)
    for i in range(5):
        c_skip, c_out, c_in, c_noise = table1(float(s[i] / a[i]), sd)
        xs = x[i] / a[i]
        expected = c_skip * xs + c_out * (torch.sin(c_in * xs) + c_noise * (c_in * xs) ** 2)
        torch.testing.assert_close(got[i], expected, rtol=1e-11, atol=1e-11)


def _standardised_mixture(sd: float) -> GaussianMixture:
    """Two-component 2-D mixture with mean 0 and per-coordinate std ``sd``."""
    m = 0.8 * sd
    var = sd**2 - m**2
    means = torch.tensor([[m, m], [-m, -m]], dtype=F64)
    covs = var * torch.eye(2, dtype=F64).expand(2, 2, 2)
    return GaussianMixture(torch.tensor([0.5, 0.5], dtype=F64), means, covs)


def test_mixture_is_standardised():
    gm = _standardised_mixture(0.5)
    torch.testing.assert_close(gm.mean(), torch.zeros(2, dtype=F64))
    torch.testing.assert_close(gm.cov().diagonal(), torch.full((2,), 0.25, dtype=F64))


@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0, 20.0])
def test_training_target_has_unit_variance_and_exact_denoiser_is_its_projection(sigma):
    """EDM's design: with data of std sigma_data, F = (x0 - c_skip x) / c_out has unit variance.

    The exact denoiser D* = E[x0 | x] gives F* = (D* - c_skip x) / c_out = E[F | x], so F - F*
    is orthogonal to F* and E[F*^2] <= E[F^2] = 1.
    """
    sd, n = 0.5, 40_000
    gm, path = _standardised_mixture(sd), EDM(sigma_data=sd)
    gen = torch.Generator().manual_seed(11)
    x0 = gm.sample(n, generator=gen)
    x = x0 + sigma * torch.randn(n, 2, generator=gen, dtype=F64)
    c_skip, c_out, _, _ = table1(sigma, sd)
    f = (x0 - c_skip * x) / c_out
    assert torch.all((f.var(0) - 1).abs() < 0.05), f.var(0)
    f_star = (gm.x0(x, sigma, path) - c_skip * x) / c_out
    assert float((f_star**2).mean()) < float((f**2).mean()) + 0.02
    inner = ((f - f_star) * f_star).sum(1)
    assert abs(float(inner.mean())) < 5 * float(inner.std()) / math.sqrt(n)


def test_gaussian_data_exact_denoiser_is_c_skip_x():
    """For data N(0, sd^2 I) the Wiener filter is D*(x) = c_skip x: the F target is zero."""
    sd = 0.5
    gm = GaussianMixture.gaussian(torch.zeros(3, dtype=F64), sd**2 * torch.eye(3, dtype=F64))
    x = torch.randn(len(SIGMAS), 3, dtype=F64)
    c = edm_coefficients(SIGMAS, sd)
    torch.testing.assert_close(gm.x0(x, SIGMAS, EDM()), c.c_skip[:, None] * x)


@pytest.mark.parametrize("path", [EDM(), VP(), Interpolant("linear", gamma=0.5)], ids=repr)
def test_precond_around_exact_f_reproduces_the_exact_denoiser(path):
    """A net returning the exact F* = (D* - c_skip x) / c_out for EDM's (x, sigma) makes
    EDMPrecond on ``path`` return E[x0 | x_t] on that path (so the VP -> VE map is right)."""
    sd = 0.5
    gm = _standardised_mixture(sd)

    def exact_f(x_in, c_noise):
        s = torch.exp(4 * c_noise)  # invert c_noise = log(s) / 4
        c = edm_coefficients(s, sd)
        x = x_in / c.c_in[:, None]
        return (gm.x0(x, s, EDM()) - c.c_skip[:, None] * x) / c.c_out[:, None]

    pre = EDMPrecond(exact_f, path, sd)
    window = (0.02, 30.0) if isinstance(path, EDM) else (0.05, 0.9)
    t = torch.linspace(*window, 7, dtype=F64)
    x = torch.randn(7, 2, dtype=F64)
    torch.testing.assert_close(pre(x, t), gm.x0(x, t, path), rtol=1e-9, atol=1e-9)
    # and through predict, as a Predictor of kind x0, converted to eps
    spec = Spec(path, x)
    eps = predict(pre, x, t, spec, "eps")
    ref = gm.predictor(path, "eps")(x, t)
    torch.testing.assert_close(eps, ref, rtol=1e-7, atol=1e-7)
    assert isinstance(gm.predictor(path, "eps"), Predictor)
