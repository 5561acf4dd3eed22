"""PolicyNet's null goal, the model wrappers' normalization and preconditioning, the losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scorelab.apps.policies.config import ModelConfig
from scorelab.apps.policies.model import (
    DiffusionPolicyModel,
    GCBCNet,
    PolicyNet,
    build_policy_model,
    make_path,
    make_policy_loss,
)
from scorelab.apps.policies.normalize import Normalizer
from scorelab.apps.policies.windows import Windows
from scorelab.paths import EDM, VP
from scorelab.precond import EDMPrecond

from .synthetic import Info, Play

INFO = Info(obs_dim=3)


def play(n: int = 200, seed: int = 0) -> Play:
    rng = np.random.default_rng(seed)
    return Play(
        observations=rng.normal(5.0, 3.0, size=(n, 3)).astype(np.float32),
        actions=rng.uniform([-1, 0], [1, 2], size=(n, 2)).astype(np.float32),
        achieved_goals=rng.normal(-4.0, 2.0, size=(n, 2)).astype(np.float32),
        episode_ends=np.array([n // 2, n]),
        action_low=np.array([-1.0, 0.0], np.float32),
        action_high=np.array([1.0, 2.0], np.float32),
    )


def small_cfg(kind: str = "beso", **kw) -> ModelConfig:
    return ModelConfig(kind=kind, obs_history=2, chunk=3, d_model=32, depth=2, heads=2, **kw)


def net_inputs(b: int = 4):
    return torch.randn(b, 3, 2), torch.randn(b), torch.randn(b, 2, 3), torch.randn(b, 2)


def test_goal_drop_gives_the_null_goal_for_dropped_samples_only():
    net = PolicyNet(3, 2, 2, obs_history=2, chunk=3, d_model=32, depth=2, heads=2).eval()
    x, c, obs, goal = net_inputs(4)
    drop = torch.tensor([False, True, False, True])
    cond = net(x, c, obs=obs, goal=goal)
    free = net(x, c, obs=obs)
    mixed = net(x, c, obs=obs, goal=goal, goal_drop=drop)
    assert mixed.shape == (4, 3, 2)
    assert torch.allclose(mixed[drop], free[drop], atol=1e-6)
    assert torch.allclose(mixed[~drop], cond[~drop], atol=1e-6)
    assert (cond - free).abs().amax(dim=(1, 2)).min() > 1e-3  # the goal matters when kept
    other = goal.clone()
    other[drop] = 1e4 * torch.randn(2, 2)  # a dropped goal's value does not matter
    assert torch.allclose(net(x, c, obs=obs, goal=other, goal_drop=drop), mixed, atol=1e-6)
    # all False is the plain conditional call
    assert torch.allclose(net(x, c, obs=obs, goal=goal, goal_drop=torch.zeros(4, dtype=bool)), cond)


def test_policy_net_uses_every_input():
    net = PolicyNet(3, 2, 2, obs_history=2, chunk=3, d_model=32, depth=2, heads=2).eval()
    x, c, obs, goal = net_inputs(2)
    base = net(x, c, obs=obs, goal=goal)
    for changed in (
        net(x + 1, c, obs=obs, goal=goal),
        net(x, c + 0.5, obs=obs, goal=goal),
        net(x, c, obs=obs + 1, goal=goal),
        net(x, c, obs=torch.cat([obs[:, :1] + 1, obs[:, 1:]], 1), goal=goal),  # older obs too
        net(x, c, obs=obs, goal=goal + 1),
    ):
        assert (changed - base).abs().max() > 1e-3
    # a scalar noise level broadcasts over the batch
    assert torch.allclose(
        net(x, 0.3, obs=obs, goal=goal), net(x, torch.full((2,), 0.3), obs=obs, goal=goal)
    )
    with pytest.raises(ValueError, match="obs"):
        net(x, c, obs=obs[:, :1], goal=goal)
    with pytest.raises(ValueError, match="goal_drop"):
        net(x, c, obs=obs, goal=goal, goal_drop=torch.ones(3, dtype=bool))


def test_beso_model_normalizes_inside_and_preconditions():
    cfg = small_cfg("beso")
    norm = Normalizer.fit(play())
    model = build_policy_model(cfg, INFO, norm).eval()
    assert isinstance(model, DiffusionPolicyModel) and model.prediction == "x0"
    assert isinstance(model.path, EDM) and model.path.sigma_max == cfg.sigma_max
    x = torch.randn(4, 3, 2)
    obs = 5 + 3 * torch.randn(4, 2, 3)
    goal = -4 + 2 * torch.randn(4, 2)
    t = torch.tensor([0.01, 0.5, 2.0, 40.0])
    direct = EDMPrecond(model.net, model.path, 0.5)(x, t, obs=norm.obs(obs), goal=norm.goal(goal))
    assert torch.allclose(model(x, t, obs=obs, goal=goal), direct, atol=1e-6)
    # EDM: at a tiny noise level the denoiser is the identity up to c_out ~ sigma
    tiny = torch.full((4,), 1e-4)
    assert (model(x, tiny, obs=obs, goal=goal) - x).abs().max() < 1e-3
    # goal-free call == every goal dropped
    free = model(x, t, obs=obs)
    dropped = model(x, t, obs=obs, goal=goal, goal_drop=torch.ones(4, dtype=bool))
    assert torch.allclose(free, dropped, atol=1e-6)


def test_ddpm_model_is_an_eps_predictor_seeing_t():
    cfg = small_cfg("ddpm")
    norm = Normalizer.fit(play())
    model = build_policy_model(cfg, INFO, norm).eval()
    assert model.prediction == "eps" and isinstance(model.path, VP)
    x, _, obs, goal = net_inputs(4)
    t = torch.tensor([0.1, 0.3, 0.6, 0.9])
    want = model.net(x, t, obs=norm.obs(obs), goal=norm.goal(goal))
    assert torch.allclose(model(x, t, obs=obs, goal=goal), want, atol=1e-6)


def test_gcbc_net_and_goal_free_mode():
    net = GCBCNet(3, 2, 2, obs_history=2, chunk=3, hidden=32, depth=2)
    _, _, obs, goal = net_inputs(5)
    out = net(obs, 100 * goal)
    assert out.shape == (5, 3, 2) and out.abs().max() <= 1  # tanh: inside the unit box
    drop = torch.tensor([True, False, True, False, False])
    mixed = net(obs, goal, drop)
    assert torch.allclose(mixed[drop], net(obs)[drop], atol=1e-6)
    assert torch.allclose(mixed[~drop], net(obs, goal)[~drop], atol=1e-6)


def test_state_dict_carries_the_normalizer():
    cfg = small_cfg("beso")
    model = build_policy_model(cfg, INFO, Normalizer.fit(play())).eval()
    assert {"normalizer.obs_mean", "normalizer.action_high"} <= set(model.state_dict())
    fresh = build_policy_model(cfg, INFO, Normalizer.empty(INFO)).eval()
    fresh.load_state_dict(model.state_dict())
    x, _, obs, goal = net_inputs(2)
    t = torch.tensor([0.3, 3.0])
    assert torch.equal(fresh(x, t, obs=obs, goal=goal), model(x, t, obs=obs, goal=goal))


def test_make_path():
    assert isinstance(make_path(small_cfg("beso", sigma_min=0.01, sigma_max=20.0)), EDM)
    assert make_path(small_cfg("beso", sigma_max=20.0)).t_max == 20.0
    assert isinstance(make_path(small_cfg("ddpm")), VP)
    with pytest.raises(ValueError, match="gcbc"):
        make_path(small_cfg("gcbc"))


@pytest.mark.parametrize("kind", ["beso", "ddpm", "gcbc"])
def test_loss_is_finite_differentiable_and_reproducible(kind):
    data = play()
    cfg = small_cfg(kind)
    model = build_policy_model(cfg, INFO, Normalizer.fit(data))
    windows = Windows(data, cfg.obs_history, cfg.chunk, "future")
    loss = make_policy_loss(cfg, windows)
    idx = torch.arange(64)
    torch.manual_seed(5)
    a = loss(model, idx)
    torch.manual_seed(5)
    b = loss(model, idx)
    c = loss(model, idx)
    assert a.ndim == 0 and math.isfinite(float(a.detach()))
    assert a.item() == b.item() and a.item() != c.item()  # global RNG: goals, noise, dropout
    a.backward()
    assert all(p.grad is not None for p in model.net.parameters() if p.requires_grad)


def test_gcbc_loss_is_the_unit_action_mse():
    data = play()
    cfg = small_cfg("gcbc", goal_dropout=0.0)
    norm = Normalizer.fit(data)
    model = build_policy_model(cfg, INFO, norm)
    windows = Windows(data, cfg.obs_history, cfg.chunk, "final")  # deterministic goals
    idx = torch.arange(10, 40)
    batch = windows.batch(idx)
    want = model(obs=batch["obs"], goal=batch["goal"]) - norm.action_to_unit(batch["action"])
    got = make_policy_loss(cfg, windows)(model, idx)
    assert torch.allclose(got, want.pow(2).mean(), atol=1e-7)
