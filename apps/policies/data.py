"""Play data: episodes of (observation, action, achieved goal), generated, saved and loaded.

The embedded default is generated offline by the scripted experts (:mod:`.experts`): a
PointMaze episode starts in a random free cell and drives to a random goal cell along one
of the shortest paths, drawn at random, so the data holds several routes between the same
cells; a Fetch episode is one push of the block to the env's goal. Episodes end a few steps
after success (and last at least ``MIN_EPISODE_STEPS``), or at the env's time limit.

Files we read: ours, ``.npz`` (:func:`save_play_data`, ``format_version`` 1): the
:class:`PlayData` arrays plus ``env``, ``format_version`` and ``meta`` (a JSON string); and,
through :mod:`.formats`, D4RL-style and Minari files. Formats of those:

* D4RL-style ``.hdf5``/``.h5``: ``observations`` (N, d), ``actions`` (N, a), ``terminals``
  and/or ``timeouts`` (N,) marking the last step of an episode, optionally ``infos/goal``
  (N, g). The achieved goal is read off the observation: maze2d's (N, 4) ``[x, y, vx, vy]``
  gives ``[x, y]``, FetchPush's (N, 25) gives the block position ``[3:6]``;
* a Minari dataset folder: ``<dir>/data/main_data.hdf5`` with groups ``episode_0``,
  ``episode_1``, ... each holding ``actions`` (T, a) and ``observations``, either an array
  (T + 1, d) or a group with ``observation``, ``achieved_goal``, ``desired_goal``
  (T + 1, ...). The last observation (after the last action) is dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.io import atomic

from .envs import ENV_NAMES, env_info, make_env, split_obs

FORMAT_VERSION = 1
POST_SUCCESS_STEPS = {"maze": 10, "fetch": 3}
"""steps a generated episode goes on after its first success"""
MIN_EPISODE_STEPS = 10
"""a generated episode lasts at least this long (a Fetch block may start next to its goal)"""

_ARRAYS = (
    "observations",
    "actions",
    "achieved_goals",
    "desired_goals",
    "episode_ends",
    "action_low",
    "action_high",
)
_KEYS = ("format_version", "env", "meta", *_ARRAYS)


@dataclass
class PlayData:
    """Episodes of play, concatenated: N steps in E episodes."""

    env: str
    """an ``ENV_NAMES`` entry, or "unknown" for foreign files"""
    observations: np.ndarray
    """(N, obs_dim) float32, the env's "observation" (without the goal)"""
    actions: np.ndarray
    """(N, act_dim) float32, inside [action_low, action_high]"""
    achieved_goals: np.ndarray
    """(N, goal_dim) float32, the goal-space image of each observation"""
    desired_goals: np.ndarray
    """(N, goal_dim) float32, what the expert was pursuing (informative only)"""
    episode_ends: np.ndarray
    """(E,) int64, exclusive end index of each episode, increasing, last == N"""
    action_low: np.ndarray
    action_high: np.ndarray
    meta: dict = field(default_factory=dict)
    """seed, episodes, generator, success rate, source, ..."""

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    def episode_slices(self) -> list[slice]:
        """The index range of every episode."""
        starts = np.concatenate([[0], self.episode_ends[:-1]])
        return [slice(int(a), int(b)) for a, b in zip(starts, self.episode_ends)]

    def validate(self) -> None:
        """Check shapes, dtypes, finite values, bounds, episode ends; ValueError names the array."""
        for name in _ARRAYS:
            if not isinstance(getattr(self, name), np.ndarray):
                raise ValueError(f"{name} must be a numpy array, got {type(getattr(self, name))}")
        if self.env not in (*ENV_NAMES, "unknown"):
            raise ValueError(
                f"env {self.env!r} is neither one of {', '.join(ENV_NAMES)} nor 'unknown'"
            )
        n = len(self)
        for name in ("observations", "actions", "achieved_goals", "desired_goals"):
            a = getattr(self, name)
            if a.ndim != 2 or a.shape[0] != n or a.shape[1] < 1:
                raise ValueError(
                    f"{name} must have shape (N, d) with N = {n} (as observations), got {a.shape}"
                )
            if not np.issubdtype(a.dtype, np.floating):
                raise ValueError(f"{name} must be floating point, got {a.dtype}")
            if not np.isfinite(a).all():
                raise ValueError(f"{name} holds NaN or inf values")
        if n == 0:
            raise ValueError("observations is empty")
        if self.achieved_goals.shape[1] != self.desired_goals.shape[1]:
            raise ValueError(
                f"achieved_goals {self.achieved_goals.shape} and desired_goals "
                f"{self.desired_goals.shape} differ in goal_dim"
            )
        act_dim = self.actions.shape[1]
        for name in ("action_low", "action_high"):
            b = getattr(self, name)
            if b.shape != (act_dim,) or not np.isfinite(b).all():
                raise ValueError(f"{name} must be finite with shape ({act_dim},), got {b.shape}")
        if not (self.action_low < self.action_high).all():
            raise ValueError("action_low must lie below action_high")
        tol = 1e-5 * (self.action_high - self.action_low)
        if (self.actions < self.action_low - tol).any() or (
            self.actions > self.action_high + tol
        ).any():
            raise ValueError("actions leave [action_low, action_high]")
        ends = self.episode_ends
        if ends.ndim != 1 or ends.size == 0 or not np.issubdtype(ends.dtype, np.integer):
            raise ValueError(
                f"episode_ends must be a non-empty 1-d integer array, got {ends.shape} {ends.dtype}"
            )
        if ends[0] <= 0 or (np.diff(ends) <= 0).any():
            raise ValueError("episode_ends must be positive and strictly increasing")
        if ends[-1] != n:
            raise ValueError(f"episode_ends must end at N = {n}, ends at {int(ends[-1])}")
        if self.env in ENV_NAMES:
            info = env_info(self.env)
            dims = (self.observations.shape[1], self.achieved_goals.shape[1], act_dim)
            if dims != (info.obs_dim, info.goal_dim, info.act_dim):
                raise ValueError(
                    f"(obs, goal, action) dims {dims} do not match env {self.env!r}: "
                    f"{(info.obs_dim, info.goal_dim, info.act_dim)}"
                )


