"""Squared MMD between two sets of descriptors (histograms or vectors), the GraphRNN/GDSS recipe.

``compute_mmd`` is the biased estimate ``disc(X, X) + disc(Y, Y) - 2 disc(X, Y)`` where
``disc`` is the mean kernel value over ALL pairs (i = j included), as in GDSS's
``evaluation/mmd.py``. Histograms are normalised to sum 1 first (``is_hist=True``) and
zero-padded to a common length (a padded zero bin changes none of the kernels below).

Kernels (each also has a vectorised pairwise form used by ``compute_mmd``):

- ``gaussian_emd``: ``exp(-EMD^2 / (2 sigma^2))`` with the 1-D earth mover's distance under
  ground distance ``|i - j| / distance_scaling``. For two histograms of equal mass that EMD is
  the L1 distance of their CDFs divided by the scaling (closed form; GDSS calls pyemd).
- ``gaussian_tv``: ``exp(-TV^2 / (2 sigma^2))``, ``TV = 0.5 * L1`` (GRAN / SPECTRE).
- ``gaussian``: ``exp(-||x - y||^2 / (2 sigma^2))`` on raw vectors (orbit counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Kernel = Callable[..., float]


def _stack(samples: Sequence[Any], width: int) -> np.ndarray:
    """Rows of float64, zero-padded on the right to ``width``."""
    out = np.zeros((len(samples), width), dtype=np.float64)
    for i, s in enumerate(samples):
        out[i, : len(s)] = s
    return out


def _as_vectors(samples: Sequence[Any], name: str) -> list[np.ndarray]:
    vecs = []
    for i, s in enumerate(samples):
        v = np.asarray(s, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(f"{name}[{i}]: expected a 1-D vector, got shape {v.shape}")
        vecs.append(v)
    return vecs


def _cityblock(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(x, y, metric="cityblock")


def pairwise_gaussian_emd(
    x: np.ndarray, y: np.ndarray, sigma: float = 1.0, distance_scaling: float = 1.0
) -> np.ndarray:
    """Gaussian-EMD kernel matrix between rows of x (n, d) and y (m, d), equal-mass histograms."""
    emd = _cityblock(np.cumsum(x, axis=1), np.cumsum(y, axis=1)) / distance_scaling
    return np.exp(-(emd**2) / (2 * sigma**2))


def pairwise_gaussian_tv(x: np.ndarray, y: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian total-variation kernel matrix between rows of x (n, d) and y (m, d)."""
    tv = 0.5 * _cityblock(x, y)
    return np.exp(-(tv**2) / (2 * sigma**2))


def pairwise_gaussian(x: np.ndarray, y: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian (RBF) kernel matrix between rows of x (n, d) and y (m, d)."""
    from scipy.spatial.distance import cdist

    return np.exp(-cdist(x, y, metric="sqeuclidean") / (2 * sigma**2))


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_vectors([x], "x")[0], _as_vectors([y], "y")[0]
    width = max(len(x), len(y))
    return _stack([x], width), _stack([y], width)


def emd_1d(x: Any, y: Any, distance_scaling: float = 1.0) -> float:
    """Earth mover's distance of two equal-mass 1-D histograms, ground distance |i-j|/scaling."""
    a, b = _pair(x, y)
    return float(np.abs(np.cumsum(a - b)).sum() / distance_scaling)


def gaussian_emd(x: Any, y: Any, sigma: float = 1.0, distance_scaling: float = 1.0) -> float:
    """Gaussian kernel with the squared distance replaced by the squared 1-D EMD."""
    a, b = _pair(x, y)
    return float(pairwise_gaussian_emd(a, b, sigma, distance_scaling)[0, 0])


def gaussian_tv(x: Any, y: Any, sigma: float = 1.0) -> float:
    """Gaussian kernel on the total variation distance ``0.5 * ||x - y||_1``."""
    a, b = _pair(x, y)
    return float(pairwise_gaussian_tv(a, b, sigma)[0, 0])


def gaussian(x: Any, y: Any, sigma: float = 1.0) -> float:
    """Gaussian kernel ``exp(-||x - y||^2 / (2 sigma^2))``; the shorter vector is zero-padded."""
    a, b = _pair(x, y)
    return float(pairwise_gaussian(a, b, sigma)[0, 0])


KERNELS: dict[str, Kernel] = {
    "gaussian_emd": gaussian_emd,
    "gaussian_tv": gaussian_tv,
    "gaussian": gaussian,
}

_PAIRWISE: dict[Kernel, Callable[..., np.ndarray]] = {
    gaussian_emd: pairwise_gaussian_emd,
    gaussian_tv: pairwise_gaussian_tv,
    gaussian: pairwise_gaussian,
}


def _resolve(kernel: str | Kernel) -> Kernel:
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
        return KERNELS[kernel]
    return kernel


def kernel_matrix(
    x: np.ndarray, y: np.ndarray, kernel: str | Kernel, **kernel_kw: Any
) -> np.ndarray:
    """Kernel values between rows of x (n, d) and y (m, d): (n, m)."""
    fn = _resolve(kernel)
    if fn in _PAIRWISE:
        return _PAIRWISE[fn](x, y, **kernel_kw)
    return np.array([[fn(a, b, **kernel_kw) for b in y] for a in x], dtype=np.float64)


def compute_mmd(
    samples1: Sequence[Any],
    samples2: Sequence[Any],
    kernel: str | Kernel,
    is_hist: bool = True,
    **kernel_kw: Any,
) -> float:
    """Biased squared MMD between two sets of 1-D descriptors (lengths may differ).

    ``kernel`` is a name in ``KERNELS`` or a per-pair callable ``k(x, y, **kernel_kw)``.
    With ``is_hist`` every sample is divided by its sum first.
    """
    if len(samples1) == 0 or len(samples2) == 0:
        raise ValueError(
            f"compute_mmd needs two non-empty sets, got {len(samples1)} and {len(samples2)} samples"
        )
    v1, v2 = _as_vectors(samples1, "samples1"), _as_vectors(samples2, "samples2")
    if is_hist:
        v1, v2 = _normalise(v1, "samples1"), _normalise(v2, "samples2")
    width = max(max(len(v) for v in v1), max(len(v) for v in v2), 1)
    x, y = _stack(v1, width), _stack(v2, width)
    kxx = kernel_matrix(x, x, kernel, **kernel_kw).mean()
    kyy = kernel_matrix(y, y, kernel, **kernel_kw).mean()
    kxy = kernel_matrix(x, y, kernel, **kernel_kw).mean()
    return float(kxx + kyy - 2 * kxy)


def _normalise(vecs: list[np.ndarray], name: str) -> list[np.ndarray]:
    out = []
    for i, v in enumerate(vecs):
        total = v.sum()
        if not total > 0:
            raise ValueError(f"{name}[{i}]: histogram sums to {total}, cannot normalise")
        out.append(v / total)
    return out
