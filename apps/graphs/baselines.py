"""Simple graph generators fitted to the training graphs: the baselines a model must beat."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np


def density(graphs: Sequence[nx.Graph]) -> float:
    """Pooled edge density of ``graphs``: edges over node pairs, summed over the set."""
    pairs = sum(g.number_of_nodes() * (g.number_of_nodes() - 1) / 2 for g in graphs)
    if pairs == 0:
        raise ValueError("cannot fit a density to graphs without node pairs")
    return sum(g.number_of_edges() for g in graphs) / pairs


def erdos_renyi(train: Sequence[nx.Graph], n: int, seed: int = 0) -> list[nx.Graph]:
    """``n`` G(n_i, p) graphs: sizes drawn from the training sizes, p their pooled density."""
    rng = np.random.default_rng(seed)
    p = density(train)
    sizes = rng.choice([g.number_of_nodes() for g in train], size=n)
    return [nx.gnp_random_graph(int(k), p, seed=int(rng.integers(2**31))) for k in sizes]


def configuration_model(train: Sequence[nx.Graph], n: int, seed: int = 0) -> list[nx.Graph]:
    """``n`` degree-matched graphs: a training graph's degree sequence, randomly rewired.

    The configuration model's multi-edges and self-loops are dropped (a simple graph), so
    degrees can fall slightly below the sequence.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.integers(len(train), size=n):
        degrees = [d for _, d in train[int(i)].degree()]
        multi = nx.configuration_model(degrees, seed=int(rng.integers(2**31)))
        g = nx.Graph(multi)
        g.remove_edges_from(nx.selfloop_edges(g))
        out.append(g)
    return out


def training_floor(train: Sequence[nx.Graph], n: int, seed: int = 0) -> list[nx.Graph]:
    """``n`` training graphs drawn without replacement: the metric's floor at this sample size."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(train), size=min(n, len(train)), replace=False)
    return [train[int(i)] for i in idx]


BASELINES = {
    "train": training_floor,
    "erdos_renyi": erdos_renyi,
    "configuration": configuration_model,
}
