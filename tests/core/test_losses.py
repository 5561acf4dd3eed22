"""DSM and flow-matching losses against closed forms with exact models."""

import math

import pytest
import torch

from scorelab import EDM, KINDS, VP, ZERO_COM, Field, Interpolant, Predictor, predict
from scorelab.losses import WEIGHTINGS, DSMLoss, FlowMatchingLoss, sample_path
from scorelab.testing import GaussianMixture
from scorelab.time_proposals import LogitNormalTime, LogNormalSigma, UniformTime

D, S0, B = 4, 0.7, 20_000
F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def isotropic(d: int = D, s0: float = S0) -> GaussianMixture:
    return GaussianMixture.gaussian(torch.zeros(d, dtype=F64), s0**2 * torch.eye(d, dtype=F64))


def data(n: int = B, d: int = D, s0: float = S0, seed: int = 1) -> torch.Tensor:
    return s0 * torch.randn(n, d, generator=gen(seed), dtype=F64)


def coefs(path, t: float):
    tt = torch.tensor(t, dtype=F64)
    return (float(f(tt)) for f in (path.alpha, path.sigma, path.dalpha, path.dsigma))


def assert_mean_close(values: torch.Tensor, expected: float, n_se: float = 4.0) -> None:
    se = float(values.std()) / math.sqrt(values.numel())
    assert se < 0.02 * abs(expected)  # the check is sharp
    assert abs(float(values.mean()) - expected) < n_se * se, (float(values.mean()), expected, se)


class Shift(torch.nn.Module):
    """An exact model plus a constant offset on its output."""

    def __init__(self, model: Predictor, delta: float) -> None:
        super().__init__()
        self.model, self.delta, self.prediction = model, delta, model.prediction

    def forward(self, x, t, **cond):
        return self.model(x, t, **cond) + self.delta


# --- DSM --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_dsm_exact_model_reaches_the_closed_form_minimum(kind):
    path, t = VP(), 0.3
    a, s, _, _ = coefs(path, t)
    expected = 1 - s * s / (a * a * S0**2 + s * s)  # E||E[eps|x_t] - eps||^2 per dim
    loss = DSMLoss(path, time_proposal=UniformTime(t, t))
    per = loss.per_sample(isotropic().predictor(path, kind), data(), generator=gen())
    assert per.shape == (B,)
    assert_mean_close(per, expected)


def test_dsm_exact_model_beats_a_perturbed_one():
    path = VP()
    exact = isotropic().predictor(path, "eps")
    loss = DSMLoss(path, weighting="edm", time_proposal=LogNormalSigma())
    x0 = data(4000)
    base = loss(exact, x0, generator=gen(5))
    for delta in (0.05, -0.1):
        assert float(loss(Shift(exact, delta), x0, generator=gen(5))) > float(base)


@pytest.mark.parametrize("path", [VP(), EDM(sigma_data=0.7)])
def test_weightings_mean_what_they_say(path):
    """likelihood = g^2 on the score MSE, edm = (s^2+sd^2)/(s sd)^2 on the x0-MSE, x0 = x0-MSE."""
    model, x0 = isotropic().predictor(path, "x0"), data(512)
    per = {w: DSMLoss(path, w).per_sample(model, x0, generator=gen(2)) for w in WEIGHTINGS.names()}
    s = sample_path(path, x0, UniformTime(), gen(2))  # the same draws as every loss above
    x0_hat, eps_hat = predict(model, s.xt, s.t, s.spec, to="x0,eps")
    sig, alp = path.sigma(s.t), path.alpha(s.t)
    score_err = (-eps_hat / sig[:, None] + s.eps / sig[:, None]).pow(2).mean(1)
    # VP: g^2 = beta(t); EDM: sigma = t, g^2 = d(sigma^2)/dt = 2t
    g2 = path.beta(s.t) if isinstance(path, VP) else 2 * s.t
    torch.testing.assert_close(per["likelihood"], g2 * score_err)
    torch.testing.assert_close(per["sigma2"], (eps_hat - s.eps).pow(2).mean(1))
    ratio = sig / alp
    sd = 0.7 if isinstance(path, EDM) else 0.5
    lam = (ratio**2 + sd**2) / (ratio * sd) ** 2
    torch.testing.assert_close(per["edm"], lam * (x0_hat - x0).pow(2).mean(1))
    torch.testing.assert_close(per["x0"], (x0_hat - x0).pow(2).mean(1))


