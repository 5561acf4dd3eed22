"""The graph datasets by name, and their train/test splits as in GDSS and SPECTRE.

Generic datasets (community_small, grid, planar, sbm) are regenerated from their recipes
(:mod:`.generators`), deterministically under ``seed``; given a ``path`` they are read from
the published file instead (:func:`.formats.load_graph_pickle`). ego_small and enzymes need
the published files. Molecule datasets (qm9, zinc250k, nci) are loaded by
:mod:`.molecule_sets`.

Splits: GDSS datasets (community_small, grid, ego_small, enzymes) shuffle the list with
``random.Random(seed)``, then the first ``int(0.2 n)`` graphs are the test set and the rest
train. SPECTRE datasets (planar, sbm) take the test set the same way, then ``int(0.2 m)`` of
the remaining m as validation (200 graphs: 128 train / 32 val / 40 test).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from . import generators
from .formats import load_graph_pickle, load_tu_dataset
from .split import GraphSplit

__all__ = ["DATASETS", "DatasetInfo", "GraphSplit", "load_dataset"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset name stands for."""

    kind: str
    """``"generic"`` or ``"molecule"``"""
    needs_path: bool
    source: str
    """where the data comes from (the file to fetch, for datasets that need a path)"""
    max_feat: int | None = None
    """degree one-hot width (GDSS config); None: max degree + 1 of the data, capped at 20"""


DATASETS: dict[str, DatasetInfo] = {
    "community_small": DatasetInfo(
        "generic", False, "generated: 2 communities, 12-20 nodes (GDSS recipe)", 10
    ),
    "grid": DatasetInfo("generic", False, "generated: 2-D grids 10..19 x 10..19 (GraphRNN)", 5),
    "planar": DatasetInfo("generic", False, "generated: 64-node Delaunay graphs (SPECTRE)"),
    "sbm": DatasetInfo("generic", False, "generated: stochastic block models (SPECTRE)"),
    "ego_small": DatasetInfo(
        "generic",
        True,
        "GDSS's data/ego_small.pkl (github.com/harryjo97/GDSS), 200 Citeseer 1-hop ego graphs",
        17,
    ),
    "enzymes": DatasetInfo(
        "generic",
        True,
        "GDSS's data/ENZYMES.pkl (github.com/harryjo97/GDSS), or the TU Dortmund ENZYMES "
        "folder (chrsmrrs.github.io/datasets) with ENZYMES_A.txt etc.",
        10,
    ),
    "qm9": DatasetInfo(
        "molecule", False, "QM9 from the qm9pack wheel's csv files, or GDSS's qm9.csv"
    ),
    "zinc250k": DatasetInfo(
        "molecule", True, "GDSS's data/zinc250k.csv (github.com/harryjo97/GDSS)"
    ),
    "nci": DatasetInfo("molecule", False, "RDKit's bundled Data/NCI/first_5K.smi (4,105 kept)"),
}

MAX_DERIVED_FEAT = 20
"""cap on max degree + 1 for datasets whose feature width comes from the data"""

_SPECTRE = ("planar", "sbm")


def _generate(name: str, seed: int) -> list[nx.Graph]:
    if name == "community_small":
        return generators.community_small(seed=seed)
    if name == "grid":
        return generators.grid()
    if name == "planar":
        return generators.planar(seed=seed)
    return generators.sbm(seed=seed)


def _read(name: str, path: Path) -> list[nx.Graph]:
    if name == "enzymes" and path.is_dir():
        return load_tu_dataset(path, "ENZYMES", min_nodes=10, max_nodes=1000)
    return load_graph_pickle(path)


def load_dataset(
    name: str,
    path: str | Path | None = None,
    seed: int = 0,
    max_molecules: int | None = None,
    cache_dir: Path | None = None,
) -> GraphSplit:
    """The named dataset's split (see the module docstring for sources and split rules)."""
    if name not in DATASETS:
        raise ValueError(f"unknown graph dataset {name!r}; known: {', '.join(DATASETS)}")
    info = DATASETS[name]
    if info.needs_path and path is None:
        raise ValueError(f"dataset {name!r} needs path= to a local copy of {info.source}")
    if info.kind == "molecule":
        from .molecule_sets import load_molecule_split

        return load_molecule_split(
            name, path=path, seed=seed, max_molecules=max_molecules, cache_dir=cache_dir
        )

    graphs = _generate(name, seed) if path is None else _read(name, Path(path))
    if len(graphs) < 2:
        raise ValueError(f"dataset {name!r}: need at least 2 graphs to split, got {len(graphs)}")
    random.Random(seed).shuffle(graphs)
    n_test = max(1, int(0.2 * len(graphs)))
    test, rest = graphs[:n_test], graphs[n_test:]
    val: list[nx.Graph] = []
    if name in _SPECTRE:
        n_val = int(0.2 * len(rest))
        val, rest = rest[:n_val], rest[n_val:]
    max_feat = info.max_feat
    if max_feat is None:
        max_degree = max((d for g in graphs for _, d in g.degree()), default=0)
        max_feat = min(max_degree + 1, MAX_DERIVED_FEAT)
    return GraphSplit(
        name=name,
        kind="generic",
        train=rest,
        test=test,
        val=val,
        max_nodes=max(g.number_of_nodes() for g in graphs),
        max_feat=max_feat,
    )
