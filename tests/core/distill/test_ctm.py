"""CTM against exact answers: boundary, exact Gaussian flow map, gamma-sampling, training."""

from __future__ import annotations

import pytest
import torch

from scorelab import EDM, VP, get_grid
from scorelab.distances import gaussian_w2, w2_empirical
from scorelab.distill import CTMLoss, CTMStudent, TimeMLP, distill_ctm, sample_ctm
from scorelab.distill.ctm import heun_solve
from scorelab.testing import GaussianMixture
from scorelab.testing.pushforward import affine_pushforward

F64 = torch.float64
MU = torch.tensor([1.0, -0.5], dtype=F64)
COV = torch.tensor([[0.5, 0.2], [0.2, 0.3]], dtype=F64)
PATHS = [EDM(), VP()]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ExactG(torch.nn.Module):
    """The exact g of a single-Gaussian target: G = (s/t) x + (1 - s/t) g solved for g."""

    def __init__(self, target: GaussianMixture, path, shift: float = 0.0) -> None:
        super().__init__()
        self.target, self.path, self.shift = target, path, shift

    def forward(self, x, t, s):
        p = self.path
        big_g = self.target.flow_map(p, x, t, s)
        r = (p.sigma(s) / p.alpha(s) / (p.sigma(t) / p.alpha(t)))[:, None]
        same = (s == t)[:, None]
        g = (big_g / p.alpha(s)[:, None] - r * x / p.alpha(t)[:, None]) / torch.where(
            same, torch.ones_like(r), 1 - r
        )
        g = torch.where(same, self.target.x0(x, t, p), g)
        # a perturbation that breaks consistency: it grows with the jump's length
        return g + self.shift * (1 - r) * x


