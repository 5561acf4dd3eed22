"""Graphs <-> padded tensors: round trips, padding, degree features, quantization."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from scorelab.apps.graphs.convert import (
    degree_features,
    graphs_to_tensors,
    node_mask_from_counts,
    quantize_adj,
    tensors_to_graphs,
)
from scorelab.apps.graphs.generators import community_small


def _graphs() -> list[nx.Graph]:
    return [nx.path_graph(3), nx.star_graph(6), nx.empty_graph(2), *community_small(4, seed=0)]


def test_round_trip_is_identical():
    graphs = _graphs()
    t = graphs_to_tensors(graphs, max_nodes=20, max_feat=5)
    back = tensors_to_graphs(t["adj"], t["node_mask"])
    for g, h in zip(graphs, back):
        assert list(h.nodes) == list(range(g.number_of_nodes()))
        assert sorted(map(sorted, h.edges)) == sorted(map(sorted, g.edges))


def test_shapes_padding_and_features():
    graphs = _graphs()
    t = graphs_to_tensors(graphs, max_nodes=20, max_feat=5)
    b = len(graphs)
    assert t["x"].shape == (b, 20, 5) and t["adj"].shape == (b, 20, 20)
    assert t["node_mask"].shape == (b, 20)
    assert all(v.dtype == torch.float32 for v in t.values())
    counts = torch.tensor([g.number_of_nodes() for g in graphs])
    assert torch.equal(t["node_mask"].sum(1), counts.float())
    adj, mask = t["adj"], t["node_mask"].bool()
    assert torch.equal(adj, adj.transpose(1, 2))
    assert adj.diagonal(dim1=1, dim2=2).abs().sum() == 0
    pad = ~mask
    assert adj[pad].abs().sum() == 0 and adj.transpose(1, 2)[pad].abs().sum() == 0
    assert t["x"][pad].abs().sum() == 0
    assert torch.equal(t["x"][mask].sum(-1), torch.ones(int(counts.sum())))
    # the star's centre has degree 6, clipped to max_feat - 1 = 4; leaves have degree 1
    assert t["x"][1, 0].argmax() == 4 and torch.all(t["x"][1, 1:7].argmax(-1) == 1)
    # isolated nodes have degree 0
    assert torch.all(t["x"][2, :2, 0] == 1)


def test_degree_features_match_networkx():
    graphs = community_small(5, seed=2)
    t = graphs_to_tensors(graphs, max_nodes=20, max_feat=20)
    for b, g in enumerate(graphs):
        degrees = torch.tensor([d for _, d in g.degree()])
        assert torch.equal(t["x"][b, : len(degrees)].argmax(-1), degrees)
    x = degree_features(t["adj"], t["node_mask"], 20)
    assert torch.equal(x, t["x"])


def test_node_mask_from_counts():
    mask = node_mask_from_counts([0, 2, 4], 4)
    assert mask.tolist() == [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
    with pytest.raises(ValueError, match="0..4"):
        node_mask_from_counts([5], 4)


def test_quantize_adj():
    adj = torch.tensor([[[0.9, 0.5, 0.2], [0.6, 0.0, 0.49], [0.1, 0.8, 0.7]]])
    q = quantize_adj(adj)
    # symmetrised means: (0,1) 0.55, (0,2) 0.15, (1,2) 0.645
    assert q.tolist() == [[[0, 1, 0], [1, 0, 1], [0, 1, 0]]]
    assert quantize_adj(adj, threshold=0.6).tolist() == [[[0, 0, 0], [0, 0, 1], [0, 1, 0]]]


def test_tensors_to_graphs_takes_real_nodes_in_order():
    adj = torch.zeros(1, 4, 4)
    adj[0, 0, 2] = adj[0, 2, 0] = 0.9  # node 1 is padding: real nodes 0, 2, 3 -> 0, 1, 2
    adj[0, 2, 3] = adj[0, 3, 2] = 0.7
    g = tensors_to_graphs(adj, torch.tensor([[1.0, 0.0, 1.0, 1.0]]))[0]
    assert list(g.nodes) == [0, 1, 2] and sorted(g.edges) == [(0, 1), (1, 2)]


def test_errors():
    with pytest.raises(ValueError, match="graph 0 has 5 nodes.*max_nodes=4"):
        graphs_to_tensors([nx.path_graph(5)], max_nodes=4, max_feat=3)
    with pytest.raises(ValueError, match="node_mask"):
        degree_features(torch.zeros(2, 3, 3), torch.ones(2, 4), 3)
    with pytest.raises(ValueError, match="square|N, N"):
        quantize_adj(torch.zeros(2, 3, 4))
