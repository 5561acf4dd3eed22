"""2-D molecules as graphs: RDKit molecules to padded tensors and back, with GDSS's decoding.

A molecule is hydrogen-suppressed and kekulized: atom ``i`` has a type (an index into the
dataset's atom vocabulary) and bond ``(i, j)`` an order 0..3 (none, single, double, triple).
As tensors (GDSS's encoding): ``x`` one-hot over the vocabulary (padded nodes all zero),
``adj`` = bond order / 3. Formal charges are not encoded; decoding gives an N, O or S with one
bond too many a +1 charge, as GDSS does.

Decoding (:func:`decode_molecules`) follows GDSS (``utils/mol_utils.py``): quantize, build the
molecule, record whether it is valid *without correction*, then repeatedly lower the highest
order bond of an over-valent atom, and keep the largest fragment. Valences are RDKit's
(C 4; N 3, N+ 4; O 2, O+ 3; F, Cl, Br 1; P 3/5; S 2/4/6; I 1/3/5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import torch
from rdkit import Chem
from rdkit.rdBase import BlockLogs

QM9_ATOMS = ("C", "N", "O", "F")
ZINC_ATOMS = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
NCI_ATOMS = ZINC_ATOMS

_BOND_TYPES = {
    1: Chem.BondType.SINGLE,
    2: Chem.BondType.DOUBLE,
    3: Chem.BondType.TRIPLE,
}
_CHARGEABLE = {"N": 3, "O": 2, "S": 2}
"""elements that take a +1 charge when they carry exactly one bond more than this valence"""


def kekulized(smiles: str) -> Chem.Mol | None:
    """Parse ``smiles`` and kekulize it (aromatic flags cleared); None if RDKit rejects it."""
    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Chem.KekulizeException:
            return None
    return mol


def _kekule_copy(mol: Chem.Mol) -> Chem.Mol:
    if not any(b.GetIsAromatic() for b in mol.GetBonds()):
        return mol
    mol = Chem.Mol(mol)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    return mol


def mol_to_arrays(
    mol: Chem.Mol, atoms: Sequence[str], max_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Atom types ``(n,)`` (indices into ``atoms``) and bond orders ``(n, n)`` 0..3, int64.

    Aromatic input is kekulized on a copy; formal charges are dropped.
    """
    mol = _kekule_copy(mol)
    n = mol.GetNumAtoms()
    if n > max_nodes:
        raise ValueError(
            f"molecule {Chem.MolToSmiles(mol)!r} has {n} atoms > max_nodes {max_nodes}"
        )
    index = {symbol: k for k, symbol in enumerate(atoms)}
    types = np.empty(n, dtype=np.int64)
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol()
        if symbol not in index:
            raise ValueError(
                f"molecule {Chem.MolToSmiles(mol)!r}: element {symbol!r} is not in the atom "
                f"vocabulary {tuple(atoms)}"
            )
        types[atom.GetIdx()] = index[symbol]
    bonds = np.zeros((n, n), dtype=np.int64)
    for bond in mol.GetBonds():
        order = bond.GetBondTypeAsDouble()
        if order not in (1.0, 2.0, 3.0):
            raise ValueError(
                f"molecule {Chem.MolToSmiles(mol)!r}: bond type {bond.GetBondType()} is not "
                "single, double or triple"
            )
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bonds[i, j] = bonds[j, i] = int(order)
    return types, bonds


def mols_to_tensors(
    mols: Sequence[Chem.Mol], atoms: Sequence[str], max_nodes: int
) -> dict[str, torch.Tensor]:
    """``x`` (B, N, F) one-hot, ``adj`` (B, N, N) bond order / 3, ``node_mask`` (B, N); float32."""
    b, f = len(mols), len(atoms)
    x = np.zeros((b, max_nodes, f), dtype=np.float32)
    adj = np.zeros((b, max_nodes, max_nodes), dtype=np.float32)
    mask = np.zeros((b, max_nodes), dtype=np.float32)
    for k, mol in enumerate(mols):
        types, bonds = mol_to_arrays(mol, atoms, max_nodes)
        n = len(types)
        x[k, np.arange(n), types] = 1.0
        adj[k, :n, :n] = bonds / 3.0
        mask[k, :n] = 1.0
    return {
        "x": torch.from_numpy(x),
        "adj": torch.from_numpy(adj),
        "node_mask": torch.from_numpy(mask),
    }


