"""Policy.act: bounds, guidance weights 0/1 against direct core sampling, learning a toy task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scorelab.apps.policies.config import ActConfig, ModelConfig
from scorelab.apps.policies.model import (
    DiffusionPolicyModel,
    build_policy_model,
    make_path,
    make_policy_loss,
)
from scorelab.apps.policies.normalize import Normalizer
from scorelab.apps.policies.policy import Policy
from scorelab.apps.policies.windows import Windows
from scorelab.samplers import sample

from .synthetic import Info, Play


def small_cfg(kind: str = "beso", **kw) -> ModelConfig:
    base = dict(kind=kind, obs_history=1, chunk=2, execute=1, d_model=32, depth=2, heads=2)
    return ModelConfig(**{**base, **kw})


class Constant(nn.Module):
    """A stub network that outputs ``value`` everywhere."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x, c_noise, **cond):
        return torch.full_like(x, self.value)


@pytest.mark.parametrize("kind", ["beso", "ddpm"])
@pytest.mark.parametrize("value", [1e3, -1e3])
def test_actions_stay_in_bounds_with_a_wild_model(kind, value):
    low = np.array([-0.3, 2.0], np.float32)
    high = np.array([0.7, 3.5], np.float32)
    data = Play(
        observations=np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32),
        actions=np.tile((low + high) / 2, (10, 1)),
        achieved_goals=np.zeros((10, 2), np.float32),
        episode_ends=np.array([10]),
        action_low=low,
        action_high=high,
    )
    cfg = small_cfg(kind)
    model = DiffusionPolicyModel(kind, Constant(value), make_path(cfg), Normalizer.fit(data))
    act = ActConfig(sampler="ddim", steps=3) if kind == "beso" else ActConfig("ancestral", 10)
    a = Policy(model, cfg, act, Info()).act(np.zeros((5, 1, 2)), np.zeros((5, 2)))
    assert a.dtype == np.float32 and a.shape == (5, 2, 2)
    assert (a >= low).all() and (a <= high).all()
    # x0 = c_skip x + c_out F for beso, (x - sigma eps) / alpha for ddpm: saturates at one bound
    up = value > 0 if kind == "beso" else value < 0
    assert np.array_equal(a, np.broadcast_to(high if up else low, a.shape))


def _random_policy_model(cfg: ModelConfig) -> nn.Module:
    rng = np.random.default_rng(1)
    data = Play(
        observations=rng.normal(2.0, 3.0, size=(50, 2)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(50, 2)).astype(np.float32),
        achieved_goals=rng.normal(-1.0, 2.0, size=(50, 2)).astype(np.float32),
        episode_ends=np.array([50]),
    )
    return build_policy_model(cfg, Info(), Normalizer.fit(data)).eval()


def _direct(model, cfg, act, obs, goal, seed):
    cond = {"obs": obs} if goal is None else {"obs": obs, "goal": goal}
    u = sample(
        model,
        make_path(cfg),
        (len(obs), cfg.chunk, 2),
        sampler=act.sampler,
        steps=act.steps,
        grid=act.grid,
        grid_options={"rho": act.rho} if act.grid == "karras" else None,
        generator=torch.Generator().manual_seed(seed),
        cond=cond,
    )
    norm = model.normalizer
    return norm.clip_action(norm.action_from_unit(u)).numpy()


class PointMassEps(nn.Module):
    """Exact eps of a VP path whose data is a point mass at m = 0.5 tanh(goal_1), 0 goal-free."""

    def __init__(self, path) -> None:
        super().__init__()
        self.path = path
        self.dummy = nn.Parameter(torch.zeros(()))

    @staticmethod
    def target(goal) -> torch.Tensor:
        return 0.0 if goal is None else 0.5 * torch.tanh(goal[:, 0])[:, None, None]

    def forward(self, x, t, *, obs, goal=None, goal_drop=None):
        a, s = self.path.alpha(t)[:, None, None], self.path.sigma(t)[:, None, None]
        return (x - a * self.target(goal)) / s


@pytest.mark.parametrize("kind", ["beso", "ddpm"])
def test_guidance_weights_zero_and_one_match_direct_sampling(kind):
    cfg = small_cfg(kind)
    model = _random_policy_model(cfg)
    if kind == "ddpm":  # a random eps-net's samples all saturate: use an exact one
        model = DiffusionPolicyModel(kind, PointMassEps(model.path), model.path, model.normalizer)
    obs = 2 + 3 * torch.randn(6, 1, 2)
    goal = -1 + 2 * torch.randn(6, 2)
    sampler = (
        dict(sampler="ddim", steps=3) if kind == "beso" else dict(sampler="ancestral", steps=8)
    )
    runs = {}
    for w in (0.0, 1.0, 2.5):
        act = ActConfig(**sampler, guidance=w, grid="karras" if kind == "beso" else "uniform")
        policy = Policy(model, cfg, act, Info())
        runs[w] = policy.act(obs.numpy(), goal.numpy(), torch.Generator().manual_seed(11))
        assert policy.nfe == policy.expected_nfe() == act.steps * (2 if w == 2.5 else 1)
        if w == 1.0:
            want = _direct(model, cfg, act, obs, goal, 11)
            assert np.allclose(runs[w], want, atol=1e-6)
            free = policy.act(obs, None, torch.Generator().manual_seed(11))
            assert policy.nfe == act.steps
            assert np.allclose(free, _direct(model, cfg, act, obs, None, 11), atol=1e-6)
        if w == 0.0:
            assert np.allclose(runs[w], _direct(model, cfg, act, obs, None, 11), atol=1e-6)
    assert np.abs(runs[0.0] - runs[1.0]).max() > 1e-3  # the goal changes the actions
    assert np.abs(runs[2.5] - runs[1.0]).max() > 1e-3
    if kind == "ddpm":  # ancestral sampling of the exact eps lands on the point mass
        m = PointMassEps.target(model.normalizer.goal(goal))
        assert np.allclose(
            runs[1.0], model.normalizer.action_from_unit(m.expand(6, 2, 2)), atol=0.05
        )
        assert np.allclose(runs[0.0], 0.0, atol=0.05)
        # weight w: x0 = (1 - w) * 0 + w * m (eps is affine in m here), clipped to the box
        guided = np.clip(2.5 * m.expand(6, 2, 2).numpy(), -1, 1)
        assert np.allclose(runs[2.5], guided, atol=0.05)