def exact_student(path, shift: float = 0.0) -> CTMStudent:
    return CTMStudent(
        ExactG(GaussianMixture.gaussian(MU, COV), path, shift), path, precondition=False
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_boundary_is_identity_for_any_net(path):
    net = TimeMLP(2, 2, hidden=16, depth=2).double()
    st = CTMStudent(net, path)
    x = torch.randn(64, 2, generator=gen(0), dtype=F64)
    t = path.t_min + (path.t_max - path.t_min) * torch.rand(64, generator=gen(1), dtype=F64)
    assert torch.equal(st.jump(x, t, t), x) or torch.allclose(st.jump(x, t, t), x, atol=1e-14)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_exact_flow_map_matches_teacher_ode(path):
    # the closed-form G against the teacher's PF-ODE: Heun converges to it at order 2
    target = GaussianMixture.gaussian(MU, COV)
    x = 3 * torch.randn(32, 2, generator=gen(2), dtype=F64)
    t = torch.full((32,), 0.7 * path.t_max, dtype=F64)
    s = torch.full((32,), 0.01 * path.t_max + path.t_min, dtype=F64)
    exact = target.flow_map(path, x, t, s)
    err = [
        float((heun_solve(target.predictor(path, "x0"), path, x, t, s, n) - exact).abs().max())
        for n in (64, 128)
    ]
    assert err[1] < 5e-4  # measured 1.8e-4 (VP), smaller on EDM
    assert 3.5 < err[0] / err[1] < 4.5  # second order: a wrong flow map would stall


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_ctm_loss_of_exact_student_is_zero_and_perturbed_is_not(path):
    target = GaussianMixture.gaussian(MU, COV)
    x0 = target.sample(512, gen(3))
    loss = CTMLoss(target.predictor(path, "x0"), path, teacher_steps=32)
    exact = loss(exact_student(path), x0, gen(4))
    wrong = loss(exact_student(path, shift=0.2), x0, gen(4))
    # exact student: the only CTM error is the teacher's 32-step Heun error (measured <1e-5)
    assert float(exact["ctm"]) < 2e-4
    assert float(wrong["ctm"]) > 50 * float(exact["ctm"])
    # the perturbation vanishes at s = t: the denoiser g(x, t, t) is still exact, so only
    # the consistency term can see it (same draws, same DSM value)
    assert float(wrong["dsm"]) == pytest.approx(float(exact["dsm"]), rel=1e-12)
    assert set(exact) == {"loss", "ctm", "dsm"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_gamma0_is_deterministic_and_exact(path):
    st = exact_student(path)
    target = GaussianMixture.gaussian(MU, COV)
    m_ex, c_ex = target.ode_pushforward(path, path.t_max, path.t_min, path.prior_std())
    for steps in (1, 3):
        ts = get_grid("karras", path, steps)
        m, c = affine_pushforward(lambda x, ts=ts: sample_ctm(st, x, ts), 2, path.prior_std())
        assert gaussian_w2(m, c, m_ex, c_ex) < 1e-6  # exact flow map: jumps compose exactly
    x = path.prior_sample((16, 2), generator=gen(5)).double()
    ts = get_grid("karras", path, 4)
    a = sample_ctm(st, x, ts, generator=gen(6))
    b = sample_ctm(st, x, ts, generator=gen(7))
    assert torch.equal(a, b)


def test_gamma1_renoises_and_reaches_the_target():
    path = EDM()
    st = exact_student(path)
    ts = get_grid("karras", path, 3)
    n = 20_000
    x = path.prior_sample((n, 2), generator=gen(8)).double()
    a = sample_ctm(st, x, ts, gamma=1.0, generator=gen(9))
    b = sample_ctm(st, x, ts, gamma=1.0, generator=gen(10))
    assert not torch.allclose(a, b)  # stochastic: fresh noise each step
    # each re-noised state is an exact draw of p_t, so the output law is the target's:
    # MC std of a mean is sqrt(0.5 / 2e4) = 0.005, of a covariance entry about 0.005
    assert torch.allclose(a.mean(0), MU, atol=0.025)
    assert torch.allclose(a.T.cov(), COV, atol=0.03)
    # the last step adds no noise: one step of gamma = 1 equals gamma = 0
    one = get_grid("karras", path, 1)
    assert torch.equal(sample_ctm(st, x[:64], one, gamma=1.0), sample_ctm(st, x[:64], one))


def test_nfe_is_one_per_jump():
    path = EDM()
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x, *c):
            calls.append(1)
            return torch.zeros_like(x)

    st = CTMStudent(Counting(), path)
    x = path.prior_sample((8, 2), generator=gen(11)).double()
    for gamma in (0.0, 0.5, 1.0):
        calls.clear()
        sample_ctm(st, x, get_grid("karras", path, 4), gamma=gamma, generator=gen(12))
        assert len(calls) == 4


def test_short_training_lowers_one_step_error():
    torch.manual_seed(0)
    path = EDM()
    target = GaussianMixture.gaussian(MU, COV)
    st = CTMStudent(TimeMLP(2, 2, hidden=64, depth=3).double(), path)
    loss = CTMLoss(target.predictor(path, "x0"), path, teacher_steps=8, teacher_span=1.0)
    ref = target.sample(1000, gen(13))
    xT = path.prior_sample((1000, 2), generator=gen(14)).double()
    ts = get_grid("karras", path, 1)
    before = w2_empirical(sample_ctm(st, xT, ts), ref)
    trained, hist = distill_ctm(
        st, loss, target.sample, 250, batch=128, lr=3e-3, ema_decay=0.9, generator=gen(15)
    )
    after = w2_empirical(sample_ctm(trained, xT, ts), ref)
    # untrained: W2 = 1.51 (measured); after 250 steps (~5 s) 0.16; the n = 1000 floor ~0.07
    assert after < before / 3, (before, after)
    assert len(hist) == 250 and {"loss", "ctm", "dsm", "wall_s"} <= set(hist[-1])


def test_errors():
    path = EDM()
    st = exact_student(path)
    x = torch.zeros(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="s <= t"):
        st.jump(x, 1.0, 2.0)
    with pytest.raises(ValueError, match="NaN"):
        st.jump(torch.full((4, 2), float("nan"), dtype=F64), 1.0, 0.5)
    with pytest.raises(ValueError, match="shape"):
        st.jump(x, torch.ones(3, dtype=F64), 0.5)
    with pytest.raises(ValueError, match="gamma"):
        sample_ctm(st, x, get_grid("karras", path, 2), gamma=1.5)
    with pytest.raises(ValueError, match="decreasing"):
        sample_ctm(st, x, torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="CTMStudent"):
        sample_ctm(torch.nn.Identity(), x, get_grid("karras", path, 2))
    with pytest.raises(ValueError, match="sigma_data"):
        CTMStudent(torch.nn.Identity(), path, sigma_data=0.0)
    teacher = GaussianMixture.gaussian(MU, COV).predictor(path, "x0")
    with pytest.raises(ValueError, match="teacher_steps"):
        CTMLoss(teacher, path, teacher_steps=0)
    with pytest.raises(ValueError, match="teacher_span"):
        CTMLoss(teacher, path, teacher_span=0.0)
    with pytest.raises(ValueError, match="dsm_weight"):
        CTMLoss(teacher, path, dsm_weight=-1.0)
    with pytest.raises(TypeError, match="prediction"):
        CTMLoss(torch.nn.Identity(), path)
    with pytest.raises(ValueError, match="x0 has NaN"):
        CTMLoss(teacher, path)(st, torch.full((4, 2), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match="steps"):
        distill_ctm(st, CTMLoss(teacher, path), lambda n, g: x, -1)