def _rejected(atom: Chem.Atom) -> bool:
    """True when RDKit rejects the atom's explicit valence (call under ``BlockLogs``)."""
    try:
        atom.UpdatePropertyCache(strict=True)
    except Chem.AtomValenceException:
        return True
    return False


def _overvalent_atom(mol: Chem.Mol) -> int | None:
    """Index of the first atom whose explicit valence RDKit rejects, else None."""
    with BlockLogs():
        for atom in mol.GetAtoms():
            if _rejected(atom):
                return atom.GetIdx()
    return None


def check_valency(mol: Chem.Mol) -> bool:
    """True when no atom exceeds its allowed valence (RDKit's rules, formal charge included)."""
    return _overvalent_atom(mol) is None


def construct_mol(types: np.ndarray, bonds: np.ndarray, atoms: Sequence[str]) -> Chem.RWMol:
    """Unsanitized molecule from atom types ``(n,)`` and symmetric bond orders ``(n, n)``.

    An over-valent N, O or S with exactly one bond more than its usual valence gets charge +1
    (GDSS adds [N+], [O+], [S+] the same way; judged here on the finished molecule).
    """
    types = np.asarray(types)
    bonds = np.asarray(bonds)
    n = len(types)
    if bonds.shape != (n, n):
        raise ValueError(f"bonds has shape {bonds.shape}, expected ({n}, {n}) for {n} atoms")
    mol = Chem.RWMol()
    for t in types:
        mol.AddAtom(Chem.Atom(atoms[int(t)]))
    for i, j in zip(*np.nonzero(np.triu(bonds, 1)), strict=True):
        order = int(bonds[i, j])
        if order not in _BOND_TYPES:
            raise ValueError(f"bond ({i}, {j}) has order {order}, expected 0..3")
        mol.AddBond(int(i), int(j), _BOND_TYPES[order])
    with BlockLogs():
        for atom in mol.GetAtoms():
            usual = _CHARGEABLE.get(atom.GetSymbol())
            if usual is None:
                continue
            valence = sum(b.GetBondTypeAsDouble() for b in atom.GetBonds())
            if valence == usual + 1 and _rejected(atom):
                atom.SetFormalCharge(1)
    return mol


def correct_mol(mol: Chem.Mol) -> Chem.RWMol:
    """Copy of ``mol`` with valences fixed GDSS's way.

    While some atom is over-valent, its highest-order bond (the first such, in RDKit's bond
    order) loses one order; a single bond is removed.
    """
    mol = Chem.RWMol(mol)
    while (idx := _overvalent_atom(mol)) is not None:
        bonds = list(mol.GetAtomWithIdx(idx).GetBonds())
        if not bonds:  # an over-valent atom without bonds: only a charge can cause it
            mol.GetAtomWithIdx(idx).SetFormalCharge(0)
            continue
        top = max(bonds, key=lambda b: b.GetBondTypeAsDouble())  # max keeps the first of ties
        order = int(top.GetBondTypeAsDouble())
        i, j = top.GetBeginAtomIdx(), top.GetEndAtomIdx()
        mol.RemoveBond(i, j)
        if order > 1:
            mol.AddBond(i, j, _BOND_TYPES[order - 1])
    return mol


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The connected fragment with the most atoms (the first of equals)."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(frags) <= 1:
        return Chem.Mol(mol)
    return max(frags, key=lambda m: m.GetNumAtoms())


def _sanitized(mol: Chem.Mol) -> Chem.Mol | None:
    mol = Chem.Mol(mol)
    with BlockLogs():
        try:
            Chem.SanitizeMol(mol)
        except (ValueError, RuntimeError):
            return None
    return mol


def _numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().double().numpy()
    return np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.0)