def test_custom_weighting_callable():
    path, x0 = VP(), data(64)
    model = isotropic().predictor(path, "eps")
    half = DSMLoss(path, weighting=lambda p, t: 0.5 * torch.ones_like(t))
    full = DSMLoss(path)
    torch.testing.assert_close(
        half.per_sample(model, x0, gen(0)), 0.5 * full.per_sample(model, x0, gen(0))
    )


# --- flow matching ----------------------------------------------------------------------
@pytest.mark.parametrize("path", [Interpolant("linear"), Interpolant("trig"), VP()])
@pytest.mark.parametrize("kind", ["velocity", "x0", "eps"])
def test_flow_matching_exact_model_reaches_the_closed_form(path, kind):
    t = 0.4
    a, s, da, ds = coefs(path, t)
    # Var(u | x_t) per dim for x0 ~ N(0, S0^2 I): S0^2 (a' s - s' a)^2 / (a^2 S0^2 + s^2)
    expected = S0**2 * (da * s - ds * a) ** 2 / (a * a * S0**2 + s * s)
    loss = FlowMatchingLoss(path, time_proposal=UniformTime(t, t))
    per = loss.per_sample(isotropic().predictor(path, kind), data(), generator=gen())
    assert_mean_close(per, expected)


def test_flow_matching_target_is_eps_minus_x0_on_the_linear_path():
    path, x0 = Interpolant("linear"), data(256)
    zero = Predictor(lambda x, t: torch.zeros_like(x), "velocity")
    per = FlowMatchingLoss(path, "logit_normal").per_sample(zero, x0, generator=gen(4))
    s = sample_path(path, x0, LogitNormalTime(), gen(4))
    torch.testing.assert_close(per, (s.eps - x0).pow(2).mean(1))


def test_flow_matching_exact_model_beats_a_perturbed_one():
    path = Interpolant("linear")
    exact = isotropic().predictor(path, "velocity")
    loss = FlowMatchingLoss(path)
    x0 = data(4000)
    assert float(loss(Shift(exact, 0.05), x0, gen(6))) > float(loss(exact, x0, gen(6)))


# --- masks, geometry, structured state --------------------------------------------------
def test_padding_never_contributes():
    n, width = 4000, 10
    lengths = torch.randint(2, width + 1, (n,), generator=gen(7))
    mask = (torch.arange(width)[None] < lengths[:, None]).to(F64)
    x0 = S0 * torch.randn(n, width, generator=gen(8), dtype=F64)
    garbage = x0 + 100.0 * (1 - mask)
    zero_eps = Predictor(lambda x, t: 100.0 * (1 - mask), "eps")  # zero, garbage on padding
    per = DSMLoss(VP()).per_sample(zero_eps, garbage, generator=gen(9), mask=mask)
    # ||eps||^2 / (real entries) has mean exactly 1; dividing by all entries would give less
    assert_mean_close(per, 1.0)
    half = Predictor(
        lambda x, t: 0.5 * x, "x0"
    )  # elementwise: padding cannot leak into real entries
    loss = FlowMatchingLoss(Interpolant("linear"))
    torch.testing.assert_close(
        loss.per_sample(half, x0, gen(3), mask=mask),
        loss.per_sample(half, garbage, gen(3), mask=mask),
    )