# --- generation ----------------------------------------------------------------------------


def generate_play_data(env: str, episodes: int, seed: int = 0, progress: bool = False) -> PlayData:
    """``episodes`` episodes of scripted play in ``env``, deterministic under ``seed``."""
    from .experts import make_expert

    info = env_info(env)
    if episodes < 1:
        raise ValueError(f"need episodes >= 1, got {episodes}")
    sim = make_env(env)
    expert = make_expert(env)
    maze = getattr(expert, "maze", None)
    rng = np.random.default_rng(seed)
    post = POST_SUCCESS_STEPS["maze" if maze is not None else "fetch"]
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "ag", "dg")}
    ends, successes, n = [], 0, 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=episodes, desc=f"play data {env}", unit="ep")
    try:
        for _ in range(episodes):
            options = None
            if maze is not None:
                a, b = rng.choice(len(maze.free_cells), size=2, replace=False)
                options = {
                    "reset_cell": np.array(maze.free_cells[a]),
                    "goal_cell": np.array(maze.free_cells[b]),
                }
            obs = sim.reset(seed=int(rng.integers(2**31)), options=options)[0]
            expert.reset(obs, np.random.default_rng(rng.integers(2**63)))
            first_success = None
            for t in range(info.max_steps):
                action = expert.act(obs)
                o, ag, dg = split_obs(obs)
                for k, v in zip(("obs", "act", "ag", "dg"), (o, action, ag, dg)):
                    cols[k].append(v)
                obs, _, terminated, truncated, step_info = sim.step(action)
                ok = bool(step_info.get("success", step_info.get("is_success", False)))
                if ok and first_success is None:
                    first_success = t
                done = first_success is not None and t >= max(
                    first_success + post, MIN_EPISODE_STEPS - 1
                )
                if terminated or truncated or done:
                    break
            n += t + 1
            ends.append(n)
            successes += first_success is not None
            if bar is not None:
                bar.update(1)
                bar.set_postfix(success=f"{successes / len(ends):.2f}", refresh=False)
    finally:
        sim.close()
        if bar is not None:
            bar.close()
    space = sim.action_space
    data = PlayData(
        env=env,
        observations=np.stack(cols["obs"]).astype(np.float32),
        actions=np.stack(cols["act"]).astype(np.float32),
        achieved_goals=np.stack(cols["ag"]).astype(np.float32),
        desired_goals=np.stack(cols["dg"]).astype(np.float32),
        episode_ends=np.array(ends, dtype=np.int64),
        action_low=np.asarray(space.low, dtype=np.float32),
        action_high=np.asarray(space.high, dtype=np.float32),
        meta={
            "generator": type(expert).__name__,
            "env": env,
            "gym_id": info.gym_id,
            "episodes": episodes,
            "seed": seed,
            "steps": n,
            "success_rate": successes / episodes,
            "post_success_steps": post,
        },
    )
    data.validate()
    return data


