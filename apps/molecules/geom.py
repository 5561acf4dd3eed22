"""GEOM-drugs from a local copy in EDM's published format (``build_geom_dataset.py``).

EDM's files, in one folder:

* ``geom_drugs_30.npy``: float array (total atoms, 5) of rows ``conformer id, atomic number,
  x, y, z`` (Å); consecutive rows with the same id form one conformer (the 30 lowest-energy
  conformers of each molecule, one after another);
* ``geom_drugs_n_30.npy`` (optional): the atom count of each conformer, checked when present;
* ``geom_drugs_smiles.txt`` (optional): one SMILES per *molecule*. The files do not say which
  conformers belong to which molecule, so the SMILES are attached to the rows only when there is
  one per conformer; :func:`geom_smiles` returns them either way (e.g. for novelty metrics).

Each conformer is one row of the :class:`MoleculeSet`, in file order, with vocabulary
``GEOM_ATOMS`` and all formal charges 0 (the format has none).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dataset import MoleculeSet
from .elements import ATOMIC_NUMBERS, GEOM_ATOMS, GEOM_CHARGES

DEFAULT_FILE = "geom_drugs_30.npy"
SMILES_FILE = "geom_drugs_smiles.txt"
_CHUNK = 1 << 20  # rows read at a time while looking for the first conformers
_TYPE_OF = np.full(max(ATOMIC_NUMBERS.values()) + 1, -1, dtype=np.int64)
"""atomic number -> index into GEOM_ATOMS (-1: not in the vocabulary)"""
_TYPE_OF[[ATOMIC_NUMBERS[s] for s in GEOM_ATOMS]] = np.arange(len(GEOM_ATOMS))


def _conformer_file(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    file = path / DEFAULT_FILE if path.is_dir() else path
    if not file.is_file():
        raise ValueError(
            f"GEOM-drugs: no {file}; expected EDM's {DEFAULT_FILE} (rows: conformer id, atomic "
            f"number, x, y, z), optionally with geom_drugs_n_30.npy and {SMILES_FILE} beside it"
        )
    return file


def _count_file(file: Path) -> Path:
    """EDM's per-conformer atom counts beside ``geom_drugs_<tag>.npy``: ``geom_drugs_n_<tag>``."""
    tag = file.stem.removeprefix("geom_drugs_")
    return file.with_name(f"geom_drugs_n_{tag}.npy")


def geom_smiles(path: str | os.PathLike) -> list[str]:
    """The per-molecule SMILES of ``geom_drugs_smiles.txt`` beside the conformer file (or in the
    folder ``path``); an empty list when the file is absent."""
    file = _conformer_file(path).with_name(SMILES_FILE)
    if not file.is_file():
        return []
    return [s.strip() for s in file.read_text(encoding="utf-8").splitlines() if s.strip()]


def _rows(data: np.ndarray, max_conformers: int | None) -> np.ndarray:
    """The rows of the first ``max_conformers`` conformers (all rows when None)."""
    if max_conformers is None:
        return np.asarray(data)
    end, seen, last = 0, 0, None
    while end < len(data):  # scan the id column in chunks: the file may be many GB
        ids = np.asarray(data[end : end + _CHUNK, 0])
        starts = np.nonzero(np.diff(ids, prepend=ids[0] if last is None else last))[0]
        if last is None:
            starts = np.r_[0, starts]
        if seen + len(starts) > max_conformers:
            return np.asarray(data[: end + starts[max_conformers - seen]])
        seen += len(starts)
        last = ids[-1]
        end += len(ids)
    return np.asarray(data)


