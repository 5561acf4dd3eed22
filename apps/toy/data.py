"""Built-in 2-D targets for training small score models, and a loader for a user's own points.

Every target is drawn from a local ``torch.Generator`` seeded by the caller, so a
(name, n, seed) triple always gives the same float32 (n, 2) tensor, and all four targets
have coordinates of order one:

================ ===================================================================
``gmm``          8 equal-weight isotropic Gaussians (std 0.25) on a ring of radius 2
``moons``        two interleaving half circles, noise std 0.05, then centred and scaled
                 by exact constants to zero mean and E|x|^2 = 2
``checkerboard`` uniform on the 8 filled unit squares of a 4 x 4 board on [-2, 2]^2
                 (the cells whose floor(x) + floor(y) is even)
``swissroll``    (t cos t, t sin t) + N(0, I), t uniform on [1.5 pi, 4.5 pi], divided by 5
================ ===================================================================
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from scorelab.testing import GaussianMixture

TARGETS: tuple[str, ...] = ("gmm", "moons", "checkerboard", "swissroll")

F64 = torch.float64

# two moons before standardisation: the outer arc (cos t, sin t) and the inner arc
# (1 - cos t, 1/2 - sin t), t ~ U[0, pi], each with probability 1/2, plus N(0, s^2 I).
MOONS_NOISE = 0.05
MOONS_MEAN = (0.5, 0.25)  # exact: E[x] = (0 + 1) / 2, E[y] = (2/pi + 1/2 - 2/pi) / 2
# exact covariance of the raw moons, noise included, from E[sin t] = 2/pi, E[cos t] = 0,
# E[sin^2 t] = E[cos^2 t] = 1/2 and E[sin t cos t] = 0 for t ~ U[0, pi]
MOONS_COV = (
    (0.75 + MOONS_NOISE**2, 0.125 - 1 / math.pi),
    (0.125 - 1 / math.pi, 0.5625 - 1 / math.pi + MOONS_NOISE**2),
)
# one isotropic scale (keeps the shape): the standardised set has E|x|^2 = 2
MOONS_SCALE = math.sqrt((MOONS_COV[0][0] + MOONS_COV[1][1]) / 2)

SWISSROLL_NOISE = 1.0
SWISSROLL_SCALE = 5.0

# filled squares of the checkerboard: lower-left corners (i, j) with i + j even
_CELLS = torch.tensor(
    [(i, j) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0], dtype=F64
)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".csv", ".txt")


def gmm_target() -> GaussianMixture:
    """The ``gmm`` target: 8 equal-weight Gaussians, std 0.25, on a ring of radius 2 (float64)."""
    return GaussianMixture.ring(k=8, radius=2.0, std=0.25)


def _moons(n: int, g: torch.Generator) -> Tensor:
    t = math.pi * torch.rand(n, generator=g, dtype=F64)
    inner = torch.rand(n, generator=g, dtype=F64) < 0.5
    outer_pts = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    inner_pts = torch.stack([1.0 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    x = torch.where(inner[:, None], inner_pts, outer_pts)
    x = x + MOONS_NOISE * torch.randn(n, 2, generator=g, dtype=F64)
    return (x - torch.tensor(MOONS_MEAN, dtype=F64)) / MOONS_SCALE


def _checkerboard(n: int, g: torch.Generator) -> Tensor:
    cell = torch.randint(len(_CELLS), (n,), generator=g)
    return _CELLS[cell] + torch.rand(n, 2, generator=g, dtype=F64)


def _swissroll(n: int, g: torch.Generator) -> Tensor:
    t = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(n, generator=g, dtype=F64))
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    x = x + SWISSROLL_NOISE * torch.randn(n, 2, generator=g, dtype=F64)
    return x / SWISSROLL_SCALE


def _check_name(name: str) -> str:
    if name not in TARGETS:
        raise ValueError(f"unknown toy target {name!r}; known: {', '.join(TARGETS)}")
    return name


def make_target(name: str, n: int, seed: int) -> Tensor:
    """Draw ``n`` points (float32, shape (n, 2)) of target ``name``, deterministic in ``seed``."""
    _check_name(name)
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"need a positive integer number of points, got n={n!r}")
    g = torch.Generator().manual_seed(seed)
    if name == "gmm":
        x = gmm_target().sample(n, g)
    elif name == "moons":
        x = _moons(n, g)
    elif name == "checkerboard":
        x = _checkerboard(n, g)
    else:
        x = _swissroll(n, g)
    return x.to(torch.float32).contiguous()


def splits(name: str, n_train: int, n_test: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Independent train and held-out test draws of ``name``, from seeds 2*seed and 2*seed + 1.

    Train seeds are even and test seeds odd, so no test set ever reuses a train stream.
    """
    _check_name(name)
    return make_target(name, n_train, 2 * seed), make_target(name, n_test, 2 * seed + 1)


# --- a user's own points -------------------------------------------------------------------


def _parse_text(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e.reason})") from e
    rows: list[list[float]] = []
    first_line = True
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")] if "," in line else line.split()
        values: list[float] = []
        bad: list[str] = []
        for f in fields:
            try:
                values.append(float(f))
            except ValueError:
                bad.append(f)
        if first_line and len(bad) == len(fields):  # a header line: skip it
            first_line = False
            continue
        first_line = False
        if bad:
            raise ValueError(f"{path}: line {lineno}: non-numeric field(s) {bad[:3]}")
        if rows and len(values) != len(rows[0]):
            raise ValueError(
                f"{path}: line {lineno} has {len(values)} columns, earlier rows have {len(rows[0])}"
            )
        rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no numeric rows found")
    return np.asarray(rows, dtype=np.float64)


def _read_array(path: Path, suffix: str) -> np.ndarray:
    if suffix in (".csv", ".txt"):
        return _parse_text(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: unreadable or corrupt {suffix} file ({e})") from e
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded as npz:
        keys = list(npz.files)
        if "x" in keys:
            key = "x"
        elif len(keys) == 1:
            key = keys[0]
        else:
            raise ValueError(
                f"{path}: .npz needs an array named 'x' or exactly one array; found {keys}"
            )
        try:
            return npz[key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path}: unreadable array {key!r} in .npz ({e})") from e


def load_points(path: str | os.PathLike) -> Tensor:
    """Load a user's point set (n, d) from .npy, .npz (key 'x'), .csv or .txt as float32."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported extension {path.suffix!r}; supported: "
            f"{', '.join(SUPPORTED_SUFFIXES)}"
        )
    arr = _read_array(path, suffix)
    kind = arr.dtype.kind
    if kind not in "iuf":
        raise ValueError(f"{path}: need a numeric (integer or float) array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{path}: need a 2-D array (n, d), got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{path}: need at least 2 rows and 1 column, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    bad_rows = ~np.isfinite(arr).all(axis=1)
    if bad_rows.any():
        first = int(np.flatnonzero(bad_rows)[0])
        raise ValueError(
            f"{path}: {int(bad_rows.sum())} of {arr.shape[0]} rows contain NaN or inf "
            f"(first: row {first})"
        )
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{path}: values exceed the float32 range")
    return torch.from_numpy(np.ascontiguousarray(out))


__all__ = ["TARGETS", "gmm_target", "load_points", "make_target", "splits"]
