"""ORCA orbit counts against a brute-force enumeration of connected induced subgraphs."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

pytest.importorskip("orbit_count")

from scorelab.apps.graphs.orbits import N_ORBITS, node_orbit_counts  # noqa: E402

# (nodes in graphlet, edges in graphlet, node degree inside it) -> ORCA orbit
_ORBIT = {
    (2, 1, 1): 0,
    (3, 2, 1): 1,
    (3, 2, 2): 2,
    (3, 3, 2): 3,
}


def _orbit_of_4(edges: int, degrees: tuple[int, ...], d: int) -> int:
    if edges == 3:
        if max(degrees) == 3:  # star
            return 7 if d == 3 else 6
        return 4 if d == 1 else 5  # path P4
    if edges == 4:
        if max(degrees) == 2:
            return 8  # cycle C4
        return {1: 9, 2: 10, 3: 11}[d]  # paw
    if edges == 5:
        return 13 if d == 3 else 12  # diamond
    return 14  # K4


def brute_force_orbits(G: nx.Graph) -> np.ndarray:
    nodes = list(G.nodes())
    pos = {u: i for i, u in enumerate(nodes)}
    counts = np.zeros((len(nodes), N_ORBITS), dtype=np.int64)
    for k in (2, 3, 4):
        for sub in itertools.combinations(nodes, k):
            H = G.subgraph(sub)
            if not nx.is_connected(H):
                continue
            m = H.number_of_edges()
            degrees = tuple(d for _, d in H.degree())
            for u, d in H.degree():
                orbit = _ORBIT[(k, m, d)] if k < 4 else _orbit_of_4(m, degrees, d)
                counts[pos[u], orbit] += 1
    return counts


def _random_graphs() -> list[nx.Graph]:
    rng = np.random.default_rng(0)
    graphs = []
    for i in range(30):
        n = int(rng.integers(4, 13))
        p = [0.15, 0.35, 0.6, 0.9][i % 4]
        graphs.append(nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 31))))
    return graphs


def _paw() -> nx.Graph:
    return nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3)])


@pytest.mark.parametrize("G", _random_graphs())
def test_matches_brute_force_on_random_graphs(G):
    np.testing.assert_array_equal(node_orbit_counts(G), brute_force_orbits(G))


def test_named_graphs():
    k4 = node_orbit_counts(nx.complete_graph(4))
    assert (k4[:, 14] == 1).all() and (k4[:, 0] == 3).all() and (k4[:, 3] == 3).all()
    c4 = node_orbit_counts(nx.cycle_graph(4))
    assert (c4[:, 8] == 1).all() and (c4[:, 2] == 1).all() and (c4[:, 1] == 2).all()
    star = node_orbit_counts(nx.star_graph(3))  # centre 0, leaves 1..3
    assert star[0, 7] == 1 and (star[1:, 6] == 1).all()
    paw = node_orbit_counts(_paw())
    assert paw[3, 9] == 1 and paw[0, 10] == 1 and paw[1, 10] == 1 and paw[2, 11] == 1
    for G in (nx.complete_graph(4), nx.cycle_graph(4), nx.star_graph(3), _paw()):
        np.testing.assert_array_equal(node_orbit_counts(G), brute_force_orbits(G))


def test_isolated_nodes_and_empty_graphs():
    G = nx.Graph([("a", "b"), ("b", "c")])
    G.add_nodes_from(["z", "y"])
    counts = node_orbit_counts(G)
    assert counts.shape == (5, N_ORBITS)
    np.testing.assert_array_equal(counts, brute_force_orbits(G))
    assert not counts[3:].any()
    assert node_orbit_counts(nx.empty_graph(4)).shape == (4, N_ORBITS)
    assert not node_orbit_counts(nx.empty_graph(4)).any()
    assert node_orbit_counts(nx.Graph()).shape == (0, N_ORBITS)


def test_self_loops_are_ignored():
    G = nx.path_graph(4)
    G.add_edge(1, 1)
    np.testing.assert_array_equal(node_orbit_counts(G), node_orbit_counts(nx.path_graph(4)))


def test_missing_package_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "orbit_count":
            raise ImportError("no module")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"scorelab\[orca\]"):
        node_orbit_counts(nx.path_graph(3))
