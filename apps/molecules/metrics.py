"""Metrics of generated 3-D molecules as EDM and its successors report them, and property metrics.

* Stability (EDM): see :mod:`~scorelab.apps.molecules.stability`.
* Validity, uniqueness, novelty (EDM's ``BasicMolecularMetrics``): validity = valid / generated,
  where valid means RDKit sanitizes the molecule built with EDM-rule bonds; the molecule's
  SMILES is its largest fragment's; uniqueness = distinct valid SMILES / valid; novelty =
  distinct valid SMILES absent from the training SMILES / distinct valid SMILES. Training SMILES
  are made from the training geometries with the same bond rule (:func:`train_smiles_set`).
  EDM keeps a training molecule's full SMILES; we keep its largest fragment, as for generated
  ones (the two differ only for training molecules that the rule splits into fragments).
* ``connected``: fraction of generated molecules whose bond graph is one fragment.
* Property metrics: :func:`property_mae`, and :func:`ood_success` with :func:`tail_threshold`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .bonds import bond_orders
from .rdkit_mol import build_mol, canonical_smiles, is_connected
from .stability import atom_stability_from_bonds

SIDES = ("upper", "lower")


def validity_uniqueness_novelty(
    smiles: Sequence[str | None], train_smiles: set[str] | None = None
) -> dict[str, float | int | None]:
    """EDM's validity, uniqueness and novelty of generated SMILES (None = invalid molecule).

    A rate is None when undefined: uniqueness without valid molecules, novelty without
    ``train_smiles`` or without valid molecules.
    """
    if len(smiles) == 0:
        raise ValueError("validity of an empty list of molecules")
    valid = [s for s in smiles if s is not None]
    unique = set(valid)
    novel = None if train_smiles is None else unique - set(train_smiles)
    return {
        "validity": len(valid) / len(smiles),
        "uniqueness": len(unique) / len(valid) if valid else None,
        "novelty": len(novel) / len(unique) if novel is not None and unique else None,
        "num_valid": len(valid),
        "num_unique": len(unique),
        "num_novel": None if novel is None else len(novel),
    }


def _unpack(
    molecules: Sequence[tuple], charges: Sequence[Sequence[int]] | None
) -> list[tuple[Sequence[str], np.ndarray, Sequence[int] | None]]:
    """``(symbols, pos, charges or None)`` per molecule; ``charges`` overrides the tuples'."""
    if charges is not None and len(charges) != len(molecules):
        raise ValueError(f"{len(charges)} charge lists for {len(molecules)} molecules")
    out = []
    for k, mol in enumerate(molecules):
        if len(mol) not in (2, 3):
            raise ValueError(
                f"molecule {k}: expected (symbols, pos) or (symbols, pos, charges), "
                f"got a {len(mol)}-tuple"
            )
        q = charges[k] if charges is not None else (mol[2] if len(mol) == 3 else None)
        out.append((mol[0], np.asarray(mol[1], dtype=np.float64), q))
    return out


def _progress(items: Iterable, progress: bool, total: int, desc: str) -> Iterable:
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc)


