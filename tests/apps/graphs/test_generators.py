"""The synthetic datasets follow their published recipes and depend only on the seed."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from scorelab.apps.graphs import generators


def _block_densities(g: nx.Graph, attr: str) -> tuple[float, float]:
    """(intra, inter) edge densities of a graph whose nodes carry a block attribute."""
    block = np.array([g.nodes[v][attr] for v in range(g.number_of_nodes())])
    a = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes()))
    same = block[:, None] == block[None, :]
    off = ~np.eye(len(block), dtype=bool)
    return a[same & off].mean(), a[~same].mean()


def test_community_small_recipe():
    graphs = generators.community_small(n_graphs=300, seed=0, fixed_communities=False)
    assert len(graphs) == 300
    intra, n_inter, expected = [], [], []
    for g in graphs:
        n = g.number_of_nodes()
        assert 12 <= n <= 20 and n % 2 == 0
        assert sorted(g.nodes) == list(range(n))
        community = [g.nodes[v]["community"] for v in range(n)]
        assert community.count(0) == community.count(1) == n // 2
        n_inter.append(sum(community[u] != community[v] for u, v in g.edges))
        assert n_inter[-1] >= 1
        # 0.05 |V| bridges expected, plus the forced one when none was drawn
        size, p = n // 2, 0.1 / (n // 2)
        expected.append(0.05 * n + (1 - p) ** (size * size))
        intra.append(_block_densities(g, "community")[0])
        assert nx.number_of_selfloops(g) == 0
    assert abs(np.mean(intra) - 0.7) < 0.02
    assert abs(np.mean(n_inter) - np.mean(expected)) < 0.15
    assert 1.0 < np.mean(n_inter) < 1.5


def test_community_small_reference_fixes_each_community_by_its_index():
    """The published code seeds community i with i: same size, same community graph."""
    graphs = generators.community_small(n_graphs=60, seed=0)
    for g in graphs:
        size = g.number_of_nodes() // 2
        for i in range(2):
            block = g.subgraph(range(i * size, (i + 1) * size))
            ref = nx.gnp_random_graph(size, 0.7, seed=i)
            edges = {tuple(sorted((u - i * size, v - i * size))) for u, v in block.edges}
            assert edges == {tuple(sorted(e)) for e in ref.edges}
    assert len({g.number_of_edges() for g in graphs}) > 5  # bridges still vary


def test_community_small_sizes_cover_range():
    sizes = {g.number_of_nodes() for g in generators.community_small(n_graphs=100, seed=1)}
    assert sizes == {12, 14, 16, 18, 20}


def test_grid_recipe():
    graphs = generators.grid()
    assert len(graphs) == 100
    assert sorted(g.number_of_nodes() for g in graphs) == sorted(
        i * j for i in range(10, 20) for j in range(10, 20)
    )
    for g in graphs[::7]:
        n = g.number_of_nodes()
        assert sorted(g.nodes) == list(range(n))
        assert max(d for _, d in g.degree()) == 4
        assert sum(nx.triangles(g).values()) == 0
        assert nx.is_connected(g)


def test_planar_recipe():
    graphs = generators.planar(n_graphs=40, n_nodes=64, seed=0)
    assert len(graphs) == 40
    for g in graphs:
        n = g.number_of_nodes()
        assert n == 64 and sorted(g.nodes) == list(range(n))
        assert nx.check_planarity(g)[0]
        assert nx.is_connected(g)
        # a triangulation of n points with h on the hull has 3n - 3 - h edges
        assert 2 * n - 3 <= g.number_of_edges() <= 3 * n - 6


def test_sbm_recipe():
    graphs = generators.sbm(n_graphs=60, seed=0)
    assert len(graphs) == 60
    intra, inter, n_blocks = [], [], set()
    for g in graphs:
        blocks = np.bincount([g.nodes[v]["block"] for v in range(g.number_of_nodes())])
        assert 2 <= len(blocks) <= 5 and blocks.min() >= 20 and blocks.max() <= 40
        n_blocks.add(len(blocks))
        assert nx.is_connected(g)
        d_in, d_out = _block_densities(g, "block")
        intra.append(d_in)
        inter.append(d_out)
    assert n_blocks == {2, 3, 4, 5}
    assert abs(np.mean(intra) - 0.3) < 0.01
    # redrawing disconnected graphs biases the inter density up a little
    assert 0.004 < np.mean(inter) < 0.008


@pytest.mark.parametrize(
    "make",
    [
        lambda s: generators.community_small(n_graphs=10, seed=s),
        lambda s: generators.planar(n_graphs=5, n_nodes=30, seed=s),
        lambda s: generators.sbm(n_graphs=3, seed=s),
    ],
    ids=["community_small", "planar", "sbm"],
)
def test_seeded(make):
    def edges(graphs):
        return [sorted(g.edges) for g in graphs]

    assert edges(make(3)) == edges(make(3))
    assert edges(make(3)) != edges(make(4))


def test_no_global_rng_use():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    generators.community_small(n_graphs=5, seed=7)
    generators.sbm(n_graphs=1, seed=7)
    assert np.random.random() == before
