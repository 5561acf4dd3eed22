"""Play data: generation, our .npz format, D4RL-style and Minari files, and clear errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")
h5py = pytest.importorskip("h5py")

from scorelab.apps.policies import data as data_mod  # noqa: E402
from scorelab.apps.policies.data import (  # noqa: E402
    FORMAT_VERSION,
    PlayData,
    cached_play_data,
    generate_play_data,
    load_play_data,
    save_play_data,
)

ARRAYS = ("observations", "actions", "achieved_goals", "desired_goals", "episode_ends")


@pytest.fixture(scope="module")
def maze_data() -> PlayData:
    return generate_play_data("pointmaze_medium", 6, seed=0)


def _assert_same(a: PlayData, b: PlayData) -> None:
    assert a.env == b.env
    for k in (*ARRAYS, "action_low", "action_high"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


# --- generation -----------------------------------------------------------------------------


def test_generated_maze_data_is_consistent(maze_data):
    d = maze_data
    d.validate()
    n = len(d)
    assert d.env == "pointmaze_medium" and d.episode_ends.shape == (6,) and d.episode_ends[-1] == n
    assert d.observations.shape == (n, 4) and d.actions.shape == (n, 2)
    assert d.achieved_goals.shape == d.desired_goals.shape == (n, 2)
    for k in ("observations", "actions", "achieved_goals", "desired_goals"):
        assert getattr(d, k).dtype == np.float32
    assert d.episode_ends.dtype == np.int64
    np.testing.assert_array_equal(d.achieved_goals, d.observations[:, :2])
    assert np.abs(d.actions).max() <= 1.0 and d.actions.std() > 0.1
    assert d.meta["success_rate"] == 1.0 and d.meta["seed"] == 0 and d.meta["episodes"] == 6
    for sl in d.episode_slices():
        goal = d.desired_goals[sl]
        assert (goal == goal[0]).all()  # one goal per episode
        # each episode ends a few steps after reaching its goal (within 0.45), the ball
        # having moved from its start, one step of at most 5 m/s * 0.01 s at a time
        assert np.linalg.norm(d.achieved_goals[sl.stop - 1] - goal[0]) < 0.45 + 0.5
        assert np.linalg.norm(d.achieved_goals[sl.start] - goal[0]) > 0.45
        assert np.abs(np.diff(d.achieved_goals[sl], axis=0)).max() < 0.06


def test_generation_is_deterministic_under_its_seed(maze_data):
    _assert_same(maze_data, generate_play_data("pointmaze_medium", 6, seed=0))
    other = generate_play_data("pointmaze_medium", 6, seed=1)
    assert len(other) != len(maze_data) or not np.array_equal(other.actions, maze_data.actions)


def test_generated_fetch_data():
    d = generate_play_data("fetch_push", 3, seed=0, progress=True)
    d.validate()
    assert (
        d.observations.shape[1] == 25 and d.actions.shape[1] == 4 and d.achieved_goals.shape[1] == 3
    )
    np.testing.assert_array_equal(d.achieved_goals, d.observations[:, 3:6])  # the block
    lengths = np.diff(d.episode_ends, prepend=0)
    assert (lengths >= data_mod.MIN_EPISODE_STEPS).all() and (lengths <= 50).all()
    _assert_same(d, generate_play_data("fetch_push", 3, seed=0))


def test_generate_rejects_bad_arguments():
    with pytest.raises(KeyError, match="known"):
        generate_play_data("nope", 2)
    with pytest.raises(ValueError, match="episodes >= 1"):
        generate_play_data("pointmaze_medium", 0)


# --- our format ---------------------------------------------------------------------------


def test_save_load_round_trip(maze_data, tmp_path):
    path = save_play_data(maze_data, tmp_path / "sub" / "play.npz")
    assert path == tmp_path / "sub" / "play.npz"
    back = load_play_data(path)
    _assert_same(maze_data, back)
    assert back.meta == json.loads(json.dumps(maze_data.meta))
    assert [p.name for p in path.parent.iterdir()] == ["play.npz"]  # no temporary left over
    with pytest.raises(ValueError, match=r"\.npz"):
        save_play_data(maze_data, tmp_path / "play.h5")


def test_save_is_atomic(maze_data, tmp_path, monkeypatch):
    path = save_play_data(maze_data, tmp_path / "play.npz")
    before = path.read_bytes()

    def broken(f, **arrays):
        f.write(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_play_data(maze_data, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["play.npz"]


def _write_npz(path: Path, data: PlayData, **changes) -> Path:
    arrays = {k: getattr(data, k) for k in (*ARRAYS, "action_low", "action_high")}
    arrays.update(format_version=np.array(FORMAT_VERSION), env=np.array(data.env))
    arrays["meta"] = np.array(json.dumps(data.meta))
    for k, v in changes.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v
    np.savez(path, **arrays)
    return path


def _nan_obs(d):
    obs = d.observations.copy()
    obs[3, 1] = np.nan
    return obs


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: {"actions": None}, "missing key.*actions"),
        (lambda d: {"episode_ends": None}, "missing key.*episode_ends"),
        (lambda d: {"format_version": np.array(7)}, "format_version 7"),
        (lambda d: {"actions": d.actions[:-1]}, "actions must have shape"),
        (lambda d: {"observations": d.observations[:, 0]}, "observations must have shape"),
        (lambda d: {"actions": d.actions[:, :1]}, "action_low must be finite with shape"),
        (lambda d: {"observations": np.zeros((len(d), 5), np.float32)}, "do not match env"),
        (lambda d: {"observations": _nan_obs(d)}, "observations holds NaN"),
        (lambda d: {"episode_ends": d.episode_ends[::-1].copy()}, "strictly increasing"),
        (lambda d: {"episode_ends": d.episode_ends - 1}, "must end at N"),
        (lambda d: {"episode_ends": d.episode_ends.astype(np.float64)}, "integer"),
        (lambda d: {"actions": 3 * d.actions}, r"actions leave \[action_low, action_high\]"),
        (lambda d: {"action_low": np.ones(2, np.float32)}, "action_low must lie below"),
        (lambda d: {"env": np.array("mars")}, "'mars'"),
        (lambda d: {"meta": np.array("{not json")}, "meta is not a JSON"),
    ],
)
def test_broken_npz_files_name_the_file_and_the_problem(maze_data, tmp_path, change, message):
    path = _write_npz(tmp_path / "bad.npz", maze_data, **change(maze_data))
    with pytest.raises(ValueError, match=message) as err:
        load_play_data(path)
    assert "bad.npz" in str(err.value)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="corrupt.npz.*not a readable .npz"):
        load_play_data(bad)
    bad_h5 = tmp_path / "corrupt.hdf5"
    bad_h5.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="corrupt.hdf5.*not a readable HDF5"):
        load_play_data(bad_h5)
    other = tmp_path / "play.csv"
    other.write_text("1,2\n")
    with pytest.raises(ValueError, match="play.csv.*unknown play-data format"):
        load_play_data(other)
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_play_data(tmp_path / "nothere.npz")
    with pytest.raises(FileNotFoundError, match="main_data.hdf5"):
        load_play_data(tmp_path)  # a folder, but no Minari dataset


def test_validate_names_the_array(maze_data):
    with pytest.raises(ValueError, match="desired_goals"):
        replace(maze_data, desired_goals=maze_data.desired_goals[:, :1]).validate()
    with pytest.raises(ValueError, match="action_high"):
        replace(maze_data, action_high=np.ones(3, np.float32)).validate()


def test_cached_play_data_generates_once(tmp_path, monkeypatch):
    calls = []
    real = data_mod.generate_play_data

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(data_mod, "generate_play_data", counting)
    a = cached_play_data("pointmaze_medium", 2, 3, tmp_path)
    b = cached_play_data("pointmaze_medium", 2, 3, tmp_path)
    assert len(calls) == 1 and (tmp_path / "pointmaze_medium_e2_s3.npz").is_file()
    _assert_same(a, b)
    (tmp_path / "pointmaze_medium_e2_s3.npz").write_bytes(b"broken")  # a broken cache entry
    _assert_same(a, cached_play_data("pointmaze_medium", 2, 3, tmp_path))
    assert len(calls) == 2


# --- D4RL-style hdf5 ------------------------------------------------------------------------


def _maze2d_arrays(n: int = 12):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    terminals = np.zeros(n, bool)
    timeouts = np.zeros(n, bool)
    terminals[3] = True
    timeouts[8] = True  # episodes [0, 4), [4, 9), [9, 12) (the last one unfinished)
    goal = np.repeat(rng.normal(size=(3, 2)), [4, 5, 3], axis=0)
    return obs, actions, terminals, timeouts, goal


def test_d4rl_file(tmp_path):
    obs, actions, terminals, timeouts, goal = _maze2d_arrays()
    path = tmp_path / "maze2d.hdf5"
    with h5py.File(path, "w") as f:
        f["observations"], f["actions"] = obs, actions
        f["terminals"], f["timeouts"] = terminals, timeouts
        f["infos/goal"] = goal
    d = load_play_data(path)
    assert d.env == "unknown" and d.meta["format"] == "d4rl"
    np.testing.assert_array_equal(d.episode_ends, [4, 9, 12])
    np.testing.assert_array_equal(d.observations, obs)
    np.testing.assert_array_equal(d.actions, actions)
    np.testing.assert_array_equal(d.achieved_goals, obs[:, :2])
    np.testing.assert_allclose(d.desired_goals, goal)
    np.testing.assert_array_equal(d.action_low, [-1, -1])
    np.testing.assert_array_equal(d.action_high, [1, 1])


def test_d4rl_file_without_goals_uses_each_episodes_last_state(tmp_path):
    obs, actions, terminals, _, _ = _maze2d_arrays()
    path = tmp_path / "maze2d.h5"
    with h5py.File(path, "w") as f:
        f["observations"], f["actions"], f["terminals"] = obs, actions, terminals
    d = load_play_data(path)
    np.testing.assert_array_equal(d.episode_ends, [4, 12])
    np.testing.assert_array_equal(d.desired_goals[:4], np.repeat(obs[3:4, :2], 4, 0))
    np.testing.assert_array_equal(d.desired_goals[4:], np.repeat(obs[11:12, :2], 8, 0))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.pop("actions"), "missing dataset 'actions'"),
        (lambda f: f.update(actions=f["actions"][:-1]), "12 observations but 11 actions"),
        (lambda f: [f.pop("terminals"), f.pop("timeouts")], "terminals.*timeouts"),
        (lambda f: f.update(timeouts=f["timeouts"][:5]), "timeouts has shape"),
        (lambda f: f.update(observations=np.zeros((12, 7), np.float32)), "7 features"),
        (lambda f: f.update(observations=np.full((12, 4), np.nan, np.float32)), "NaN"),
    ],
)
def test_broken_d4rl_files(tmp_path, edit, message):
    obs, actions, terminals, timeouts, _ = _maze2d_arrays()
    arrays = {"observations": obs, "actions": actions, "terminals": terminals, "timeouts": timeouts}
    edit(arrays)
    path = tmp_path / "broken.hdf5"
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    with pytest.raises(ValueError, match=message) as err:
        load_play_data(path)
    assert "broken.hdf5" in str(err.value)


# --- Minari dataset folders -----------------------------------------------------------------


def _minari(root: Path, episodes: list[dict], attrs: dict | None = None) -> Path:
    main = root / "data" / "main_data.hdf5"
    main.parent.mkdir(parents=True)
    with h5py.File(main, "w") as f:
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        for i, ep in enumerate(episodes):
            g = f.create_group(f"episode_{i}")
            for k, v in ep.items():
                g[k] = v
    return root


def _dict_episode(rng, t: int) -> dict:
    return {
        "actions": rng.uniform(-1, 1, (t, 2)).astype(np.float32),
        "observations/observation": rng.normal(size=(t + 1, 4)).astype(np.float32),
        "observations/achieved_goal": rng.normal(size=(t + 1, 2)).astype(np.float32),
        "observations/desired_goal": rng.normal(size=(t + 1, 2)).astype(np.float32),
        "rewards": np.zeros(t),
    }


def test_minari_folder_with_dict_observations(tmp_path):
    rng = np.random.default_rng(0)
    eps = [_dict_episode(rng, t) for t in (5, 3, 4)]
    spec = json.dumps({"id": "PointMaze_Medium-v3", "max_episode_steps": 600})
    space = json.dumps({"type": "Box", "shape": [2], "low": [-2.0, -2.0], "high": [2.0, 2.0]})
    d = load_play_data(_minari(tmp_path / "ds", eps, {"env_spec": spec, "action_space": space}))
    assert d.env == "pointmaze_medium" and d.meta["format"] == "minari"
    np.testing.assert_array_equal(d.episode_ends, [5, 8, 12])
    for sl, ep in zip(d.episode_slices(), eps):
        t = sl.stop - sl.start
        np.testing.assert_array_equal(d.actions[sl], ep["actions"])
        np.testing.assert_array_equal(d.observations[sl], ep["observations/observation"][:t])
        np.testing.assert_array_equal(d.achieved_goals[sl], ep["observations/achieved_goal"][:t])
        np.testing.assert_array_equal(d.desired_goals[sl], ep["observations/desired_goal"][:t])
    np.testing.assert_array_equal(d.action_low, [-2, -2])


def test_minari_folder_with_flat_observations_in_episode_order(tmp_path):
    rng = np.random.default_rng(1)
    eps = [
        {"actions": rng.uniform(-1, 1, (t, 2)), "observations": rng.normal(size=(t + 1, 4))}
        for t in (2, 3, 4, 2, 2, 2, 2, 2, 2, 2, 6)  # episode_10 must come after episode_9
    ]
    d = load_play_data(_minari(tmp_path / "ds", eps))
    assert d.env == "unknown"
    np.testing.assert_array_equal(d.episode_ends, np.cumsum([2, 3, 4, 2, 2, 2, 2, 2, 2, 2, 6]))
    last = d.episode_slices()[-1]
    np.testing.assert_allclose(d.observations[last], eps[-1]["observations"][:6], rtol=1e-6)
    np.testing.assert_allclose(d.achieved_goals[last], eps[-1]["observations"][:6, :2], rtol=1e-6)
    np.testing.assert_allclose(
        d.desired_goals[last], np.repeat(eps[-1]["observations"][5:6, :2], 6, 0), rtol=1e-6
    )
    # the main file itself loads the same way
    _assert_same(d, load_play_data(tmp_path / "ds" / "data" / "main_data.hdf5"))


def test_broken_minari_folders(tmp_path):
    rng = np.random.default_rng(2)
    ep = _dict_episode(rng, 4)
    ep["observations/achieved_goal"] = ep["observations/achieved_goal"][:4]  # T, not T + 1
    with pytest.raises(
        ValueError, match="episode_0: achieved_goal has 4 rows, expected T \\+ 1 = 5"
    ):
        load_play_data(_minari(tmp_path / "a", [ep]))
    ep = _dict_episode(rng, 4)
    del ep["observations/desired_goal"]
    with pytest.raises(ValueError, match="missing dataset 'desired_goal'"):
        load_play_data(_minari(tmp_path / "b", [ep]))
    ep = {"actions": np.zeros((3, 2)), "observations": np.zeros((4, 4))}
    ep2 = {"actions": np.zeros((3, 3)), "observations": np.zeros((4, 4))}
    with pytest.raises(ValueError, match="main_data.hdf5.*disagree"):
        load_play_data(_minari(tmp_path / "c", [ep, ep2]))
    with pytest.raises(ValueError, match="main_data.hdf5.*every episode is empty"):
        load_play_data(
            _minari(
                tmp_path / "d", [{"actions": np.zeros((0, 2)), "observations": np.zeros((1, 4))}]
            )
        )