def molecule_metrics(
    molecules: Sequence[tuple],
    train_smiles: set[str] | None = None,
    charges: Sequence[Sequence[int]] | None = None,
    progress: bool = False,
) -> dict[str, float | int | None]:
    """Stability, validity, uniqueness, novelty and connectivity of generated molecules.

    ``molecules``: ``(symbols, pos)`` or ``(symbols, pos, charges)`` tuples, positions in Å.
    Formal charges (from ``charges``, else from the tuples) go into the RDKit molecules and the
    charge-aware stability; ``atom_stability``/``mol_stability`` are EDM's and ignore them.
    """
    mols = _unpack(molecules, charges)
    if not mols:
        raise ValueError("metrics of an empty list of molecules")
    n_atoms = stable = stable_q = mol_stable = mol_stable_q = connected = 0
    smiles: list[str | None] = []
    for symbols, pos, q in _progress(mols, progress, len(mols), "molecule metrics"):
        bonds = bond_orders(symbols, pos)
        ok = atom_stability_from_bonds(symbols, bonds)
        ok_q = atom_stability_from_bonds(symbols, bonds, q, charge_aware=True)
        n_atoms += len(ok)
        stable += int(ok.sum())
        stable_q += int(ok_q.sum())
        mol_stable += int(ok.all())
        mol_stable_q += int(ok_q.all())
        mol = build_mol(symbols, pos, q, bonds=bonds)
        connected += int(is_connected(mol))
        smiles.append(canonical_smiles(mol))
    n = len(mols)
    return {
        "atom_stability": stable / max(n_atoms, 1),
        "mol_stability": mol_stable / n,
        "atom_stability_charged": stable_q / max(n_atoms, 1),
        "mol_stability_charged": mol_stable_q / n,
        **validity_uniqueness_novelty(smiles, train_smiles),
        "connected": connected / n,
        "num_molecules": n,
        "num_atoms": n_atoms,
        "num_stable": mol_stable,
        "num_connected": connected,
    }


def train_smiles_set(
    molecules: Sequence[tuple],
    charges: Sequence[Sequence[int]] | None = None,
    progress: bool = False,
) -> set[str]:
    """Canonical SMILES of training molecules with EDM-rule bonds (invalid ones left out).

    ``molecules`` as in :func:`molecule_metrics`; the SMILES are made exactly as for generated
    molecules, so novelty compares like with like.
    """
    out = set()
    for symbols, pos, q in _progress(
        _unpack(molecules, charges), progress, len(molecules), "training SMILES"
    ):
        smi = canonical_smiles(build_mol(symbols, pos, q))
        if smi is not None:
            out.add(smi)
    return out


def property_mae(predicted: Any, target: Any) -> float:
    """Mean absolute error between predicted and target property values (same units)."""
    pred = np.asarray(predicted, dtype=np.float64)
    targ = np.asarray(target, dtype=np.float64)
    if pred.shape != targ.shape:
        raise ValueError(f"predicted has shape {pred.shape}, target {targ.shape}")
    if pred.size == 0:
        raise ValueError("property_mae of empty arrays")
    if not (np.isfinite(pred).all() and np.isfinite(targ).all()):
        raise ValueError("property_mae needs finite values; drop failed molecules first")
    return float(np.abs(pred - targ).mean())


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; known: {', '.join(SIDES)}")


def tail_threshold(train_values: Any, q: float = 0.99, side: str = "upper") -> float:
    """Edge of the training tail: the ``q`` quantile (``upper``) or the ``1 - q`` (``lower``).

    ``q = 0.99`` leaves 1% of the training values beyond the threshold on either side.
    """
    _check_side(side)
    values = np.asarray(train_values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        raise ValueError("tail_threshold needs at least one finite training value")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    return float(np.quantile(values, q if side == "upper" else 1.0 - q))


def ood_success(predicted: Any, threshold: float, side: str = "upper") -> float:
    """Fraction of generated molecules whose measured property lies beyond ``threshold``.

    Our reading of PropMolFlow's out-of-distribution metric: ``predicted`` holds the property of
    each generated molecule as a regressor or DFT measures it; ``threshold`` is a training-set
    tail edge (:func:`tail_threshold`); "beyond" is strictly above it for ``side="upper"`` and
    strictly below for ``"lower"``. It says how often the model proposes molecules with
    under-represented property values. The denominator is every generated molecule: a NaN (a
    molecule whose property could not be measured) counts as a miss.
    """
    _check_side(side)
    values = np.asarray(predicted, dtype=np.float64).ravel()
    if not values.size:
        raise ValueError("ood_success of an empty array")
    with np.errstate(invalid="ignore"):
        beyond = values > threshold if side == "upper" else values < threshold
    return float(beyond.mean())


__all__ = [
    "SIDES",
    "molecule_metrics",
    "ood_success",
    "property_mae",
    "tail_threshold",
    "train_smiles_set",
    "validity_uniqueness_novelty",
]
