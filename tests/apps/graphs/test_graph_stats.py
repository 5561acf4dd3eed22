"""Graph-statistics MMDs: zero on identical sets, small within a distribution, rising with noise."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from scorelab.apps.graphs.graph_stats import (
    clustering_histogram,
    clustering_mmd,
    degree_mmd,
    graph_mmds,
    orbit_mmd,
    spectral_histogram,
    spectral_mmd,
)

HAS_ORCA = True
try:
    import orbit_count  # noqa: F401
except ImportError:
    HAS_ORCA = False

ALL = ("degree", "cluster", "orbit", "spectral") if HAS_ORCA else ("degree", "cluster", "spectral")


def community(rng: np.random.Generator) -> nx.Graph:
    """Two dense ER communities joined by a few edges (community-small-like)."""
    n = int(rng.integers(12, 21))
    half = n // 2
    G = nx.Graph()
    G.add_nodes_from(range(n))
    for u in range(n):
        for v in range(u + 1, n):
            same = (u < half) == (v < half)
            if rng.random() < (0.7 if same else 0.05):
                G.add_edge(u, v)
    return G


def rewire(G: nx.Graph, frac: float, rng: np.random.Generator) -> nx.Graph:
    """Move a fraction of the edges to uniformly random non-edges."""
    H = G.copy()
    edges = list(H.edges())
    k = int(round(frac * len(edges)))
    for i in rng.choice(len(edges), size=k, replace=False):
        H.remove_edge(*edges[i])
    non_edges = list(nx.non_edges(H))
    for i in rng.choice(len(non_edges), size=k, replace=False):
        H.add_edge(*non_edges[i])
    return H


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    ref = [community(rng) for _ in range(40)]
    other = [community(rng) for _ in range(40)]
    return ref, other, rng


def test_identical_sets_give_zero(sets):
    ref, _, _ = sets
    for name, value in graph_mmds(ref, list(ref), metrics=ALL).items():
        assert abs(value) < 1e-12, name
    for name, value in graph_mmds(ref, list(ref), metrics=ALL, kernel="gaussian_tv").items():
        assert abs(value) < 1e-12, name


def test_noise_raises_every_metric_monotonically(sets):
    ref, other, rng = sets
    base = graph_mmds(ref, other, metrics=ALL)
    noisy = [
        graph_mmds(ref, [rewire(G, f, rng) for G in other], metrics=ALL) for f in (0.1, 0.3, 0.6)
    ]
    for name, factor in {"degree": 2, "cluster": 10, "orbit": 5, "spectral": 1}.items():
        if name in ALL:
            assert noisy[-1][name] > factor * base[name], (name, base[name], noisy[-1][name])
    for name in ("degree", "cluster"):
        values = [base[name]] + [v[name] for v in noisy]
        assert all(a < b for a, b in zip(values, values[1:])), (name, values)


def test_spectral_emd_saturates_but_tv_separates(sets):
    # GDSS's spectral EMD is measured in bins (no distance scaling) with sigma 1, so two
    # different spectra have kernel ~0 and the MMD sits near its ceiling 1/n + 1/m.
    ref, other, rng = sets
    assert graph_mmds(ref, other, metrics=("spectral",))["spectral"] == pytest.approx(
        2 / 40, rel=0.05
    )
    noisy = [rewire(G, 0.6, rng) for G in other]
    base = spectral_mmd(ref, other, kernel="gaussian_tv")
    assert spectral_mmd(ref, noisy, kernel="gaussian_tv") > 1.5 * base


def test_er_vs_grid_is_far():
    grids = [nx.grid_2d_graph(a, b) for a in (3, 4) for b in (4, 5)]
    ers = [
        nx.gnm_random_graph(G.number_of_nodes(), G.number_of_edges(), seed=i)
        for i, G in enumerate(grids)
    ]
    grids2 = [nx.grid_2d_graph(b, a) for a in (3, 4) for b in (4, 5)]
    same = graph_mmds(grids, grids2, metrics=ALL)
    far = graph_mmds(grids, ers, metrics=ALL)
    for name in ALL:
        assert abs(same[name]) < 1e-12  # transposed grids are isomorphic
        assert far[name] > 1e-3, (name, far[name])


def test_degree_mmd_by_hand():
    ref = [nx.path_graph(3)]  # degrees 1,2,1 -> hist [0, 2, 1] -> [0, 2/3, 1/3]
    pred = [nx.complete_graph(3), nx.star_graph(2)]  # [0,0,1]; star(2) == path(3)
    p = np.array([0, 2 / 3, 1 / 3])
    q = np.array([0, 0, 1.0])

    def k(a, b):
        emd = np.abs(np.cumsum(a - b)).sum()
        return np.exp(-(emd**2) / 2)

    kxx = k(p, p)
    kyy = np.mean([k(a, b) for a in (q, p) for b in (q, p)])
    kxy = np.mean([k(p, b) for b in (q, p)])
    assert degree_mmd(ref, pred) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)


def test_histogram_settings():
    G = nx.complete_graph(4)
    h = clustering_histogram(G)
    assert h.shape == (100,) and h[-1] == 4  # clustering 1.0 falls in the last bin
    s = spectral_histogram(nx.cycle_graph(6))
    assert s.shape == (200,) and s.sum() == pytest.approx(1.0)
    assert s[0] == pytest.approx(1 / 6)  # eigenvalue 0 in the first bin


def test_empty_pred_graphs_are_dropped(sets):
    ref, other, _ = sets
    with_empty = list(other) + [nx.Graph(), nx.Graph()]
    assert graph_mmds(ref, with_empty, metrics=ALL) == graph_mmds(ref, other, metrics=ALL)
    assert np.isnan(degree_mmd(ref, [nx.Graph()]))
    isolated = [nx.empty_graph(5)]
    for fn in (degree_mmd, clustering_mmd, spectral_mmd):
        assert np.isfinite(fn(ref, isolated))
    if HAS_ORCA:
        assert np.isfinite(orbit_mmd(ref, isolated))


def test_bad_input(sets):
    ref, other, _ = sets
    with pytest.raises(ValueError, match="unknown metrics"):
        graph_mmds(ref, other, metrics=("degree", "nspdk"))
    with pytest.raises(ValueError, match="kernel"):
        degree_mmd(ref, other, kernel="gaussian")
    with pytest.raises(ValueError, match="reference graph 1 has no nodes"):
        degree_mmd([ref[0], nx.Graph()], other)
    with pytest.raises(ValueError, match="empty"):
        degree_mmd([], other)
