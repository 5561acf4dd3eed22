"""The published synthetic graph datasets, regenerated from their recipes under a seed.

Recipes: community-small and grid as in GraphRNN / EDP-GNN / GDSS, planar and SBM as in
SPECTRE. Every random draw comes from one ``numpy.random.Generator`` seeded by ``seed``, so
a list depends on its arguments only. Nodes are ``0..n-1``, no self-loops.
"""

from __future__ import annotations

import networkx as nx
import numpy as np


def _random_graph(n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Dense symmetric {0, 1} adjacency of G(n, p), zero diagonal."""
    upper = np.triu(rng.random((n, n)) < p, k=1)
    return (upper | upper.T).astype(np.int8)


def community_small(
    n_graphs: int = 100, seed: int = 0, fixed_communities: bool = True
) -> list[nx.Graph]:
    """Two-community graphs of 12..20 nodes (the EDP-GNN / GDSS ``community_small`` recipe).

    Per graph a size ``m`` is drawn uniformly from 12..20 and each community gets ``m // 2``
    nodes (so node counts are even, as in the reference). Each community is G(m // 2, 0.7);
    each inter-community pair is a bridge with probability ``0.1 / (m // 2)``, i.e. about
    ``0.05 |V|`` bridges expected, and one bridge is added between the communities' first
    nodes when none was drawn. Node attribute ``"community"`` is 0 or 1.

    The reference code (Niu et al. 2020, reused by GDSS) seeds community ``i`` of every graph
    with ``i`` (``nx.gnp_random_graph(n, 0.7, seed=i)``), so all same-size communities are
    the same graph and only sizes and bridges vary; ``fixed_communities=True`` (default)
    reproduces that, so the published numbers are comparable. ``False`` draws every
    community independently: a harder, more varied set.
    """
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        size = int(rng.integers(12, 21)) // 2
        adj = np.zeros((2 * size, 2 * size), dtype=np.int8)
        if fixed_communities:
            for i, block in enumerate((slice(0, size), slice(size, 2 * size))):
                adj[block, block] = nx.to_numpy_array(nx.gnp_random_graph(size, 0.7, seed=i))
        else:
            adj[:size, :size] = _random_graph(size, 0.7, rng)
            adj[size:, size:] = _random_graph(size, 0.7, rng)
        bridges = rng.random((size, size)) < 0.05 * 2 / size
        if not bridges.any():
            bridges[0, 0] = True
        adj[:size, size:] = bridges
        adj[size:, :size] = bridges.T
        g = nx.from_numpy_array(adj, edge_attr=None)
        nx.set_node_attributes(g, {v: int(v >= size) for v in g.nodes}, "community")
        graphs.append(g)
    return graphs


def grid(min_side: int = 10, max_side: int = 19) -> list[nx.Graph]:
    """GraphRNN's grids: ``grid_2d_graph(i, j)`` for all i, j in min_side..max_side.

    The defaults give 100 graphs of 100..361 nodes, in the order i-major. Deterministic.
    """
    graphs = []
    for i in range(min_side, max_side + 1):
        for j in range(min_side, max_side + 1):
            graphs.append(nx.convert_node_labels_to_integers(nx.grid_2d_graph(i, j)))
    return graphs


def planar(n_graphs: int = 200, n_nodes: int = 64, seed: int = 0) -> list[nx.Graph]:
    """SPECTRE's planar graphs: Delaunay triangulations of uniform points in the unit square."""
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        simplices = Delaunay(rng.random((n_nodes, 2))).simplices
        g = nx.Graph()
        g.add_nodes_from(range(n_nodes))
        for a, b in ((0, 1), (1, 2), (0, 2)):
            g.add_edges_from(zip(simplices[:, a].tolist(), simplices[:, b].tolist()))
        graphs.append(g)
    return graphs


def sbm(
    n_graphs: int = 200,
    seed: int = 0,
    p_intra: float = 0.3,
    p_inter: float = 0.005,
) -> list[nx.Graph]:
    """SPECTRE's stochastic block model graphs: 2..5 blocks of 20..40 nodes each.

    Edges appear with probability ``p_intra`` inside a block and ``p_inter`` across; as in
    SPECTRE, a disconnected draw is discarded and drawn again. Node attribute ``"block"``.
    """
    rng = np.random.default_rng(seed)
    graphs: list[nx.Graph] = []
    while len(graphs) < n_graphs:
        sizes = rng.integers(20, 41, size=int(rng.integers(2, 6)))
        block = np.repeat(np.arange(len(sizes)), sizes)
        prob = np.where(block[:, None] == block[None, :], p_intra, p_inter)
        n = len(block)
        upper = np.triu(rng.random((n, n)) < prob, k=1)
        g = nx.from_numpy_array((upper | upper.T).astype(np.int8), edge_attr=None)
        if not nx.is_connected(g):
            continue
        nx.set_node_attributes(g, dict(enumerate(block.tolist())), "block")
        graphs.append(g)
    return graphs
