"""Parameterizations: exact conversions between x0, eps, score, v and velocity, and ``predict``."""

from __future__ import annotations

import pytest
import torch

from scorelab import (
    EDM,
    KINDS,
    VE,
    VP,
    Interpolant,
    Predictor,
    Spec,
    SubVP,
    convert,
    from_x0_eps,
    predict,
    to_x0_eps,
)

F64 = torch.float64

PATHS = [
    pytest.param(VP(), (0.05, 0.95), id="vp"),
    pytest.param(SubVP(), (0.05, 0.95), id="subvp"),
    pytest.param(VE(), (0.05, 0.95), id="ve"),
    pytest.param(EDM(), (0.01, 40.0), id="edm"),
    pytest.param(Interpolant("linear"), (0.05, 0.95), id="linear"),
    pytest.param(Interpolant("trig"), (0.05, 0.95), id="trig"),
    pytest.param(Interpolant("linear", gamma=0.5), (0.05, 0.95), id="linear-g0.5"),
    pytest.param(Interpolant("trig", gamma=1.0), (0.05, 0.95), id="trig-g1"),
]


def setup(path, window, shape=(6, 3, 4)):
    """x0, eps, per-sample t, x_t and every kind's exact value, from the definitions."""
    x0 = torch.randn(*shape, dtype=F64)
    eps = torch.randn(*shape, dtype=F64)
    t = torch.linspace(*window, shape[0], dtype=F64)
    col = (shape[0],) + (1,) * (len(shape) - 1)
    a, s = path.alpha(t).reshape(col), path.sigma(t).reshape(col)
    da, ds = path.dalpha(t).reshape(col), path.dsigma(t).reshape(col)
    x = a * x0 + s * eps
    truth = {
        "x0": x0,
        "eps": eps,
        "score": -eps / s,
        "v": (a * eps - s * x0) / torch.sqrt(a * a + s * s),
        "velocity": da * x0 + ds * eps,
    }
    return x, t, truth


def close(a, b, rtol=1e-10):
    torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * float(b.abs().max()))


@pytest.mark.parametrize(("path", "window"), PATHS)
@pytest.mark.parametrize("frm", KINDS)
def test_convert_maps_exact_values_to_exact_values(path, window, frm):
    x, t, truth = setup(path, window)
    for to in KINDS:
        close(convert(truth[frm], frm, to, x, t, path), truth[to])


@pytest.mark.parametrize(("path", "window"), PATHS)
@pytest.mark.parametrize("frm", KINDS)
def test_round_trips_between_all_kinds(path, window, frm):
    """convert(convert(p, a, b), b, a) == p for any p, consistent with x or not."""
    x, t, _ = setup(path, window)
    p = torch.randn_like(x)
    for to in KINDS:
        close(convert(convert(p, frm, to, x, t, path), to, frm, x, t, path), p)


@pytest.mark.parametrize(("path", "window"), PATHS)
@pytest.mark.parametrize("kind", KINDS)
def test_to_and_from_x0_eps(path, window, kind):
    x, t, truth = setup(path, window)
    x0, eps = to_x0_eps(truth[kind], kind, x, t, path)
    close(x0, truth["x0"])
    close(eps, truth["eps"])
    close(from_x0_eps(truth["x0"], truth["eps"], kind, x, t, path), truth[kind])


@pytest.mark.parametrize(("path", "window"), PATHS)
def test_score_and_velocity_consistency(path, window):
    """score = -eps / sigma and velocity = f x - g^2 / 2 score (the probability-flow ODE drift)."""
    x, t, truth = setup(path, window)
    s = path.sigma(t)[:, None, None]
    close(convert(truth["eps"], "eps", "score", x, t, path), -truth["eps"] / s)
    g2 = path.diffusion(t)[:, None, None] ** 2
    pf_drift = path.drift(x, t) - 0.5 * g2 * truth["score"]
    close(convert(truth["score"], "score", "velocity", x, t, path), pf_drift, rtol=1e-9)
    close(convert(truth["x0"], "x0", "velocity", x, t, path), pf_drift, rtol=1e-9)


def test_v_on_vp_is_salimans_ho():
    """On VP (alpha^2 + sigma^2 = 1) v = alpha eps - sigma x0, unnormalised."""
    path = VP()
    x, t, truth = setup(path, (0.05, 0.95))
    a, s = path.alpha(t)[:, None, None], path.sigma(t)[:, None, None]
    close((a * a + s * s).squeeze(), torch.ones(6, dtype=F64))
    expected = a * truth["eps"] - s * truth["x0"]
    close(convert(truth["x0"], "x0", "v", x, t, path), expected)
    close(convert(truth["eps"], "eps", "v", x, t, path), expected)
    # and x0 = alpha x - sigma v, eps = sigma x + alpha v (Salimans & Ho 2022, eq. 9)
    close(convert(expected, "v", "x0", x, t, path), a * x - s * expected)
    close(convert(expected, "v", "eps", x, t, path), s * x + a * expected)


def test_velocity_on_linear_path_is_the_rectified_flow_target():
    path = Interpolant("linear")
    x, t, truth = setup(path, (0.05, 0.95))
    close(convert(truth["x0"], "x0", "velocity", x, t, path), truth["eps"] - truth["x0"])


def test_edm_path_denoiser_and_score():
    """On EDM (alpha = 1, sigma = t): x0 = x - t eps and score = (x0 - x) / t^2 (Tweedie)."""
    path = EDM()
    x, t, truth = setup(path, (0.01, 40.0))
    s = t[:, None, None]
    close(convert(truth["eps"], "eps", "x0", x, t, path), x - s * truth["eps"])
    close(convert(truth["x0"], "x0", "score", x, t, path), (truth["x0"] - x) / s**2)


