"""Generic graphs <-> padded tensors: degree one-hot features, {0, 1} adjacency, node mask.

A batch of B graphs padded to N nodes is ``x`` (B, N, F), ``adj`` (B, N, N) and
``node_mask`` (B, N), all float32; padded nodes have zero features and zero rows/columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import torch
from torch import Tensor


def node_mask_from_counts(counts: Sequence[int] | Tensor, max_nodes: int) -> Tensor:
    """(B, N) float mask with the first ``counts[b]`` nodes of graph b set to 1."""
    counts = torch.as_tensor(counts, dtype=torch.long).reshape(-1)
    if counts.numel() and (counts.min() < 0 or counts.max() > max_nodes):
        raise ValueError(f"node counts must be in 0..{max_nodes}, got {counts.tolist()}")
    return (torch.arange(max_nodes)[None, :] < counts[:, None]).float()


def degree_features(adj: Tensor, node_mask: Tensor, max_feat: int) -> Tensor:
    """(B, N, max_feat) one-hot of each node's degree clipped to ``max_feat - 1`` (GDSS "deg").

    ``adj`` (B, N, N) is {0, 1}; padded nodes (``node_mask`` 0) get all-zero rows.
    """
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adj must be (B, N, N), got shape {tuple(adj.shape)}")
    if node_mask.shape != adj.shape[:2]:
        raise ValueError(
            f"node_mask must be (B, N) = {tuple(adj.shape[:2])}, got {tuple(node_mask.shape)}"
        )
    if max_feat < 1:
        raise ValueError(f"max_feat must be >= 1, got {max_feat}")
    degree = adj.sum(-1).round().long().clamp(0, max_feat - 1)
    x = torch.nn.functional.one_hot(degree, max_feat).to(adj.dtype)
    return x * node_mask[..., None].to(adj.dtype)


def graphs_to_tensors(
    graphs: Sequence[nx.Graph], max_nodes: int, max_feat: int
) -> dict[str, Tensor]:
    """Pad graphs to ``max_nodes``: dict ``x`` (B, N, F), ``adj`` (B, N, N), ``node_mask`` (B, N).

    Node i of a graph is its i-th node in ``g.nodes`` order; edge weights and self-loops are
    ignored.
    """
    adj = np.zeros((len(graphs), max_nodes, max_nodes), dtype=np.float32)
    counts = []
    for b, g in enumerate(graphs):
        n = g.number_of_nodes()
        if n > max_nodes:
            raise ValueError(f"graph {b} has {n} nodes, more than max_nodes={max_nodes}")
        a = nx.to_numpy_array(g, nodelist=list(g.nodes), weight=None, dtype=np.float32)
        a = ((a + a.T) > 0).astype(np.float32)
        np.fill_diagonal(a, 0.0)
        adj[b, :n, :n] = a
        counts.append(n)
    adj_t = torch.from_numpy(adj)
    mask = node_mask_from_counts(counts, max_nodes)
    return {"x": degree_features(adj_t, mask, max_feat), "adj": adj_t, "node_mask": mask}


def quantize_adj(adj: Tensor, threshold: float = 0.5) -> Tensor:
    """{0, 1} adjacency, same shape and dtype: entries >= threshold become edges (GDSS).

    The input is symmetrised first (mean of ``adj`` and its transpose); the diagonal is zeroed.
    """
    adj = torch.as_tensor(adj)
    if adj.ndim < 2 or adj.shape[-1] != adj.shape[-2]:
        raise ValueError(f"adj must be (..., N, N), got shape {tuple(adj.shape)}")
    sym = 0.5 * (adj + adj.transpose(-1, -2))
    out = (sym >= threshold).to(adj.dtype if adj.is_floating_point() else torch.float32)
    eye = torch.eye(adj.shape[-1], dtype=torch.bool, device=adj.device)
    return out.masked_fill(eye, 0)


def tensors_to_graphs(adj: Tensor, node_mask: Tensor, threshold: float = 0.5) -> list[nx.Graph]:
    """Graphs from (B, N, N) adjacency and (B, N) mask; node i is the i-th real node."""
    adj = quantize_adj(torch.as_tensor(adj).detach().cpu(), threshold)
    mask = torch.as_tensor(node_mask).detach().cpu() > 0.5
    if adj.ndim != 3 or mask.shape != adj.shape[:2]:
        raise ValueError(
            f"need adj (B, N, N) and node_mask (B, N), got {tuple(adj.shape)} and "
            f"{tuple(mask.shape)}"
        )
    graphs = []
    for a, m in zip(adj.numpy(), mask.numpy()):
        keep = np.flatnonzero(m)
        graphs.append(nx.from_numpy_array(a[np.ix_(keep, keep)], edge_attr=None))
    return graphs
