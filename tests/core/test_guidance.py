"""Composed targets (annealing, product of experts, CFG): exact combinations of predictions."""

import pytest
import torch

import scorelab as sl
from scorelab.guidance import Annealed, ClassifierFreeGuidance, ProductOfExperts
from scorelab.parameterization import convert
from scorelab.samplers import CountNFE, sample_euler_maruyama, uniform_grid
from scorelab.testing import GaussianMixture

F64 = torch.float64
PATH = sl.VP()
G1 = GaussianMixture.random(3, 2, seed=0)
G2 = GaussianMixture.random(3, 3, seed=1)


class CondNet(torch.nn.Module):
    """x0 model of p(x | cond): cond 1 -> G2, cond 0 (the null label) -> G1."""

    def forward(self, x, t, cond):
        c = torch.as_tensor(cond).expand(x.shape[0])[:, None]
        return torch.where(c == 1, G2.x0(x, t, PATH), G1.x0(x, t, PATH))


def _xt(b: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, generator=g, dtype=F64)
    return x, 0.05 + 0.9 * torch.rand(b, generator=g, dtype=F64)


def _eps(model, x, t, **cond):
    return convert(model(x, t, **cond), model.prediction, "eps", x, t, PATH)


def test_cfg_weight_0_and_1_reproduce_uncond_and_cond_exactly():
    x, t = _xt()
    model = sl.Predictor(CondNet(), "x0")
    ones = torch.ones(5, dtype=torch.long)
    uncond, cond = _eps(model, x, t, cond=0 * ones), _eps(model, x, t, cond=ones)
    null = torch.tensor(0)
    assert torch.equal(ClassifierFreeGuidance(model, PATH, 0.0, null=null)(x, t, cond=ones), uncond)
    assert torch.equal(ClassifierFreeGuidance(model, PATH, 1.0, null=null)(x, t, cond=ones), cond)
    # an eps model: its raw outputs come back bit for bit
    eps_model = sl.Predictor(lambda x, t, cond=None: x * (1.0 if cond is None else 2.0), "eps")
    assert torch.equal(ClassifierFreeGuidance(eps_model, PATH, 0.0)(x, t, cond=1), x)
    assert torch.equal(ClassifierFreeGuidance(eps_model, PATH, 1.0)(x, t, cond=1), 2 * x)


def test_cfg_combines_scores_and_batched_call_matches_two_calls():
    x, t = _xt()
    counted = CountNFE(sl.Predictor(CondNet(), "x0"))
    ones = torch.ones(5, dtype=torch.long)
    w = 2.5
    two = ClassifierFreeGuidance(counted, PATH, w, null=torch.tensor(0))
    out = two(x, t, cond=ones)
    assert counted.nfe == 2 and two.calls == 2
    s_u, s_c = G1.score(x, t, PATH), G2.score(x, t, PATH)
    score = convert(out, "eps", "score", x, t, PATH)
    torch.testing.assert_close(score, (1 - w) * s_u + w * s_c, rtol=1e-10, atol=1e-10)
    one = ClassifierFreeGuidance(counted, PATH, w, null=torch.tensor(0), batched=True)
    torch.testing.assert_close(one(x, t, cond=ones), out, rtol=1e-12, atol=1e-12)
    assert counted.nfe == 3 and one.calls == 1  # one call on a batch of 2B


def test_annealed_and_product_scale_and_add_scores():
    x, t = _xt()
    ann = Annealed(G1.predictor(PATH, "x0"), PATH, 0.7)
    score = convert(ann(x, t), "eps", "score", x, t, PATH)
    torch.testing.assert_close(score, 0.7 * G1.score(x, t, PATH), rtol=1e-10, atol=1e-10)
    # experts of different kinds are converted exactly before they are summed
    poe = ProductOfExperts([G1.predictor(PATH, "x0"), G2.predictor(PATH, "score")], PATH)
    score = convert(poe(x, t), "eps", "score", x, t, PATH)
    want = G1.score(x, t, PATH) + G2.score(x, t, PATH)
    torch.testing.assert_close(score, want, rtol=1e-10, atol=1e-10)
    geo = ProductOfExperts([G1.predictor(PATH, "v"), G2.predictor(PATH, "eps")], PATH, (0.3, 0.7))
    score = convert(geo(x, t), "eps", "score", x, t, PATH)
    want = 0.3 * G1.score(x, t, PATH) + 0.7 * G2.score(x, t, PATH)
    torch.testing.assert_close(score, want, rtol=1e-10, atol=1e-10)
    assert poe.total == 2.0 and geo.total == pytest.approx(1.0)


def test_wrappers_run_in_core_samplers_and_structured_states():
    ts = uniform_grid(PATH, 5)
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    cfg = ClassifierFreeGuidance(sl.Predictor(CondNet(), "x0"), PATH, 2.0, null=torch.tensor(0))
    out = sample_euler_maruyama(cfg, x, ts, PATH, cond={"cond": torch.tensor(1)})
    assert out.shape == x.shape and torch.isfinite(out).all()
    net = sl.Predictor(lambda s, t: {k: 0.5 * v for k, v in s.items()}, "eps")
    state = {"a": torch.randn(4, 2, dtype=F64), "b": torch.randn(4, 3, 2, dtype=F64)}
    ann = Annealed(net, PATH, 3.0)
    out = ann(state, torch.full((4,), 0.5, dtype=F64))
    assert set(out) == {"a", "b"}
    assert torch.equal(out["b"], 3.0 * (0.5 * state["b"]))


def test_errors():
    m = G1.predictor(PATH, "eps")
    with pytest.raises(ValueError, match="beta must be > 0"):
        Annealed(m, PATH, 0.0)
    with pytest.raises(ValueError, match="beta must be finite"):
        Annealed(m, PATH, float("nan"))
    with pytest.raises(ValueError, match="guidance weight must be >= 0"):
        ClassifierFreeGuidance(m, PATH, -1.0)
    with pytest.raises(ValueError, match="guidance weight must be finite"):
        ClassifierFreeGuidance(m, PATH, float("inf"))
    with pytest.raises(ValueError, match="batched=True needs a tensor"):
        ClassifierFreeGuidance(m, PATH, 2.0, batched=True)
    with pytest.raises(ValueError, match="needs the condition 'label'"):
        ClassifierFreeGuidance(m, PATH, 2.0, cond_key="label")(*_xt())
    cfg = ClassifierFreeGuidance(m, PATH, 2.0, null=torch.tensor(0), batched=True)
    with pytest.raises(ValueError, match=r"condition with batch 5 first, got \(3,\)"):
        cfg(*_xt(), cond=torch.ones(3))
    with pytest.raises(ValueError, match="at least 2 models, got 1"):
        ProductOfExperts([m], PATH)
    with pytest.raises(ValueError, match="at least 2 models, got 0"):
        ProductOfExperts([], PATH)
    with pytest.raises(TypeError, match="list of score models"):
        ProductOfExperts(m, PATH)
    with pytest.raises(ValueError, match="2 models but 3 exponents"):
        ProductOfExperts([m, m], PATH, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="positive sum"):
        ProductOfExperts([m, m], PATH, (1.0, -1.0))
    with pytest.raises(TypeError, match="Predictor"):
        ProductOfExperts([m, lambda x, t: x], PATH)(*_xt())