def test_same_kind_is_identity_and_float32_stays_float32():
    path = VP()
    x = torch.randn(3, 2)
    t = torch.full((3,), 0.5)
    p = torch.randn(3, 2)
    assert convert(p, "eps", "eps", x, t, path) is p
    assert convert(p, "eps", "velocity", x, t, path).dtype == torch.float32


# --- predict ----------------------------------------------------------------------------


class FixedNet(torch.nn.Module):
    """Returns fixed outputs and records the (x, t) it was called with."""

    def __init__(self, out):
        super().__init__()
        self.out, self.calls = out, []

    def forward(self, x, t, **cond):
        self.calls.append((x, t, cond))
        return self.out


@pytest.mark.parametrize("kind", KINDS)
def test_predict_single_tensor(kind):
    path = VP()
    x, t, truth = setup(path, (0.1, 0.9))
    net = FixedNet(truth[kind])
    model = Predictor(net, kind)
    spec = Spec(path, x)
    for to in KINDS:
        close(predict(model, x, t, spec, to), truth[to])
    x0, eps = predict(model, x, t, spec, "x0,eps", label=3)
    close(x0, truth["x0"])
    close(eps, truth["eps"])
    assert net.calls[-1][2] == {"label": 3}
    assert net.calls[-1][0] is x


def test_predict_scalar_time_is_broadcast_to_the_batch():
    path = EDM()
    x = torch.randn(4, 5, dtype=F64)
    net = FixedNet(torch.zeros_like(x))
    predict(Predictor(net, "eps"), x, 2.0, Spec(path, x), "x0")
    t = net.calls[0][1]
    assert t.shape == (4,) and t.dtype == F64
    torch.testing.assert_close(t, torch.full((4,), 2.0, dtype=F64))


def test_predict_dict_state_with_per_field_kinds():
    paths = {"pos": VP(), "h": Interpolant("linear", gamma=0.5)}
    xa, ta, ya = setup(paths["pos"], (0.2, 0.8), (5, 4, 3))
    # field "h" at the same times, predicted as a velocity
    x0b, epsb = torch.randn(5, 7, dtype=F64), torch.randn(5, 7, dtype=F64)
    pb = paths["h"]
    xb = pb.alpha(ta)[:, None] * x0b + pb.sigma(ta)[:, None] * epsb
    velb = pb.dalpha(ta)[:, None] * x0b + pb.dsigma(ta)[:, None] * epsb
    x = {"pos": xa, "h": xb}
    model = Predictor(FixedNet({"pos": ya["eps"], "h": velb}), {"pos": "eps", "h": "velocity"})
    spec = Spec(paths, x)
    out = predict(model, x, ta, spec, "x0")
    assert set(out) == {"pos", "h"}
    close(out["pos"], ya["x0"])
    close(out["h"], x0b)
    x0, eps = predict(model, x, ta, spec, "x0,eps")
    close(x0["h"], x0b)
    close(eps["h"], epsb)
    close(eps["pos"], ya["eps"])


def test_unknown_kind_raises():
    x, t = torch.randn(2, 3), torch.full((2,), 0.5)
    with pytest.raises(ValueError, match="unknown prediction kind 'noise'"):
        Predictor(FixedNet(x), "noise")
    with pytest.raises(ValueError, match="known: x0, eps, score, v, velocity"):
        Predictor(FixedNet(x), {"a": "eps", "b": "noise"})
    with pytest.raises(ValueError, match="unknown prediction kind"):
        convert(x, "eps", "flow", x, t, VP())
    with pytest.raises(ValueError, match="unknown prediction kind"):
        convert(x, "flow", "flow", x, t, VP())
    with pytest.raises(ValueError, match="unknown prediction kind"):
        to_x0_eps(x, "flow", x, t, VP())
    with pytest.raises(ValueError, match="unknown prediction kind"):
        predict(Predictor(FixedNet(x), "eps"), x, t, Spec(VP(), x), "flow")


def test_model_without_prediction_attribute_raises():
    x = torch.randn(2, 3)
    with pytest.raises(TypeError, match="prediction"):
        predict(FixedNet(x), x, 0.5, Spec(VP(), x), "x0")


def test_model_output_of_wrong_shape_raises():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        predict(Predictor(FixedNet(torch.randn(2, 4)), "eps"), x, 0.5, Spec(VP(), x), "x0")
    xd = {"pos": torch.randn(2, 3, 3), "h": torch.randn(2, 5)}
    bad = {"pos": torch.randn(2, 3, 3), "h": torch.randn(2, 6)}
    model = Predictor(FixedNet(bad), "eps")
    with pytest.raises(ValueError, match="'h'"):
        predict(model, xd, 0.5, Spec(VP(), xd), "x0")


def test_model_output_of_wrong_structure_raises():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="structure"):
        predict(Predictor(FixedNet({"x": x}), "eps"), x, 0.5, Spec(VP(), x), "x0")
    xd = {"pos": torch.randn(2, 3)}
    with pytest.raises(ValueError, match="structure"):
        predict(Predictor(FixedNet(x), "eps"), xd, 0.5, Spec(VP(), xd), "x0")


def test_per_field_kinds_missing_a_field_raises():
    xd = {"pos": torch.randn(2, 3), "h": torch.randn(2, 4)}
    model = Predictor(FixedNet(dict(xd)), {"pos": "eps"})
    with pytest.raises(ValueError, match="'h'"):
        predict(model, xd, 0.5, Spec(VP(), xd), "x0")


def test_time_of_wrong_shape_raises():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        predict(Predictor(FixedNet(x), "eps"), x, torch.ones(2), Spec(VP(), x), "x0")


def test_kinds():
    assert KINDS == ("x0", "eps", "score", "v", "velocity")