def test_zero_com_noise_and_normalisation():
    n, nodes = 4000, 6
    real = torch.randint(3, nodes + 1, (n,), generator=gen(10))
    mask = (torch.arange(nodes)[None] < real[:, None]).to(F64)  # (B, N), broadcast to (B, N, 3)
    x0 = torch.randn(n, nodes, 3, generator=gen(11), dtype=F64)
    seen = {}

    def net(x, t):
        seen["x"] = x
        return torch.zeros_like(x)

    path = Field(VP(), ZERO_COM)
    per = DSMLoss(path).per_sample(Predictor(net, "eps"), x0, generator=gen(12), mask=mask)
    xt, m = seen["x"], mask[..., None]
    com = (xt * m).sum(1) / m.sum(1)
    assert float(com.abs().max()) < 1e-12  # x0 centred and eps CoM-free over the real nodes
    assert float((xt * (1 - m)).abs().max()) == 0.0  # padding is zero
    assert_mean_close(per, 1.0)  # normalised by (n - 1) * 3 free dims, not n * 3
    # an output that differs only along the CoM direction and on padding has the same loss
    shifted = Predictor(lambda x, t: torch.zeros_like(x) + torch.tensor([3.0, -1.0, 2.0]), "eps")
    again = DSMLoss(path).per_sample(shifted, x0, generator=gen(12), mask=mask)
    torch.testing.assert_close(again, per)


def test_structured_state_with_per_field_paths():
    """pos: CoM-free Gaussian point cloud; h: Gaussian features; one time shared by both."""
    n, nodes, feat, t = 8000, 5, 3, 0.3
    path = VP()
    a, s, _, _ = coefs(path, t)
    c_eps = s / (a * a * S0**2 + s * s)  # both fields: E[eps | x_t] = c_eps x_t on their subspace
    times = []

    def net(x, tt):
        times.append(tt)
        return {k: c_eps * v for k, v in x.items()}

    model = Predictor(net, {"pos": "eps", "h": "eps"})
    x0 = {
        "pos": ZERO_COM.project(S0 * torch.randn(n, nodes, 3, generator=gen(13), dtype=F64)),
        "h": S0 * torch.randn(n, nodes, feat, generator=gen(14), dtype=F64),
    }
    loss = DSMLoss({"pos": Field(path, ZERO_COM), "h": path}, time_proposal=UniformTime(t, t))
    per = loss.per_sample(model, x0, generator=gen(15))
    assert times[0].shape == (n,)
    assert_mean_close(per, 1 - s * s / (a * a * S0**2 + s * s))


# --- API --------------------------------------------------------------------------------
def test_loss_is_differentiable_and_scalar():
    net = torch.nn.Linear(D, D).double()
    model = Predictor(lambda x, t: net(x), "velocity")
    value = FlowMatchingLoss(Interpolant("linear"))(model, data(32), generator=gen())
    assert value.ndim == 0
    value.backward()
    assert net.weight.grad is not None and float(net.weight.grad.abs().sum()) > 0


def test_errors_name_the_problem():
    path = VP()
    with pytest.raises(ValueError, match="edm, likelihood, sigma2"):
        DSMLoss(path, weighting="snr")
    with pytest.raises(ValueError, match="logit_normal, loglogistic, lognormal, uniform"):
        FlowMatchingLoss(path, time_proposal="cosine")
    bad = data(8)
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        DSMLoss(path)(isotropic().predictor(path, "eps"), bad)
    with pytest.raises(ValueError, match="fields"):
        DSMLoss({"a": path, "b": path})(isotropic().predictor(path), {"a": data(8)})


def test_reprs_are_readable():
    r = repr(DSMLoss(EDM(), "edm", "lognormal"))
    assert r.startswith("DSMLoss(path=EDM(") and "weighting='edm'" in r
    assert "time_proposal=LogNormalSigma(p_mean=-1.2, p_std=1.2)" in r
    assert repr(FlowMatchingLoss(VP())).endswith("time_proposal=UniformTime())")
