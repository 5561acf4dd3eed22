"""Readers for published graph dataset files: GDSS/GraphRNN pickles, SPECTRE ``.pt``, TU text.

* GDSS / GraphRNN ``data/*.pkl``: a pickled list of networkx graphs (or of dense adjacency
  matrices);
* SPECTRE ``data/*.pt``: ``torch.save`` of a tuple whose first item is the list of (n, n)
  adjacency tensors (eigen-decompositions and sizes follow), or of that list alone;
* the TU Dortmund text format (``ENZYMES``, ``PROTEINS``, ``DD``): in one folder
  ``NAME_A.txt`` (edges ``i, j``, 1-based node ids, both directions),
  ``NAME_graph_indicator.txt`` (the 1-based graph id of each node), optionally
  ``NAME_node_labels.txt`` and ``NAME_graph_labels.txt``.

Graphs come back with nodes ``0..n-1`` and no self-loops.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np


def _clean(g: nx.Graph) -> nx.Graph:
    """An undirected copy with nodes relabelled 0..n-1 (in node order) and no self-loops."""
    g = nx.convert_node_labels_to_integers(nx.Graph(g))
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    return g


def _from_matrix(a: Any, where: str) -> nx.Graph:
    """A graph from a dense square adjacency matrix (numpy or torch); nonzero = edge."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{where}: adjacency must be a square matrix, got shape {a.shape}")
    a = (a != 0) | (a.T != 0)
    return _clean(nx.from_numpy_array(a.astype(np.int8), edge_attr=None))


def _to_graph(item: Any, where: str) -> nx.Graph:
    if isinstance(item, nx.Graph):
        try:
            return _clean(item)
        except Exception as e:  # graphs pickled by an old networkx may not copy
            raise ValueError(f"{where}: cannot read this networkx graph ({e})") from e
    if isinstance(item, np.ndarray) or hasattr(item, "detach"):
        return _from_matrix(item, where)
    raise ValueError(
        f"{where}: expected a networkx graph or an adjacency matrix, got {type(item).__name__}"
    )


def _load_pt(path: Path) -> Any:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a readable torch file of tensors ({e})") from e
    # SPECTRE saves (adjs, eigvals, eigvecs, n_nodes, max_eigval, min_eigval, same_sample, n_max)
    if isinstance(obj, tuple) and obj and isinstance(obj[0], (list, tuple)):
        obj = obj[0]
    return obj


def load_graph_pickle(path: str | Path) -> list[nx.Graph]:
    """Graphs from a GDSS/GraphRNN ``.pkl`` list or a SPECTRE ``.pt`` list of adjacencies.

    Unpickling runs code stored in the file: load only files from a source you trust
    (``.pt`` files are read with ``weights_only=True``, which allows tensors only).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"graph file not found: {path}")
    if path.suffix == ".pt":
        obj = _load_pt(path)
    else:
        try:
            with path.open("rb") as f:
                obj = pickle.load(f)
        except Exception as e:
            raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
    if hasattr(obj, "detach") and obj.ndim == 3:
        obj = list(obj)
    if isinstance(obj, np.ndarray) and obj.ndim == 3:
        obj = list(obj)
    if not isinstance(obj, (list, tuple)):
        raise ValueError(f"{path}: expected a list of graphs, got {type(obj).__name__}")
    if not obj:
        raise ValueError(f"{path}: the file holds no graphs")
    graphs = [_to_graph(item, f"{path} [graph {i}]") for i, item in enumerate(obj)]
    empty = [i for i, g in enumerate(graphs) if g.number_of_nodes() == 0]
    if empty:
        raise ValueError(f"{path}: graphs {empty[:5]} have no nodes")
    return graphs


def _read_ints(path: Path, columns: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"TU dataset file not found: {path}")
    try:
        a = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise ValueError(f"{path}: not a comma-separated integer table ({e})") from e
    if a.size == 0 or a.shape[1] != columns:
        raise ValueError(f"{path}: expected {columns} integer column(s), got shape {a.shape}")
    return a


def load_tu_dataset(
    folder: str | Path,
    name: str = "ENZYMES",
    min_nodes: int = 10,
    max_nodes: int = 1000,
) -> list[nx.Graph]:
    """Graphs of a TU text dataset with ``min_nodes <= n <= max_nodes`` nodes.

    ``folder`` holds ``NAME_A.txt`` etc. directly or in a subfolder ``NAME``. As GraphRNN and
    GDSS do, isolated nodes are dropped before counting nodes, and self-loops are dropped.
    Node labels (if present) go to node attribute ``"label"``, graph labels to
    ``g.graph["label"]``.
    """
    folder = Path(folder)
    if not (folder / f"{name}_A.txt").is_file() and (folder / name).is_dir():
        folder = folder / name
    edges = _read_ints(folder / f"{name}_A.txt", 2)
    indicator = _read_ints(folder / f"{name}_graph_indicator.txt", 1)[:, 0]
    n_total = len(indicator)
    if edges.min() < 1 or edges.max() > n_total:
        raise ValueError(
            f"{folder / f'{name}_A.txt'}: node ids must be in 1..{n_total} "
            f"(the length of {name}_graph_indicator.txt), got {edges.min()}..{edges.max()}"
        )
    edges = edges - 1
    graph_of_edge = indicator[edges[:, 0]]
    if np.any(graph_of_edge != indicator[edges[:, 1]]):
        raise ValueError(f"{folder / f'{name}_A.txt'}: an edge joins nodes of different graphs")
    node_labels = None
    if (folder / f"{name}_node_labels.txt").is_file():
        node_labels = _read_ints(folder / f"{name}_node_labels.txt", 1)[:, 0]
        if len(node_labels) != n_total:
            raise ValueError(
                f"{folder}: {name}_node_labels.txt has {len(node_labels)} rows, expected {n_total}"
            )
    graph_labels = None
    if (folder / f"{name}_graph_labels.txt").is_file():
        graph_labels = _read_ints(folder / f"{name}_graph_labels.txt", 1)[:, 0]

    order = np.argsort(graph_of_edge, kind="stable")
    edges, graph_of_edge = edges[order], graph_of_edge[order]
    graphs = []
    for gid in np.unique(indicator).tolist():
        lo, hi = np.searchsorted(graph_of_edge, [gid, gid + 1])
        block = edges[lo:hi]
        # nodes without any edge are dropped, as GraphRNN/GDSS drop isolated nodes
        nodes = np.unique(block)
        if not max(min_nodes, 1) <= len(nodes) <= max_nodes:
            continue
        g = nx.Graph()
        g.add_nodes_from(nodes.tolist())
        g.add_edges_from(block[block[:, 0] != block[:, 1]].tolist())
        if node_labels is not None:
            nx.set_node_attributes(g, {v: int(node_labels[v]) for v in g.nodes}, "label")
        if graph_labels is not None and gid - 1 < len(graph_labels):
            g.graph["label"] = int(graph_labels[gid - 1])
        graphs.append(nx.convert_node_labels_to_integers(g))
    return graphs
