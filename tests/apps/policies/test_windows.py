"""Training windows (history padding, chunk bounds, hindsight goals) and the Normalizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scorelab.apps.policies.normalize import Normalizer
from scorelab.apps.policies.windows import Windows

from .synthetic import Info, Play


def indexed_play(lengths: list[int]) -> Play:
    """Every array row encodes (global step, episode) so windows can be checked exactly."""
    n = sum(lengths)
    step = np.arange(n, dtype=np.float32)
    episode = np.repeat(np.arange(len(lengths)), lengths).astype(np.float32)
    rows = np.stack([step, episode], axis=1)
    return Play(
        observations=np.concatenate([rows, -rows], axis=1),  # obs_dim 4
        actions=rows.copy(),
        achieved_goals=rows.copy(),
        episode_ends=np.cumsum(lengths),
    )


LENGTHS = [5, 2, 8, 4]  # the episode of 2 is shorter than the chunk


def _bounds(lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum(lengths)
    return np.concatenate([[0], ends[:-1]]), ends


def test_window_count_and_contents():
    h, chunk = 3, 3
    data = indexed_play(LENGTHS)
    w = Windows(data, h, chunk, "final")
    assert len(w) == sum(max(n - chunk + 1, 0) for n in LENGTHS)
    starts, ends = _bounds(LENGTHS)
    b = w.batch(torch.arange(len(w)))
    assert b["obs"].shape == (len(w), h, 4)
    assert b["action"].shape == (len(w), chunk, 2)
    assert b["goal"].shape == (len(w), 2)
    assert all(v.dtype == torch.float32 for v in b.values())
    seen = set()
    for i in range(len(w)):
        t = int(b["action"][i, 0, 0])
        ep = int(b["action"][i, 0, 1])
        s, e = starts[ep], ends[ep]
        seen.add(t)
        # the chunk: consecutive steps t .. t+chunk-1 of one episode, never past its end
        assert b["action"][i, :, 0].tolist() == list(range(t, t + chunk))
        assert (b["action"][i, :, 1] == ep).all()
        assert t + chunk <= e
        # the history: t-h+1 .. t, steps before the episode start repeat its first obs
        want = [max(t - k, s) for k in range(h - 1, -1, -1)]
        assert b["obs"][i, :, 0].tolist() == want
        assert (b["obs"][i, :, 1] == ep).all()
        assert (b["obs"][i, :, 2:] == -b["obs"][i, :, :2]).all()
        # "final": the episode's last achieved goal
        assert b["goal"][i].tolist() == [e - 1, ep]
    # every valid start appears once (the too-short episode contributes none)
    valid = {t for s, e in zip(starts, ends) for t in range(s, e - chunk + 1)}
    assert seen == valid


def test_history_padding_at_episode_start():
    data = indexed_play([6, 6])
    w = Windows(data, 4, 1, "final")
    b = w.batch(torch.tensor([0, 1, 6, 7, 9]))
    assert b["obs"][:, :, 0].tolist() == [
        [0, 0, 0, 0],
        [0, 0, 0, 1],
        [6, 6, 6, 6],
        [6, 6, 6, 7],
        [6, 7, 8, 9],
    ]


def test_future_goals_same_episode_after_start_and_uniform():
    data = indexed_play(LENGTHS)
    w = Windows(data, 2, 2, "future")
    starts, ends = _bounds(LENGTHS)
    idx = torch.arange(len(w)).repeat(400)
    b = w.batch(idx)
    t = b["action"][:, 0, 0].long()
    ep = b["action"][:, 0, 1].long()
    j = b["goal"][:, 0].long()
    assert (b["goal"][:, 1].long() == ep).all()  # same episode
    assert (j > t).all()  # strictly after the window start
    assert (j <= torch.as_tensor(ends)[ep] - 1).all()
    # uniform over t+1 .. e-1: the first window of the 8-step episode has 7 candidates
    first = int(starts[2])
    sel = j[t == first]
    counts = torch.bincount(sel - first - 1, minlength=7).float()
    assert counts.numel() == 7 and (counts > 0).all()
    assert (counts / counts.mean() - 1).abs().max() < 0.35


def test_future_goal_of_a_last_step_window_is_its_own_step():
    data = indexed_play([3, 4])
    w = Windows(data, 1, 1, "future")
    b = w.batch(torch.tensor([2, 6] * 20))  # the last step of each episode
    assert b["goal"][:, 0].tolist() == [2, 6] * 20


def test_goals_redrawn_and_reproducible():
    w = Windows(indexed_play([40]), 1, 1, "future")
    idx = torch.zeros(64, dtype=torch.long)
    g1 = w.batch(idx, generator=torch.Generator().manual_seed(3))["goal"]
    g2 = w.batch(idx, generator=torch.Generator().manual_seed(3))["goal"]
    g3 = w.batch(idx, generator=torch.Generator().manual_seed(4))["goal"]
    assert torch.equal(g1, g2) and not torch.equal(g1, g3)
    torch.manual_seed(7)
    a = w.batch(idx)["goal"]
    b = w.batch(idx)["goal"]
    torch.manual_seed(7)
    assert torch.equal(w.batch(idx)["goal"], a) and not torch.equal(a, b)


def test_windows_errors():
    data = indexed_play([3, 2])
    with pytest.raises(ValueError, match="goal"):
        Windows(data, 1, 1, "random")
    with pytest.raises(ValueError, match="chunk=4"):
        Windows(data, 1, 4, "final")
    w = Windows(data, 1, 1, "final")
    with pytest.raises(IndexError):
        w.batch(torch.tensor([len(w)]))
    bad = indexed_play([3, 2])
    bad.episode_ends = np.array([3, 4])
    with pytest.raises(ValueError, match="episode_ends"):
        Windows(bad, 1, 1, "final")


# --- Normalizer ------------------------------------------------------------------------------


def random_play(n: int = 500, seed: int = 0) -> Play:
    rng = np.random.default_rng(seed)
    obs = rng.normal([3.0, -2.0, 0.0], [0.5, 4.0, 1e-3], size=(n, 3)).astype(np.float32)
    obs[:, 2] = 1.5  # a constant feature
    low = np.array([-0.3, 2.0, -5.0], np.float32)
    high = np.array([0.7, 3.1, 1.3], np.float32)
    return Play(
        observations=obs,
        actions=rng.uniform(low, high, size=(n, 3)).astype(np.float32),
        achieved_goals=rng.normal([10.0, 0.1], [2.0, 0.01], size=(n, 2)).astype(np.float32),
        episode_ends=np.array([n]),
        action_low=low,
        action_high=high,
    )


def test_normalizer_standardizes_and_centres_constant_features():
    data = random_play()
    norm = Normalizer.fit(data)
    z = norm.obs(data.observations).double()
    assert torch.allclose(z[:, :2].mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(
        z[:, :2].std(0, unbiased=False), torch.ones(2, dtype=torch.float64), atol=1e-4
    )
    assert (z[:, 2] == 0).all()  # constant: centred, not divided by ~0
    g = norm.goal(data.achieved_goals).double()
    assert torch.allclose(g.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(g.std(0, unbiased=False), torch.ones(2, dtype=torch.float64), atol=1e-3)
    # works on any leading shape, e.g. an obs history (B, h, obs_dim)
    hist = torch.as_tensor(data.observations[:6]).reshape(2, 3, 3)
    assert torch.allclose(norm.obs(hist).reshape(6, 3), norm.obs(data.observations[:6]))


def test_unit_actions_round_trip_and_hit_bounds_exactly():
    data = random_play()
    norm = Normalizer.fit(data)
    low, high = torch.as_tensor(data.action_low), torch.as_tensor(data.action_high)
    u = norm.action_to_unit(data.actions)
    assert u.min() >= -1 and u.max() <= 1
    assert torch.allclose(norm.action_from_unit(u), torch.as_tensor(data.actions), atol=1e-6)
    assert torch.allclose(norm.action_to_unit(low), -torch.ones(3), atol=1e-7)
    assert torch.allclose(norm.action_to_unit(high), torch.ones(3), atol=1e-7)
    assert torch.equal(norm.action_from_unit(-torch.ones(4, 3)), low.expand(4, 3))
    assert torch.equal(norm.action_from_unit(torch.ones(4, 3)), high.expand(4, 3))
    mid = norm.action_from_unit(torch.zeros(3))
    assert torch.allclose(mid, (low + high) / 2, atol=1e-6)
    clipped = norm.clip_action(torch.tensor([[-9.0, 9.0, 0.0]]))
    assert clipped.tolist() == [[low[0].item(), high[1].item(), 0.0]]


def test_normalizer_state_dict_round_trip():
    data = random_play()
    norm = Normalizer.fit(data)
    fresh = Normalizer.empty(Info(obs_dim=3, goal_dim=2, act_dim=3))
    assert not torch.allclose(fresh.obs(data.observations), norm.obs(data.observations))
    fresh.load_state_dict(norm.state_dict())
    assert torch.equal(fresh.obs(data.observations), norm.obs(data.observations))
    assert torch.equal(fresh.action_from_unit(torch.ones(3)), torch.as_tensor(data.action_high))


def test_normalizer_errors():
    data = random_play()
    data.action_high = data.action_low.copy()
    with pytest.raises(ValueError, match="action_low < action_high"):
        Normalizer.fit(data)
    norm = Normalizer.fit(random_play())
    with pytest.raises(ValueError, match="obs"):
        norm.obs(np.zeros((2, 5)))
