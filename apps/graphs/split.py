"""A dataset split: training and test graphs (and molecules) with the sizes a model needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["generic", "molecule"]


@dataclass
class GraphSplit:
    """Train/test (and optional validation) graphs of one dataset.

    ``max_nodes`` pads every graph of the dataset; ``max_feat`` is the node-feature width
    (degree one-hot for generic graphs, ``len(atoms)`` for molecules). Molecule splits also
    carry RDKit molecules and canonical SMILES; their networkx graphs have node and edge
    attribute ``"label"`` (element symbol, bond order) for NSPDK.
    """

    name: str
    kind: Kind
    train: list[Any]
    test: list[Any]
    max_nodes: int
    max_feat: int
    val: list[Any] = field(default_factory=list)
    atoms: tuple[str, ...] = ()
    train_mols: list[Any] = field(default_factory=list)
    test_mols: list[Any] = field(default_factory=list)
    train_smiles: list[str] = field(default_factory=list)
    test_smiles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.train or not self.test:
            raise ValueError(
                f"dataset {self.name!r}: empty split (train {len(self.train)}, "
                f"test {len(self.test)})"
            )
        if self.kind == "molecule" and not self.atoms:
            raise ValueError(f"dataset {self.name!r}: a molecule split needs its atom vocabulary")

    def __repr__(self) -> str:
        return (
            f"GraphSplit({self.name!r}, {self.kind}, train={len(self.train)}, "
            f"test={len(self.test)}, max_nodes={self.max_nodes}, max_feat={self.max_feat})"
        )