def test_act_checks_shapes():
    cfg = small_cfg()
    policy = Policy(_random_policy_model(cfg), cfg, ActConfig(), Info())
    with pytest.raises(ValueError, match="obs must have shape"):
        policy.act(np.zeros((3, 2, 2)), None)  # obs_history is 1
    with pytest.raises(ValueError, match="goal must have shape"):
        policy.act(np.zeros((3, 1, 2)), np.zeros((2, 2)))


def toy_play(episodes: int = 64, length: int = 10, seed: int = 0) -> Play:
    """Each episode heads to one of two goals, +-(1, 1): actions +-0.8 plus noise.

    The observation carries no information about the direction, so the goal-free action
    distribution is bimodal and only the goal tells the modes apart.
    """
    rng = np.random.default_rng(seed)
    n = episodes * length
    sides = rng.permutation(np.repeat([-1.0, 1.0], episodes // 2))  # balanced modes
    d = np.repeat(sides, length)[:, None]
    step = np.tile(np.arange(1, length + 1) / length, episodes)[:, None]
    return Play(
        observations=rng.normal(0.0, 0.3, size=(n, 2)).astype(np.float32),
        actions=np.clip(0.8 * d + rng.normal(0.0, 0.05, size=(n, 2)), -1, 1).astype(np.float32),
        achieved_goals=(d * step * np.ones((1, 2))).astype(np.float32),
        episode_ends=np.arange(length, n + 1, length),
    )


def _train(cfg: ModelConfig, data: Play, steps: int) -> tuple[nn.Module, float, float]:
    windows = Windows(data, cfg.obs_history, cfg.chunk, "final")
    model = build_policy_model(cfg, Info(), Normalizer.fit(data))
    loss_fn = make_policy_loss(cfg, windows)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)

    def held_out() -> float:  # the same draws of goals and noise before and after
        state = torch.get_rng_state()
        torch.manual_seed(123)
        with torch.no_grad():
            v = float(sum(loss_fn(model, torch.arange(len(windows))) for _ in range(4)) / 4)
        torch.set_rng_state(state)
        return v

    before = held_out()
    for _ in range(steps):
        idx = torch.randint(len(windows), (128,))
        loss = loss_fn(model, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), before, held_out()


def test_beso_learns_goal_conditioned_modes_and_goal_free_bimodality():
    data = toy_play()
    cfg = small_cfg("beso", goal_dropout=0.3)
    model, before, after = _train(cfg, data, 300)
    assert after < 0.5 * before
    obs = np.random.default_rng(1).normal(0.0, 0.3, size=(200, 1, 2)).astype(np.float32)
    gen = torch.Generator().manual_seed(0)
    for sign in (1.0, -1.0):
        policy = Policy(model, cfg, ActConfig(steps=3), Info())
        a = policy.act(obs, np.full((200, 2), sign, np.float32), gen)
        assert policy.nfe == 3
        assert (np.sign(a) == sign).mean() > 0.9
        assert abs(a.mean() - 0.8 * sign) < 0.2
    free = Policy(model, cfg, ActConfig(steps=3, guidance=0.0), Info()).act(obs, None, gen)
    first = free[:, 0, 0]
    assert 0.2 < (first > 0).mean() < 0.8  # both modes
    assert np.median(np.abs(first)) > 0.5  # not collapsed onto the mean 0 between them
    # guidance > 1 sharpens toward the goal's mode
    guided = Policy(model, cfg, ActConfig(steps=3, guidance=2.0), Info())
    g = guided.act(obs, np.ones((200, 2), np.float32), gen)
    assert guided.nfe == 6 and (g > 0).mean() > 0.9


def test_gcbc_learns_a_linear_map():
    rng = np.random.default_rng(0)
    episodes, length = 100, 8
    n = episodes * length
    obs = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    final = np.repeat(rng.uniform(-1, 1, size=(episodes, 2)), length, axis=0)
    achieved = final.astype(np.float32)  # "final" reads the episode's last step
    w = np.array([[0.3, -0.1], [0.2, 0.25]])
    data = Play(
        observations=obs,
        actions=((final - obs) @ w.T).astype(np.float32),
        achieved_goals=achieved,
        episode_ends=np.arange(length, n + 1, length),
    )
    cfg = small_cfg("gcbc", chunk=1, execute=1, hidden=64, depth=2, goal_dropout=0.0)
    model, before, after = _train(cfg, data, 400)
    assert after < 0.1 * before
    test_obs = rng.uniform(-1, 1, size=(300, 1, 2)).astype(np.float32)
    test_goal = rng.uniform(-1, 1, size=(300, 2)).astype(np.float32)
    policy = Policy(model, cfg, ActConfig(), Info())
    a = policy.act(test_obs, test_goal)
    assert policy.nfe == 1 and a.shape == (300, 1, 2)
    want = (test_goal - test_obs[:, 0]) @ w.T
    err = np.mean((a[:, 0] - want) ** 2)
    assert err < 0.05 * np.mean(want**2)