# --- our format ----------------------------------------------------------------------------


def save_play_data(data: PlayData, path: str | os.PathLike) -> Path:
    """Write ``data`` to ``path`` (.npz, format_version 1), atomically."""
    data.validate()
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"play data is saved as .npz, got {path}")
    arrays: dict[str, Any] = {k: np.asarray(getattr(data, k)) for k in _ARRAYS}
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["env"] = np.array(data.env)
    arrays["meta"] = np.array(json.dumps(data.meta, default=_json_default))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to the name
            np.savez_compressed(f, **arrays)

    return atomic(path, write)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _load_npz(path: Path) -> PlayData:
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, OSError, ValueError, EOFError ...
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    missing = [k for k in _KEYS if k not in raw]
    if missing:
        raise ValueError(
            f"{path}: missing key(s) {', '.join(missing)} (has {', '.join(sorted(raw))})"
        )
    version = raw["format_version"]
    if version.shape != () or int(version) != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {version} is not {FORMAT_VERSION}")
    try:
        meta = json.loads(str(raw["meta"]))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: meta is not a JSON string ({e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: meta must be a JSON object")
    return PlayData(env=str(raw["env"]), meta=meta, **{k: raw[k] for k in _ARRAYS})


# --- foreign formats -----------------------------------------------------------------------


def load_play_data(path: str | os.PathLike) -> PlayData:
    """Load play data: ours (.npz), D4RL-style (.hdf5/.h5) or a Minari dataset folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"play data not found: {path}")
    if path.is_dir():
        main = path / "data" / "main_data.hdf5"
        if not main.is_file():
            raise FileNotFoundError(f"{path} is a folder but not a Minari dataset: no {main}")
        path = main
    if path.suffix == ".npz":
        data = _load_npz(path)
    elif path.suffix in (".hdf5", ".h5"):
        from .formats import load_hdf5

        data = load_hdf5(path)
    else:
        raise ValueError(
            f"{path}: unknown play-data format (expected .npz, .hdf5/.h5 or a Minari folder)"
        )
    try:
        data.validate()
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return data


def cached_play_data(
    env: str, episodes: int, seed: int, cache_dir: str | os.PathLike, progress: bool = False
) -> PlayData:
    """Generated play data, cached as ``<cache_dir>/<env>_e<episodes>_s<seed>.npz``."""
    env_info(env)
    path = Path(cache_dir) / f"{env}_e{episodes}_s{seed}.npz"
    if path.exists():
        try:
            data = load_play_data(path)
            meta = data.meta
            if (data.env, meta.get("episodes"), meta.get("seed")) == (env, episodes, seed):
                return data
        except ValueError:
            pass  # a stale or broken cache entry: regenerate it
    data = generate_play_data(env, episodes, seed, progress=progress)
    save_play_data(data, path)
    return data


__all__ = [
    "FORMAT_VERSION",
    "PlayData",
    "cached_play_data",
    "generate_play_data",
    "load_play_data",
    "save_play_data",
]
