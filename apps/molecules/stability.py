"""Atom and molecule stability, as EDM (Hoogeboom et al., 2022) computes them.

Bonds come from :func:`~scorelab.apps.molecules.bonds.bond_orders` (EDM's distance rule). An
atom is stable when the sum of its bond orders is exactly one of its element's allowed valences
(EDM's ``allowed_bonds``: H 1, C 4, N 3, O 2, F 1, B 3, Al 3, Si 4, P 3 or 5, S 4, Cl 1, As 3,
Br 1, I 1, Hg 1 or 2, Bi 3 or 5). EDM lists S as 4 only, so thioethers (S 2) and sulfones (S 6)
count as unstable; we keep EDM's convention. A molecule is stable when all its atoms are.
EDM's rule ignores formal charges, so a zwitterion is unstable by construction.

``charge_aware=True`` shifts the allowed valences with the formal charge, following the charged
entries of the MiDi table that FlowMol and SemlaFlow use (:data:`CHARGED_VALENCES`): H+/H- 0,
C+/C- 3, N+ 2, 3 or 4, N- 2, O+ 3, O- 1, F- 0, P+ 4, S+ 2 or 3, S2+ 4, S3+ 5, S- 3, Br+ 2. A
charge the table does not list falls back to the neutral valences, as in MiDi. Neutral atoms
keep EDM's values (MiDi also accepts C 3, N 2, S 2 or 6), so with all charges zero the
charge-aware result equals EDM's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .bonds import bond_orders, element_indices

VALENCES: dict[str, tuple[int, ...]] = {
    "H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Al": (3,), "Si": (4,),
    "P": (3, 5), "S": (4,), "Cl": (1,), "As": (3,), "Br": (1,), "I": (1,), "Hg": (1, 2),
    "Bi": (3, 5),
}  # fmt: skip
"""EDM's allowed valences of neutral atoms"""

CHARGED_VALENCES: dict[tuple[str, int], tuple[int, ...]] = {
    ("H", 1): (0,), ("H", -1): (0,),
    ("C", 1): (3,), ("C", -1): (3,),
    ("N", 1): (2, 3, 4), ("N", -1): (2,),
    ("O", 1): (3,), ("O", -1): (1,),
    ("F", -1): (0,),
    ("P", 1): (4,),
    ("S", 1): (2, 3), ("S", 2): (4,), ("S", 3): (5,), ("S", -1): (3,),
    ("Br", 1): (2,),
}  # fmt: skip
"""allowed valences of charged atoms (MiDi / FlowMol), used with ``charge_aware=True``"""


def allowed_valences(symbol: str, charge: int = 0, charge_aware: bool = False) -> tuple[int, ...]:
    """Allowed bond-order sums of an atom; the charge matters only when ``charge_aware``."""
    element_indices([symbol])  # ValueError naming an unknown element
    if charge_aware and (symbol, charge) in CHARGED_VALENCES:
        return CHARGED_VALENCES[(symbol, charge)]
    return VALENCES[symbol]


def atom_stability(
    symbols: Sequence[str],
    pos: np.ndarray,
    charges: Sequence[int] | None = None,
    charge_aware: bool = False,
) -> np.ndarray:
    """Per-atom stability ``(n,)`` bool: bond-order sum is an allowed valence."""
    return atom_stability_from_bonds(symbols, bond_orders(symbols, pos), charges, charge_aware)


def atom_stability_from_bonds(
    symbols: Sequence[str],
    bonds: np.ndarray,
    charges: Sequence[int] | None = None,
    charge_aware: bool = False,
) -> np.ndarray:
    """Per-atom stability ``(n,)`` bool given a bond-order matrix ``(n, n)``."""
    valence = np.asarray(bonds).sum(axis=1)
    if len(valence) != len(symbols):
        raise ValueError(f"bonds has shape {np.shape(bonds)} for {len(symbols)} atoms")
    if charges is None:
        charges = [0] * len(symbols)
    elif len(charges) != len(symbols):
        raise ValueError(f"{len(charges)} charges for {len(symbols)} atoms")
    return np.array(
        [
            int(v) in allowed_valences(s, int(c), charge_aware)
            for s, v, c in zip(symbols, valence, charges, strict=True)
        ],
        dtype=bool,
    )


def molecule_stable(
    symbols: Sequence[str],
    pos: np.ndarray,
    charges: Sequence[int] | None = None,
    charge_aware: bool = False,
) -> bool:
    """True when every atom is stable."""
    return bool(atom_stability(symbols, pos, charges, charge_aware).all())


def stability(
    molecules: Sequence[tuple],
    charges: Sequence[Sequence[int]] | None = None,
    charge_aware: bool = False,
) -> dict[str, float | int]:
    """EDM's stability of ``molecules`` (``(symbols, pos)`` or ``(symbols, pos, charges)``).

    Returns ``atom_stability`` (stable atoms / all atoms), ``mol_stability`` (fraction of
    molecules whose atoms are all stable) and the counts behind them. ``charges`` (one sequence
    per molecule) overrides charges carried in the tuples; they matter only when
    ``charge_aware``.
    """
    if charges is not None and len(charges) != len(molecules):
        raise ValueError(f"{len(charges)} charge lists for {len(molecules)} molecules")
    if len(molecules) == 0:
        raise ValueError("stability of an empty list of molecules")
    stable_atoms = n_atoms = stable_mols = 0
    for k, mol in enumerate(molecules):
        symbols, pos = mol[0], mol[1]
        q = charges[k] if charges is not None else (mol[2] if len(mol) > 2 else None)
        ok = atom_stability(symbols, pos, q, charge_aware)
        stable_atoms += int(ok.sum())
        n_atoms += len(ok)
        stable_mols += int(ok.all())
    return {
        "atom_stability": stable_atoms / max(n_atoms, 1),
        "mol_stability": stable_mols / len(molecules),
        "num_atoms": n_atoms,
        "num_molecules": len(molecules),
    }


__all__ = [
    "CHARGED_VALENCES",
    "VALENCES",
    "allowed_valences",
    "atom_stability",
    "atom_stability_from_bonds",
    "molecule_stable",
    "stability",
]