def quantize_molecules(x: Any, adj: Any, node_mask: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """GDSS's quantization of a batch: per graph, atom types ``(n,)`` and bond orders ``(n, n)``.

    A real node is an atom when some entry of its ``x`` row exceeds 0.5 (the largest such
    entry gives the type), else it is dropped. ``adj * 3`` (symmetrized) is rounded to
    0..3 at 0.5, 1.5, 2.5.
    """
    x, adj, node_mask = _numpy(x), _numpy(adj), _numpy(node_mask)
    if x.ndim != 3 or adj.ndim != 3 or node_mask.ndim != 2:
        raise ValueError(
            f"expected x (B, N, F), adj (B, N, N), node_mask (B, N); got {x.shape}, "
            f"{adj.shape}, {node_mask.shape}"
        )
    b, n, _ = x.shape
    if adj.shape != (b, n, n) or node_mask.shape != (b, n):
        raise ValueError(
            f"shapes disagree: x {x.shape}, adj {adj.shape} (expected {(b, n, n)}), "
            f"node_mask {node_mask.shape} (expected {(b, n)})"
        )
    hot = x > 0.5
    keep = (node_mask > 0.5) & hot.any(-1)
    types = np.where(hot, x, -np.inf).argmax(-1)
    scaled = 1.5 * (adj + adj.transpose(0, 2, 1))  # symmetrized adj * 3
    orders = np.digitize(scaled, [0.5, 1.5, 2.5]).astype(np.int64)
    orders[:, np.arange(n), np.arange(n)] = 0
    return [(types[k][keep[k]], orders[k][np.ix_(keep[k], keep[k])]) for k in range(b)]


def decode_molecules(
    x: Any, adj: Any, node_mask: Any, atoms: Sequence[str]
) -> tuple[list[Chem.Mol | None], list[bool]]:
    """Molecules from a batch ``x`` (B, N, F), ``adj`` (B, N, N), ``node_mask`` (B, N).

    Returns the molecules (sanitized, valence-corrected, largest fragment; None for a graph with
    no atom) and, per graph, whether it was valid without correction.
    """
    if np.shape(x)[-1] != len(atoms):
        raise ValueError(
            f"x has {np.shape(x)[-1]} features but the vocabulary {atoms} has {len(atoms)}"
        )
    mols: list[Chem.Mol | None] = []
    valid: list[bool] = []
    for types, bonds in quantize_molecules(x, adj, node_mask):
        if len(types) == 0:
            mols.append(None)
            valid.append(False)
            continue
        mol = construct_mol(types, bonds, atoms)
        valid.append(check_valency(mol) and _sanitized(mol) is not None)
        fixed = _sanitized(largest_fragment(correct_mol(mol)))
        if fixed is None:  # valences are fine, so sanitization cannot fail; never pass one on
            raise RuntimeError(f"corrected molecule {Chem.MolToSmiles(mol)!r} does not sanitize")
        mols.append(fixed)
    return mols, valid


def canonical_smiles(mol: Chem.Mol | None) -> str | None:
    """RDKit canonical SMILES (aromaticity perceived on a copy); None if it does not sanitize."""
    if mol is None:
        return None
    mol = _sanitized(mol)
    return None if mol is None else Chem.MolToSmiles(mol)


def mol_to_nx(mol: Chem.Mol) -> nx.Graph:
    """Graph with node "label" = element symbol and edge "label" = int(bond order).

    As GDSS's ``mols_to_nx`` on its (aromatic, sanitized) molecules, aromaticity is perceived on
    a copy first, so an aromatic bond gets label 1 whether ``mol`` is kekulized or not.
    """
    mol = _sanitized(mol) or mol
    graph = nx.Graph()
    graph.add_nodes_from((a.GetIdx(), {"label": a.GetSymbol()}) for a in mol.GetAtoms())
    graph.add_edges_from(
        (b.GetBeginAtomIdx(), b.GetEndAtomIdx(), {"label": int(b.GetBondTypeAsDouble())})
        for b in mol.GetBonds()
    )
    return graph


__all__ = [
    "NCI_ATOMS",
    "QM9_ATOMS",
    "ZINC_ATOMS",
    "canonical_smiles",
    "check_valency",
    "construct_mol",
    "correct_mol",
    "decode_molecules",
    "kekulized",
    "largest_fragment",
    "mol_to_arrays",
    "mol_to_nx",
    "mols_to_tensors",
    "quantize_molecules",
]
