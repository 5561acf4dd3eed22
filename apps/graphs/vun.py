"""Validity, uniqueness and novelty of generated graphs (SPECTRE / DiGress definitions).

With N generated graphs: ``valid`` = fraction passing the validity check; ``unique`` =
(N - graphs isomorphic to an earlier generated graph) / N; ``novel`` = fraction not isomorphic
to any training graph; ``vun`` = fraction that are the first of their isomorphism class among
the generated graphs, not isomorphic to a training graph, and valid.
Isomorphism: bucket by Weisfeiler-Lehman hash, then ``nx.is_isomorphic`` inside a bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def is_planar_graph(G: Any) -> bool:
    """Connected and planar (SPECTRE's planar validity)."""
    import networkx as nx

    if G.number_of_nodes() == 0:
        return False
    return nx.is_connected(G) and nx.check_planarity(G)[0]


def sbm_wald_pvalue(
    G: Any, blocks: Sequence[Sequence[Any]], p_intra: float = 0.3, p_inter: float = 0.005
) -> float:
    """Mean over block pairs of the Wald-test p-value of the estimated edge densities.

    Same statistic as SPECTRE's ``is_sbm_graph``: per block r the intra density
    ``2 m_rr / (n_r (n_r - 1))`` is tested against ``p_intra``, per ordered pair r != s the
    density ``m_rs / (n_r n_s)`` against ``p_inter``; the B x B p-values are averaged.
    """
    from scipy.stats import chi2

    index = {u: b for b, block in enumerate(blocks) for u in block}
    n_blocks = len(blocks)
    sizes = np.array([len(b) for b in blocks], dtype=np.float64)
    edges = np.zeros((n_blocks, n_blocks))
    for u, v in G.edges():
        if u == v:
            continue
        edges[index[u], index[v]] += 1
        edges[index[v], index[u]] += 1  # an intra edge counts twice, as graph-tool's e_rr
    est_intra = np.diagonal(edges) / (sizes * (sizes - 1) + 1e-6)
    np.fill_diagonal(edges, 0)
    est_inter = edges / (np.outer(sizes, sizes) + 1e-6)
    w_intra = (est_intra - p_intra) ** 2 / (est_intra * (1 - est_intra) + 1e-6)
    w = (est_inter - p_inter) ** 2 / (est_inter * (1 - est_inter) + 1e-6)
    np.fill_diagonal(w, w_intra)
    return float((1 - chi2.cdf(np.abs(w), 1)).mean())


def _sbm_bic(G: Any, blocks: list[list[Any]]) -> float:
    """BIC of a Bernoulli SBM with the given blocks (lower is better)."""
    index = {u: b for b, block in enumerate(blocks) for u in block}
    k = len(blocks)
    sizes = np.array([len(b) for b in blocks], dtype=np.float64)
    m = np.zeros((k, k))
    for u, v in G.edges():
        if u != v:
            a, b = sorted((index[u], index[v]))
            m[a, b] += 1
    pairs = np.outer(sizes, sizes)
    np.fill_diagonal(pairs, sizes * (sizes - 1) / 2)
    iu = np.triu_indices(k)
    m, pairs = m[iu], pairs[iu]
    keep = pairs > 0
    m, pairs = m[keep], pairs[keep]
    p = m / pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = np.where(m > 0, m * np.log(p), 0.0) + np.where(
            pairs - m > 0, (pairs - m) * np.log1p(-p), 0.0
        )
    n = G.number_of_nodes()
    # + the cost of the node labels (n log k nats, doubled to the -2 log L scale), in the
    # spirit of graph-tool's description length: plain BIC tends to split a block in two
    return float(-2 * loglik.sum() + k * (k + 1) / 2 * np.log(n * (n - 1) / 2) + 2 * n * np.log(k))


def _refine(G: Any, blocks: list[list[Any]], sweeps: int = 5) -> list[list[Any]]:
    """Move each node to the block it is most densely linked to, until nothing moves."""
    label = {u: b for b, block in enumerate(blocks) for u in block}
    for _ in range(sweeps):
        moved = False
        for u in G.nodes():
            sizes = np.bincount(list(label.values()), minlength=len(blocks)).astype(np.float64)
            links = np.zeros(len(blocks))
            for v in G.neighbors(u):
                if v != u:
                    links[label[v]] += 1
            sizes[label[u]] -= 1
            density = np.where(sizes > 0, links / np.maximum(sizes, 1), -1.0)
            best = int(np.argmax(density))
            if density[best] > density[label[u]]:
                label[u], moved = best, True
        if not moved:
            break
    out: dict[int, list[Any]] = {}
    for u, b in label.items():
        out.setdefault(b, []).append(u)
    return list(out.values())


def fit_blocks(G: Any, seed: int = 0) -> list[list[Any]]:
    """Blocks of an assortative SBM: seeded Louvain at a few resolutions, node-move refinement,
    the candidate with the lowest Bernoulli-SBM BIC (stand-in for graph-tool's MDL fit)."""
    import networkx as nx

    candidates = []
    for resolution in (1.0, 0.5, 0.25):
        comms = nx.community.louvain_communities(G, resolution=resolution, seed=seed)
        blocks = [list(c) for c in comms]
        candidates += [blocks, _refine(G, blocks)]
    return min(candidates, key=lambda b: _sbm_bic(G, b))


def is_sbm_graph(
    G: Any,
    p_intra: float = 0.3,
    p_inter: float = 0.005,
    strict: bool = True,
    seed: int = 0,
) -> bool | float:
    """SBM validity, a PROXY of SPECTRE's check: blocks from ``fit_blocks``, not graph-tool.

    SPECTRE fits a stochastic block model with graph-tool (not pip-installable); we fit blocks
    with seeded Louvain + refinement + BIC (``fit_blocks``) and apply the same tests: with
    ``strict``, 2..5 blocks of 20..40 nodes and a mean Wald p-value > 0.9 (returns bool);
    without, the p-value itself (float).
    """
    if G.number_of_nodes() == 0 or G.number_of_edges() == 0:
        return False if strict else 0.0
    blocks = fit_blocks(G, seed)
    if strict:
        sizes = [len(b) for b in blocks]
        if not 2 <= len(blocks) <= 5 or min(sizes) < 20 or max(sizes) > 40:
            return False
    p = sbm_wald_pvalue(G, blocks, p_intra, p_inter)
    return bool(p > 0.9) if strict else p


VALIDITY: dict[str, Callable[[Any], bool]] = {
    "planar": is_planar_graph,
    "sbm": lambda G: bool(is_sbm_graph(G)),
}


class _IsoIndex:
    """Graphs bucketed by WL hash, for exact isomorphism look-ups."""

    def __init__(self) -> None:
        self.buckets: dict[str, list[Any]] = {}

    @staticmethod
    def key(G: Any) -> str:
        import warnings

        import networkx as nx

        with warnings.catch_warnings():  # networkx 3.5+ notes that its unlabelled hashes changed
            warnings.simplefilter("ignore", UserWarning)
            wl = nx.weisfeiler_lehman_graph_hash(G)
        return f"{G.number_of_nodes()}:{G.number_of_edges()}:{wl}"

    def contains(self, G: Any, key: str | None = None) -> bool:
        import networkx as nx

        bucket = self.buckets.get(key or self.key(G), [])
        return any(nx.is_isomorphic(G, H) for H in bucket)

    def add(self, G: Any, key: str | None = None) -> None:
        self.buckets.setdefault(key or self.key(G), []).append(G)


def _first_of_class(graphs: Sequence[Any]) -> list[bool]:
    seen = _IsoIndex()
    first = []
    for G in graphs:
        key = seen.key(G)
        new = not seen.contains(G, key)
        if new:
            seen.add(G, key)
        first.append(new)
    return first


def _not_in(graphs: Sequence[Any], train: Sequence[Any]) -> list[bool]:
    index = _IsoIndex()
    for H in train:
        index.add(H)
    return [not index.contains(G) for G in graphs]


def uniqueness(graphs: Sequence[Any]) -> float:
    """Fraction of graphs not isomorphic to an earlier graph of the list."""
    if not graphs:
        raise ValueError("uniqueness needs at least one graph")
    return float(np.mean(_first_of_class(graphs)))


def novelty(graphs: Sequence[Any], train: Sequence[Any]) -> float:
    """Fraction of graphs not isomorphic to any training graph."""
    if not graphs:
        raise ValueError("novelty needs at least one graph")
    return float(np.mean(_not_in(graphs, train)))


def vun(graphs: Sequence[Any], train: Sequence[Any], validity: str = "planar") -> dict[str, float]:
    """``valid``, ``unique``, ``novel`` and ``vun`` fractions (module docstring)."""
    if validity not in VALIDITY:
        raise ValueError(f"validity must be one of {sorted(VALIDITY)}, got {validity!r}")
    if not graphs:
        raise ValueError("vun needs at least one generated graph")
    valid = np.array([VALIDITY[validity](G) for G in graphs])
    first = np.array(_first_of_class(graphs))
    novel = np.array(_not_in(graphs, train))
    return {
        "valid": float(valid.mean()),
        "unique": float(first.mean()),
        "novel": float(novel.mean()),
        "vun": float((valid & first & novel).mean()),
    }
