"""Published-file readers: pickles of graphs or matrices, SPECTRE .pt, TU text folders."""

from __future__ import annotations

import pickle

import networkx as nx
import numpy as np
import pytest
import torch

from scorelab.apps.graphs.formats import load_graph_pickle, load_tu_dataset


def _same(g: nx.Graph, h: nx.Graph) -> bool:
    return sorted(g.nodes) == sorted(h.nodes) and sorted(map(sorted, g.edges)) == sorted(
        map(sorted, h.edges)
    )


def test_pickle_of_graphs_is_relabelled_and_loop_free(tmp_path):
    g = nx.Graph([("a", "b"), ("b", "c"), ("c", "c")])
    d = nx.DiGraph([(10, 11), (11, 12)])
    path = tmp_path / "graphs.pkl"
    path.write_bytes(pickle.dumps([g, d]))
    out = load_graph_pickle(path)
    assert len(out) == 2
    assert _same(out[0], nx.path_graph(3)) and _same(out[1], nx.path_graph(3))
    assert all(type(h) is nx.Graph for h in out)


def test_pickle_of_matrices(tmp_path):
    a = nx.to_numpy_array(nx.cycle_graph(5))
    path = tmp_path / "adjs.pkl"
    path.write_bytes(pickle.dumps([a, np.eye(3)]))
    out = load_graph_pickle(path)
    assert _same(out[0], nx.cycle_graph(5))
    assert out[1].number_of_nodes() == 3 and out[1].number_of_edges() == 0


@pytest.mark.parametrize("spectre_tuple", [True, False])
def test_pt_list_of_adjacency_tensors(tmp_path, spectre_tuple):
    adjs = [torch.from_numpy(nx.to_numpy_array(nx.wheel_graph(n))).float() for n in (5, 7)]
    obj = (
        (adjs, [torch.zeros(n) for n in (5, 7)], [5, 7], 2.0, 0.0, False, 7)
        if spectre_tuple
        else adjs
    )
    path = tmp_path / "planar.pt"
    torch.save(obj, path)
    out = load_graph_pickle(path)
    assert [h.number_of_nodes() for h in out] == [5, 7]
    assert _same(out[1], nx.wheel_graph(7))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_graph_pickle(tmp_path / "nope.pkl")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="bad.pkl"):
        load_graph_pickle(bad)
    bad_pt = tmp_path / "bad.pt"
    bad_pt.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.pt"):
        load_graph_pickle(bad_pt)
    wrong = tmp_path / "wrong.pkl"
    wrong.write_bytes(pickle.dumps({"graphs": []}))
    with pytest.raises(ValueError, match="wrong.pkl.*list"):
        load_graph_pickle(wrong)
    not_square = tmp_path / "rect.pkl"
    not_square.write_bytes(pickle.dumps([np.zeros((2, 3))]))
    with pytest.raises(ValueError, match=r"rect.pkl \[graph 0\].*square"):
        load_graph_pickle(not_square)


def _write_tu(folder, name, graphs, node_labels=True):
    """Write graphs in TU format (1-based ids, both edge directions) under folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, indicator, offset = [], [], 0
    for k, g in enumerate(graphs):
        for u, v in g.edges:
            rows += [(u + offset + 1, v + offset + 1), (v + offset + 1, u + offset + 1)]
        indicator += [k + 1] * g.number_of_nodes()
        offset += g.number_of_nodes()
    (folder / f"{name}_A.txt").write_text("".join(f"{u}, {v}\n" for u, v in rows))
    (folder / f"{name}_graph_indicator.txt").write_text("".join(f"{i}\n" for i in indicator))
    (folder / f"{name}_graph_labels.txt").write_text(
        "".join(f"{k % 2}\n" for k in range(len(graphs)))
    )
    if node_labels:
        (folder / f"{name}_node_labels.txt").write_text(
            "".join(f"{i % 3}\n" for i in range(offset))
        )


def test_tu_dataset_filters_and_cleans(tmp_path):
    with_isolated = nx.cycle_graph(12)
    with_isolated.add_node(12)  # dropped, as GraphRNN/GDSS drop isolated nodes
    with_loop = nx.path_graph(15)
    with_loop.add_edge(3, 3)
    graphs = [nx.cycle_graph(5), with_isolated, with_loop, nx.complete_graph(11), nx.path_graph(20)]
    _write_tu(tmp_path / "ENZYMES", "ENZYMES", graphs)
    out = load_tu_dataset(tmp_path, "ENZYMES", min_nodes=10, max_nodes=15)
    assert [h.number_of_nodes() for h in out] == [12, 15, 11]
    assert _same(out[0], nx.cycle_graph(12))
    assert _same(out[1], nx.path_graph(15))
    assert _same(out[2], nx.complete_graph(11))
    assert [h.graph["label"] for h in out] == [1, 0, 1]
    # node labels are (global 0-based node id) % 3; graph 2 starts at global node 5 + 13
    assert [out[1].nodes[v]["label"] for v in range(3)] == [(18 + v) % 3 for v in range(3)]
    # the same folder addressed directly, labels optional
    (tmp_path / "ENZYMES" / "ENZYMES_node_labels.txt").unlink()
    out = load_tu_dataset(tmp_path / "ENZYMES", "ENZYMES", min_nodes=1, max_nodes=100)
    assert [h.number_of_nodes() for h in out] == [5, 12, 15, 11, 20]
    assert "label" not in out[0].nodes[0]


def test_tu_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ENZYMES_A.txt"):
        load_tu_dataset(tmp_path, "ENZYMES")
    _write_tu(tmp_path, "TOY", [nx.cycle_graph(10), nx.cycle_graph(10)])
    (tmp_path / "TOY_A.txt").write_text("1, 2\nthree, 4\n")
    with pytest.raises(ValueError, match="TOY_A.txt"):
        load_tu_dataset(tmp_path, "TOY")
    (tmp_path / "TOY_A.txt").write_text("1, 2\n2, 30\n")
    with pytest.raises(ValueError, match="TOY_A.txt.*1..20"):
        load_tu_dataset(tmp_path, "TOY")
    (tmp_path / "TOY_A.txt").write_text("1, 2\n10, 11\n")
    with pytest.raises(ValueError, match="different graphs"):
        load_tu_dataset(tmp_path, "TOY")
