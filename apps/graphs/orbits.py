"""Per-node graphlet orbit counts (ORCA, graphlets of 2-4 nodes: 15 node orbits).

Wraps the ``orbit_count`` package (GPL-3.0 bindings of ORCA), an optional extra:
``pip install 'scorelab[orca]'``. Orbits follow ORCA's numbering: 0 edge; 1-3 on 3 nodes
(path end, path middle, triangle); 4-14 on 4 nodes (path, star, cycle, paw, diamond, K4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_ORBITS = 15


def _orca() -> Any:
    try:
        import orbit_count
    except ImportError as err:
        raise ImportError(
            "orbit counts need the GPL-3.0 package orbit_count: pip install 'scorelab[orca]'"
        ) from err
    return orbit_count


def node_orbit_counts(G: Any) -> np.ndarray:
    """Counts of the 15 node orbits of 2-4 node graphlets: (n, 15) int64, rows in G.nodes order.

    Self-loops are ignored; a graph without nodes gives (0, 15), one without edges all zeros.
    """
    import networkx as nx

    orca = _orca()
    n = G.number_of_nodes()
    index = {u: i for i, u in enumerate(G.nodes())}
    edges = [(index[u], index[v]) for u, v in G.edges() if u != v]
    if not edges:  # ORCA rejects an empty edge list (and crashes on 0 nodes)
        return np.zeros((n, N_ORBITS), dtype=np.int64)
    H = nx.Graph()
    H.add_nodes_from(range(n))
    H.add_edges_from(edges)
    counts = np.asarray(orca.node_orbit_counts(H, graphlet_size=4), dtype=np.int64)
    if counts.shape != (n, N_ORBITS):
        raise RuntimeError(f"ORCA returned shape {counts.shape}, expected {(n, N_ORBITS)}")
    return counts
