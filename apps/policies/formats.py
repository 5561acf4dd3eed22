"""Readers for other people's play-data files: D4RL-style HDF5 and Minari datasets.

D4RL-style: ``observations`` (N, d), ``actions`` (N, a), ``terminals`` and/or ``timeouts``
(N,) marking an episode's last step, optionally ``infos/goal`` (N, g). Minari:
``main_data.hdf5`` with groups ``episode_k`` holding ``actions`` (T, a) and ``observations``
(T + 1, ...), an array or a group of observation/achieved_goal/desired_goal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .data import PlayData
from .envs import ENV_NAMES, env_info


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "reading .hdf5 play data needs h5py: pip install 'scorelab[policies]'"
        ) from e
    return h5py


def _achieved_from_obs(obs: np.ndarray, where: str) -> np.ndarray:
    """The goal-space image of flat observations: maze2d [x, y, vx, vy] or FetchPush's block."""
    if obs.shape[1] == 4:
        return obs[:, :2]
    if obs.shape[1] == 25:
        return obs[:, 3:6]
    raise ValueError(
        f"{where}: cannot tell the achieved goal of observations with {obs.shape[1]} features "
        "(known: maze2d-like (N, 4) [x, y, vx, vy] and FetchPush (N, 25)); "
        "store observations as a group with observation/achieved_goal/desired_goal"
    )


def _bounds(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[-1, 1] (the gymnasium-robotics convention) widened to the data's range if it leaves it."""
    low = np.minimum(-1.0, actions.min(0)).astype(np.float32)
    high = np.maximum(1.0, actions.max(0)).astype(np.float32)
    return low, high


def _final_goals(achieved: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each step's desired goal when none is stored: the last achieved goal of its episode."""
    starts = np.concatenate([[0], ends[:-1]])
    return np.repeat(achieved[ends - 1], ends - starts, axis=0)


def _read(group: Any, key: str, where: str) -> np.ndarray:
    if key not in group:
        raise ValueError(
            f"{where}: missing dataset {key!r} (has {', '.join(sorted(group.keys()))})"
        )
    item = group[key]
    if not hasattr(item, "shape"):
        raise ValueError(f"{where}: {key!r} is a group, expected an array")
    return np.asarray(item[()])


def _as_2d(a: np.ndarray, name: str, where: str) -> np.ndarray:
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{where}: {name} must be (N, d), got shape {a.shape}")
    return a.astype(np.float32)


def _load_d4rl(f: Any, path: Path) -> PlayData:
    where = str(path)
    obs = _as_2d(_read(f, "observations", where), "observations", where)
    actions = _as_2d(_read(f, "actions", where), "actions", where)
    n = len(obs)
    if len(actions) != n:
        raise ValueError(f"{where}: {n} observations but {len(actions)} actions")
    flags = np.zeros(n, dtype=bool)
    if "terminals" not in f and "timeouts" not in f:
        raise ValueError(f"{where}: needs 'terminals' and/or 'timeouts' to split episodes")
    for key in ("terminals", "timeouts"):
        if key in f:
            flag = _read(f, key, where).reshape(-1)
            if flag.shape != (n,):
                raise ValueError(f"{where}: {key} has shape {flag.shape}, expected ({n},)")
            flags |= flag.astype(bool)
    ends = np.flatnonzero(flags) + 1
    if ends.size == 0 or ends[-1] != n:
        ends = np.append(ends, n)  # an unfinished last episode
    ends = ends.astype(np.int64)
    achieved = _achieved_from_obs(obs, where)
    if "infos" in f and "goal" in f["infos"]:
        desired = _as_2d(_read(f["infos"], "goal", where + ":infos"), "infos/goal", where)
        if desired.shape[0] != n:
            raise ValueError(f"{where}: infos/goal has {desired.shape[0]} rows, expected {n}")
    else:
        desired = _final_goals(achieved, ends)
    low, high = _bounds(actions)
    return PlayData(
        "unknown", obs, actions, achieved, desired, ends, low, high,
        meta={"source": str(path), "format": "d4rl"},
    )  # fmt: skip


def _minari_env(f: Any) -> str:
    """Our env name when the dataset's env spec names one of our gym ids, else "unknown"."""
    try:
        spec = json.loads(f.attrs["env_spec"])
        gym_id = spec["id"]
    except Exception:
        return "unknown"
    return next((n for n in ENV_NAMES if env_info(n).gym_id == gym_id), "unknown")


def _minari_bounds(f: Any, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        space = json.loads(f.attrs["action_space"])
        low = np.asarray(space["low"], dtype=np.float32).reshape(-1)
        high = np.asarray(space["high"], dtype=np.float32).reshape(-1)
        if low.shape == high.shape == (actions.shape[1],) and np.isfinite([low, high]).all():
            return low, high
    except Exception:
        pass
    return _bounds(actions)


def _load_minari(f: Any, path: Path) -> PlayData:
    names = [k for k in f if k.startswith("episode_") and k[8:].isdigit()]
    if not names:
        raise ValueError(f"{path}: no episode_<k> groups (has {', '.join(sorted(f.keys()))})")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "ag", "dg")}
    ends, n = [], 0
    for name in sorted(names, key=lambda k: int(k[8:])):
        where = f"{path}:{name}"
        ep = f[name]
        actions = _as_2d(_read(ep, "actions", where), "actions", where)
        t = len(actions)
        if t == 0:
            continue
        if "observations" not in ep:
            raise ValueError(f"{where}: missing 'observations'")
        raw = ep["observations"]
        if hasattr(raw, "shape"):  # a flat array
            obs = _as_2d(np.asarray(raw[()]), "observations", where)
            achieved, desired = _achieved_from_obs(obs, where), None
        else:
            sub = where + "/observations"
            obs = _as_2d(_read(raw, "observation", sub), "observation", sub)
            achieved = _as_2d(_read(raw, "achieved_goal", sub), "achieved_goal", sub)
            desired = _as_2d(_read(raw, "desired_goal", sub), "desired_goal", sub)
        for label, a in (
            ("observations", obs),
            ("achieved_goal", achieved),
            ("desired_goal", desired),
        ):
            if a is not None and len(a) != t + 1:
                raise ValueError(f"{where}: {label} has {len(a)} rows, expected T + 1 = {t + 1}")
        n += t
        ends.append(n)
        cols["obs"].append(obs[:t])
        cols["act"].append(actions)
        cols["ag"].append(achieved[:t])
        cols["dg"].append(np.repeat(achieved[t - 1 : t], t, 0) if desired is None else desired[:t])
    if not ends:
        raise ValueError(f"{path}: every episode is empty")
    try:
        data = {k: np.concatenate(v) for k, v in cols.items()}
    except ValueError as e:
        raise ValueError(f"{path}: episodes disagree in their array widths ({e})") from e
    low, high = _minari_bounds(f, data["act"])
    return PlayData(
        _minari_env(f), data["obs"], data["act"], data["ag"], data["dg"],
        np.array(ends, dtype=np.int64), low, high,
        meta={"source": str(path), "format": "minari", "episodes": len(ends)},
    )  # fmt: skip


def load_hdf5(path: Path) -> PlayData:
    """A D4RL-style HDF5 file or a Minari ``main_data.hdf5`` as PlayData (unvalidated)."""
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e})") from e
    with f:
        if any(k.startswith("episode_") for k in f):
            return _load_minari(f, path)
        return _load_d4rl(f, path)
