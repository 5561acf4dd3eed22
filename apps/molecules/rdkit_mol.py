"""RDKit molecules from 3-D atoms, and EDM's validity and SMILES.

:func:`build_mol` makes an unsanitized molecule with EDM-rule bonds and a 3-D conformer, as
EDM's ``build_molecule`` (explicit atoms only; RDKit may add implicit hydrogens when it
sanitizes, as it does in EDM). :func:`sanitized_largest_fragment` and :func:`canonical_smiles`
follow EDM's ``compute_validity``/``mol2smiles``: a molecule is valid when ``SanitizeMol``
accepts it, and its SMILES is that of its largest fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .bonds import bond_orders

_INSTALL_HINT = "pip install 'scorelab[molecules]'"


def _chem() -> Any:
    try:
        from rdkit import Chem
    except ImportError as err:  # pragma: no cover - rdkit ships with the extra
        raise ImportError(f"RDKit is needed for molecule building: {_INSTALL_HINT}") from err
    return Chem


def build_mol(
    symbols: Sequence[str],
    pos: np.ndarray,
    charges: Sequence[int] | None = None,
    bonds: np.ndarray | None = None,
) -> Any:
    """Unsanitized ``Chem.Mol`` with atoms, formal charges, bonds and a 3-D conformer.

    ``bonds`` is an ``(n, n)`` matrix of orders 0..3; by default EDM's distance rule.
    """
    Chem = _chem()
    from rdkit.Geometry import Point3D

    pos = np.asarray(pos, dtype=np.float64)
    n = len(symbols)
    if pos.shape != (n, 3):
        raise ValueError(f"pos has shape {pos.shape}; expected ({n}, 3) for {n} atoms")
    if charges is not None and len(charges) != n:
        raise ValueError(f"{len(charges)} charges for {n} atoms")
    order = bond_orders(symbols, pos) if bonds is None else np.asarray(bonds)
    if order.shape != (n, n):
        raise ValueError(f"bonds has shape {order.shape}; expected ({n}, {n})")
    bond_type = {
        1: Chem.BondType.SINGLE,
        2: Chem.BondType.DOUBLE,
        3: Chem.BondType.TRIPLE,
    }
    mol = Chem.RWMol()
    for k, symbol in enumerate(symbols):
        atom = Chem.Atom(symbol)
        if charges is not None:
            atom.SetFormalCharge(int(charges[k]))
        mol.AddAtom(atom)
    for i, j in zip(*np.nonzero(np.triu(order, 1)), strict=True):
        o = int(order[i, j])
        if o not in bond_type:
            raise ValueError(f"bond ({i}, {j}) has order {o}; expected 0..3")
        mol.AddBond(int(i), int(j), bond_type[o])
    conf = Chem.Conformer(n)
    for k, (x, y, z) in enumerate(pos):
        conf.SetAtomPosition(k, Point3D(float(x), float(y), float(z)))
    mol.AddConformer(conf, assignId=True)
    return mol.GetMol()


def sanitized_largest_fragment(mol: Any) -> Any | None:
    """EDM's validity: a sanitized copy's largest fragment (by atom count); None if invalid."""
    Chem = _chem()
    from rdkit.rdBase import BlockLogs

    mol = Chem.Mol(mol)
    with BlockLogs():
        try:
            Chem.SanitizeMol(mol)
        except Exception:  # RDKit raises several exception types for bad valences and rings
            return None
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    return max(frags, key=lambda m: m.GetNumAtoms()) if frags else None


def canonical_smiles(mol: Any, explicit_hydrogens: bool = True) -> str | None:
    """Non-isomeric canonical SMILES of the largest sanitized fragment; None if invalid.

    Hydrogen atoms of the molecule are written as ``[H]`` atoms, as EDM's ``mol2smiles`` does
    (the metrics use this); ``explicit_hydrogens=False`` folds them into their heavy atoms for
    the usual short form.
    """
    Chem = _chem()
    frag = sanitized_largest_fragment(mol)
    if frag is None:
        return None
    if not explicit_hydrogens:
        frag = Chem.RemoveHs(frag, sanitize=False)
    return Chem.MolToSmiles(frag, isomericSmiles=False)


def is_connected(mol: Any) -> bool:
    """True when the molecule is one fragment (its largest fragment is the whole molecule)."""
    Chem = _chem()
    return len(Chem.GetMolFrags(mol)) <= 1


__all__ = ["build_mol", "canonical_smiles", "is_connected", "sanitized_largest_fragment"]
