"""Guard rails: bad input to a sampler gives an error that names the problem."""

import pytest
import torch

import scorelab as sl
from scorelab import samplers as S
from scorelab.testing import GaussianMixture

PATH = sl.VP()
TARGET = GaussianMixture.random(2, 2, seed=0)
MODEL = TARGET.predictor(PATH, "x0")
TS = S.uniform_grid(PATH, 4)


def test_nan_input_is_named():
    x = torch.randn(4, 2, dtype=torch.float64)
    x[1, 0] = float("nan")
    with pytest.raises(ValueError, match="x has 1 NaN"):
        S.sample_euler(MODEL, x, TS, PATH)


def test_unknown_sampler_lists_known_names():
    with pytest.raises(ValueError, match="unknown sampler 'rk9'.*heun"):
        S.get_sampler("rk9")


def test_unknown_predictor_in_pc():
    with pytest.raises(ValueError, match="unknown predictor 'leapfrog'"):
        S.sample_pc(MODEL, torch.randn(4, 2, dtype=torch.float64), TS, PATH, predictor="leapfrog")


def test_grid_must_decrease():
    with pytest.raises(ValueError, match="strictly decreasing"):
        S.sample_heun(MODEL, torch.randn(4, 2, dtype=torch.float64), TS.flip(0), PATH)


def test_model_without_prediction_kind():
    with pytest.raises(TypeError, match="Predictor"):
        S.sample_euler(lambda x, t: x, torch.randn(4, 2), TS, PATH)


def test_wrong_output_shape_is_named():
    bad = sl.Predictor(lambda x, t: x[:, :1], "eps")
    with pytest.raises(ValueError, match=r"shape \(4, 1\)"):
        S.sample_euler(bad, torch.randn(4, 2), TS, PATH)


def test_field_mismatch_is_named():
    x = {"x": torch.randn(3, 4), "adj": torch.randn(3, 4, 4)}
    with pytest.raises(ValueError, match="do not match path fields"):
        S.sample_euler(MODEL, x, TS, {"x": PATH, "edges": PATH})
    with pytest.raises(ValueError, match="batch size"):
        S.sample_euler(MODEL, {"x": torch.randn(3, 4), "adj": torch.randn(2, 4, 4)}, TS, PATH)


def test_bad_mask_is_named():
    with pytest.raises(ValueError, match="does not broadcast"):
        S.sample_euler(MODEL, torch.randn(4, 2), TS, PATH, mask=torch.ones(3, 2))


def test_negative_eta_and_snr():
    with pytest.raises(ValueError, match="eta"):
        S.sample_ddim(MODEL, torch.randn(4, 2), TS, PATH, eta=-1)
    with pytest.raises(ValueError, match="snr"):
        S.sample_pc(MODEL, torch.randn(4, 2), TS, PATH, snr=0)


def test_unknown_path_name():
    with pytest.raises(ValueError, match="unknown path 'cosine'.*vp"):
        sl.get_path("cosine")


def test_sampling_builds_no_autograd_graph():
    net = torch.nn.Linear(2, 2)
    model = sl.Predictor(lambda x, t: net(x), "eps")
    out = S.sample_heun(model, torch.randn(4, 2), TS, PATH)
    assert not out.requires_grad