def load_geom_drugs(
    path: str | os.PathLike,
    max_conformers: int | None = None,
    remove_h: bool = False,
) -> MoleculeSet:
    """GEOM-drugs conformers from EDM's ``geom_drugs_30.npy`` (``path``: that file or its
    folder), the first ``max_conformers`` when given, hydrogens dropped when ``remove_h``."""
    if max_conformers is not None and max_conformers < 1:
        raise ValueError(f"max_conformers must be at least 1, got {max_conformers}")
    file = _conformer_file(path)
    try:
        data = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{file}: not a readable .npy array ({e})") from e
    if data.ndim != 2 or data.shape[1] != 5 or len(data) == 0:
        raise ValueError(
            f"{file}: expected a non-empty (atoms, 5) array of conformer id, atomic number, "
            f"x, y, z; got shape {data.shape}"
        )
    rows = np.asarray(_rows(data, max_conformers), dtype=np.float64)
    if not np.isfinite(rows).all():
        raise ValueError(f"{file}: non-finite values in the first {len(rows)} rows")
    ids = rows[:, 0]
    starts = np.r_[0, np.nonzero(ids[1:] != ids[:-1])[0] + 1]
    counts = np.diff(np.r_[starts, len(rows)])
    total = _check_counts(file, counts, max_conformers is not None)
    z = rows[:, 1]
    known = (z == np.round(z)) & (z >= 0) & (z < len(_TYPE_OF))
    types = np.where(known, _TYPE_OF[np.where(known, z, 0).astype(np.int64)], -1)
    if (types < 0).any():
        k = int(np.argmax(types < 0))
        conformer = int(np.searchsorted(starts, k, side="right") - 1)
        raise ValueError(
            f"{file}: conformer {conformer}: atomic number {z[k]:g} is not in GEOM's "
            f"vocabulary {GEOM_ATOMS}"
        )
    conformer = np.repeat(np.arange(len(starts)), counts)
    keep = z != 1 if remove_h else np.ones(len(rows), dtype=bool)
    smiles = _row_smiles(file, len(starts), total)
    return _pack(conformer[keep], types[keep], rows[keep, 2:5], len(starts), smiles)


def _check_counts(file: Path, counts: np.ndarray, partial: bool) -> int | None:
    """Compare conformer sizes with EDM's ``geom_drugs_n_*.npy`` when it is there; the number
    of conformers in the whole file, None when unknown (a partial read without that file)."""
    n_file = _count_file(file)
    if not n_file.is_file():
        return None if partial else len(counts)
    try:
        expected = np.load(n_file, allow_pickle=False).astype(np.int64).ravel()
    except (OSError, ValueError) as e:
        raise ValueError(f"{n_file}: not a readable .npy array ({e})") from e
    head = expected[: len(counts)] if partial else expected
    if not np.array_equal(head, counts):
        raise ValueError(
            f"{n_file}: atom counts per conformer disagree with {file.name} "
            f"({len(expected)} counts for {len(counts)} conformers); files from different runs?"
        )
    return len(expected)


def _row_smiles(file: Path, n_conformers: int, total: int | None) -> list[str]:
    """SMILES per row when the SMILES file has one per conformer of the whole file (``total``
    conformers, None when unknown), else "" entries."""
    smiles = geom_smiles(file)
    if total is not None and len(smiles) == total:
        return smiles[:n_conformers]
    return [""] * n_conformers


def _pack(
    conformer: np.ndarray, types: np.ndarray, xyz: np.ndarray, m: int, smiles: list[str]
) -> MoleculeSet:
    """Dense padded arrays from per-atom conformer indices (sorted), types and positions."""
    counts = np.bincount(conformer, minlength=m)
    n = int(counts.max()) if m else 0
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    slot = np.arange(len(conformer)) - np.repeat(starts, counts)
    pos = np.zeros((m, n, 3), dtype=np.float32)
    atom_type = np.zeros((m, n), dtype=np.int64)
    mask = np.zeros((m, n), dtype=bool)
    pos[conformer, slot] = xyz
    atom_type[conformer, slot] = types
    mask[conformer, slot] = True
    zero = GEOM_CHARGES.index(0)
    return MoleculeSet(
        name="geom_drugs",
        atoms=GEOM_ATOMS,
        charges=GEOM_CHARGES,
        pos=pos,
        atom_type=atom_type,
        charge=np.full((m, n), zero, dtype=np.int64),
        mask=mask,
        properties={},
        smiles=smiles,
    )


__all__ = ["DEFAULT_FILE", "SMILES_FILE", "geom_smiles", "load_geom_drugs"]
