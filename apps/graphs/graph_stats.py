"""Graph-statistics MMDs of generated vs reference graphs (degree, clustering, orbit, spectral).

GDSS's settings (``evaluation/stats.py`` + ``utils/loader.load_eval_settings``):

- degree: ``nx.degree_histogram``, Gaussian-EMD, sigma 1;
- cluster: histogram of ``nx.clustering`` values, 100 bins on [0, 1], Gaussian-EMD with
  sigma 0.1 and distance_scaling 100 (the bin count);
- orbit: per-graph mean of ORCA's 15 node-orbit counts (sum over nodes / n), plain Gaussian
  kernel, sigma 30, not normalised as a histogram;
- spectral: eigenvalues of the normalised Laplacian, 200 bins on (-1e-5, 2), Gaussian-EMD,
  sigma 1. Eigenvalues are clipped to [0, 2] first (GDSS does not clip, so round-off can
  drop a bipartite graph's eigenvalue 2 from its histogram).

``kernel="gaussian_tv"`` switches to GRAN/SPECTRE's kernel (degree/cluster/spectral
Gaussian-TV with the same sigmas, no distance scaling; orbit Gaussian-TV with sigma 30, still
on unnormalised counts), as SPECTRE does when ``compute_emd`` is off.
Graphs without nodes in ``pred`` are dropped first, as GDSS does; if none is left the MMD is NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .mmd import compute_mmd

METRICS = ("degree", "cluster", "orbit", "spectral")
CLUSTER_BINS = 100
SPECTRAL_BINS = 200


def degree_histogram(G: Any) -> np.ndarray:
    """Counts of nodes per degree 0..max_degree."""
    import networkx as nx

    return np.asarray(nx.degree_histogram(G), dtype=np.float64)


def clustering_histogram(G: Any, bins: int = CLUSTER_BINS) -> np.ndarray:
    """Histogram of the local clustering coefficients, ``bins`` bins on [0, 1]."""
    import networkx as nx

    hist, _ = np.histogram(list(nx.clustering(G).values()), bins=bins, range=(0.0, 1.0))
    return hist.astype(np.float64)


def spectral_histogram(G: Any, bins: int = SPECTRAL_BINS) -> np.ndarray:
    """Normalised histogram of the normalised-Laplacian eigenvalues, ``bins`` bins on (-1e-5, 2)."""
    import networkx as nx
    from scipy.linalg import eigvalsh

    eigs = eigvalsh(nx.normalized_laplacian_matrix(G).toarray())
    # The spectrum lies in [0, 2]; round-off can push a bipartite graph's eigenvalue 2 just
    # past the last bin edge, where GDSS's histogram silently drops it.
    eigs = np.clip(eigs, 0.0, 2.0)
    hist, _ = np.histogram(eigs, bins=bins, range=(-1e-5, 2.0))
    return hist / hist.sum()


def orbit_vector(G: Any) -> np.ndarray:
    """Mean over nodes of the 15 node-orbit counts: (15,)."""
    from .orbits import node_orbit_counts

    return node_orbit_counts(G).sum(axis=0) / G.number_of_nodes()


def _check(ref: Sequence[Any], pred: Sequence[Any]) -> list[Any]:
    if len(ref) == 0:
        raise ValueError("reference graph list is empty")
    for i, G in enumerate(ref):
        if G.number_of_nodes() == 0:
            raise ValueError(f"reference graph {i} has no nodes")
    return [G for G in pred if G.number_of_nodes() > 0]


def _check_kernel(kernel: str) -> None:
    if kernel not in ("gaussian_emd", "gaussian_tv"):
        raise ValueError(f"kernel must be 'gaussian_emd' or 'gaussian_tv', got {kernel!r}")


def _histogram_mmd(
    ref: Sequence[Any],
    pred: Sequence[Any],
    kernel: str,
    describe: Callable[[Any], np.ndarray],
    **kernel_kw: float,
) -> float:
    """MMD^2 between per-graph histograms ``describe(G)`` of two sets (NaN if pred is empty)."""
    _check_kernel(kernel)
    pred = _check(ref, pred)
    if not pred:
        return float("nan")
    h_ref, h_pred = [describe(G) for G in ref], [describe(G) for G in pred]
    return compute_mmd(h_ref, h_pred, kernel, **kernel_kw)


def degree_mmd(ref: Sequence[Any], pred: Sequence[Any], kernel: str = "gaussian_emd") -> float:
    """MMD^2 of degree histograms (sigma 1)."""
    return _histogram_mmd(ref, pred, kernel, degree_histogram, sigma=1.0)


def clustering_mmd(ref: Sequence[Any], pred: Sequence[Any], kernel: str = "gaussian_emd") -> float:
    """MMD^2 of clustering-coefficient histograms (100 bins, sigma 0.1)."""
    kw: dict[str, float] = {"sigma": 0.1}
    if kernel == "gaussian_emd":
        kw["distance_scaling"] = float(CLUSTER_BINS)
    return _histogram_mmd(ref, pred, kernel, clustering_histogram, **kw)


def spectral_mmd(ref: Sequence[Any], pred: Sequence[Any], kernel: str = "gaussian_emd") -> float:
    """MMD^2 of normalised-Laplacian spectrum histograms (200 bins, sigma 1)."""
    return _histogram_mmd(ref, pred, kernel, spectral_histogram, sigma=1.0)


def orbit_mmd(ref: Sequence[Any], pred: Sequence[Any], kernel: str = "gaussian") -> float:
    """MMD^2 of per-node-averaged 4-node orbit counts (sigma 30, not normalised)."""
    if kernel not in ("gaussian", "gaussian_tv"):
        raise ValueError(f"orbit kernel must be 'gaussian' or 'gaussian_tv', got {kernel!r}")
    pred = _check(ref, pred)
    if not pred:
        return float("nan")
    v_ref = [orbit_vector(G) for G in ref]
    v_pred = [orbit_vector(G) for G in pred]
    return compute_mmd(v_ref, v_pred, kernel, is_hist=False, sigma=30.0)


def graph_mmds(
    ref: Sequence[Any],
    pred: Sequence[Any],
    metrics: Sequence[str] = METRICS,
    kernel: str = "gaussian_emd",
) -> dict[str, float]:
    """The chosen MMD^2s by name; ``kernel`` as in the module docstring (orbit follows it)."""
    _check_kernel(kernel)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    out: dict[str, float] = {}
    for name in metrics:
        if name == "degree":
            out[name] = degree_mmd(ref, pred, kernel)
        elif name == "cluster":
            out[name] = clustering_mmd(ref, pred, kernel)
        elif name == "spectral":
            out[name] = spectral_mmd(ref, pred, kernel)
        else:
            out[name] = orbit_mmd(ref, pred, "gaussian" if kernel == "gaussian_emd" else kernel)
    return out
