"""Bond orders from interatomic distances: EDM's published length-threshold rule.

This is the rule of EDM (Hoogeboom et al., 2022, ``qm9/bond_analyze.py``), which GeoLDM,
EquiFM and PropMolFlow's QM9 comparisons reuse. Typical single, double and triple bond lengths
(picometres) come from EDM's table, which cites wiredchemist.com's bond-length table and
chemistry-reference.com's "Bond Lengths and Enthalpies". A pair at distance ``d`` (pm) is bonded
when ``d < single + 10``; the bond is double when also ``d < double + 5`` and the pair has a
double length, and triple when also ``d < triple + 3`` and it has a triple length (EDM tuned the
margins on QM9). Pairs of known elements without a tabulated length are never bonded (EDM's
``check_exists``), which covers Al, Hg and Bi: EDM's length table has no entry for them.

We store each length once per unordered pair, so the rule is symmetric. EDM's own dictionaries
list C=S (160 pm) under C only, so its lookup gives S-C at most a single bond; QM9 has no S.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .elements import ATOMIC_NUMBERS

ELEMENTS: tuple[str, ...] = tuple(ATOMIC_NUMBERS)
"""elements the tables know (the GEOM vocabulary); any other symbol is an error"""

MARGINS_PM: tuple[int, int, int] = (10, 5, 3)
"""EDM's margins added to the single, double and triple lengths"""

SINGLE_PM: dict[tuple[str, str], int] = {
    ("H", "H"): 74, ("H", "C"): 109, ("H", "N"): 101, ("H", "O"): 96, ("H", "F"): 92,
    ("H", "B"): 119, ("H", "Si"): 148, ("H", "P"): 144, ("H", "As"): 152, ("H", "S"): 134,
    ("H", "Cl"): 127, ("H", "Br"): 141, ("H", "I"): 161,
    ("C", "C"): 154, ("C", "N"): 147, ("C", "O"): 143, ("C", "F"): 135, ("C", "Si"): 185,
    ("C", "P"): 184, ("C", "S"): 182, ("C", "Cl"): 177, ("C", "Br"): 194, ("C", "I"): 214,
    ("N", "N"): 145, ("N", "O"): 140, ("N", "F"): 136, ("N", "Cl"): 175, ("N", "Br"): 214,
    ("N", "S"): 168, ("N", "I"): 222, ("N", "P"): 177,
    ("O", "O"): 148, ("O", "F"): 142, ("O", "Br"): 172, ("O", "S"): 151, ("O", "P"): 163,
    ("O", "Si"): 163, ("O", "Cl"): 164, ("O", "I"): 194,
    ("F", "F"): 142, ("F", "S"): 158, ("F", "Si"): 160, ("F", "Cl"): 166, ("F", "Br"): 178,
    ("F", "P"): 156, ("F", "I"): 187,
    ("B", "Cl"): 175,
    ("Si", "Si"): 233, ("Si", "S"): 200, ("Si", "Cl"): 202, ("Si", "Br"): 215, ("Si", "I"): 243,
    ("Cl", "Cl"): 199, ("Cl", "P"): 203, ("Cl", "S"): 207, ("Cl", "Br"): 214,
    ("S", "S"): 204, ("S", "Br"): 225, ("S", "P"): 210, ("S", "I"): 234,
    ("Br", "Br"): 228, ("Br", "P"): 222,
    ("P", "P"): 221,
    ("I", "I"): 266,
}  # fmt: skip
"""typical single-bond lengths (pm), one entry per unordered pair"""

DOUBLE_PM: dict[tuple[str, str], int] = {
    ("C", "C"): 134, ("C", "N"): 129, ("C", "O"): 120, ("C", "S"): 160,
    ("N", "N"): 125, ("N", "O"): 121,
    ("O", "O"): 121, ("O", "P"): 150,
    ("P", "S"): 186,
}  # fmt: skip
"""typical double-bond lengths (pm)"""

TRIPLE_PM: dict[tuple[str, str], int] = {
    ("C", "C"): 120, ("C", "N"): 116, ("C", "O"): 113,
    ("N", "N"): 110,
}  # fmt: skip
"""typical triple-bond lengths (pm)"""

_INDEX = {s: k for k, s in enumerate(ELEMENTS)}


def _threshold_matrix(table: dict[tuple[str, str], int], margin: int) -> np.ndarray:
    """(K, K) distance thresholds in pm (length + margin); -inf where the pair has no length."""
    out = np.full((len(ELEMENTS), len(ELEMENTS)), -np.inf)
    for (a, b), length in table.items():
        out[_INDEX[a], _INDEX[b]] = out[_INDEX[b], _INDEX[a]] = length + margin
    return out


_THRESHOLDS = np.stack(
    [
        _threshold_matrix(table, margin)
        for table, margin in zip((SINGLE_PM, DOUBLE_PM, TRIPLE_PM), MARGINS_PM, strict=True)
    ]
)  # (3, K, K)


def element_indices(symbols: Sequence[str]) -> np.ndarray:
    """Indices of ``symbols`` into :data:`ELEMENTS`; ValueError naming an unknown element."""
    try:
        return np.array([_INDEX[s] for s in symbols], dtype=np.int64)
    except KeyError as err:
        raise ValueError(f"unknown element {err.args[0]!r}; known: {', '.join(ELEMENTS)}") from None


def bond_order(a: str, b: str, distance_angstrom: float) -> int:
    """EDM's bond order 0..3 between elements ``a`` and ``b`` at ``distance_angstrom``."""
    i, j = element_indices([a, b])
    below = 100.0 * float(distance_angstrom) < _THRESHOLDS[:, i, j]
    # each order requires the lower ones (EDM's nested test)
    return int(np.cumprod(below).sum())


def bond_orders(symbols: Sequence[str], pos: np.ndarray) -> np.ndarray:
    """EDM's bond orders ``(n, n)`` int64 for atoms ``symbols`` at ``pos`` ``(n, 3)`` Å.

    Symmetric with a zero diagonal.
    """
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != len(symbols):
        raise ValueError(
            f"pos has shape {pos.shape}; expected ({len(symbols)}, 3) for {len(symbols)} atoms"
        )
    idx = element_indices(symbols)
    dist_pm = 100.0 * np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    below = dist_pm[None] < _THRESHOLDS[:, idx[:, None], idx[None, :]]  # (3, n, n)
    order = np.cumprod(below, axis=0).sum(axis=0).astype(np.int64)
    np.fill_diagonal(order, 0)
    return order


__all__ = [
    "DOUBLE_PM",
    "ELEMENTS",
    "MARGINS_PM",
    "SINGLE_PM",
    "TRIPLE_PM",
    "bond_order",
    "bond_orders",
    "element_indices",
]
