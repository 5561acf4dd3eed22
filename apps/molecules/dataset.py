"""The padded molecule container (:class:`MoleculeSet`) and its ``.npz`` file format.

A set of M molecules of at most N atoms is stored as dense arrays: positions (M, N, 3) in
Ångström, atom types and formal charges as indices into the set's vocabularies, and a mask
whose rows are real atoms first, then padding. Padding holds zero positions, type index 0 and
the index of charge 0, whatever the caller passed there.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.io import atomic

FORMAT = "scorelab.molecules.MoleculeSet/1"
_PROP_PREFIX = "property:"


@dataclass(eq=False)
class MoleculeSet:
    """M molecules padded to N atoms; ``atom_type``/``charge`` index ``atoms``/``charges``."""

    name: str
    atoms: tuple[str, ...]
    charges: tuple[int, ...]
    pos: np.ndarray  # float32 (M, N, 3), Å, zero on padding, not centred
    atom_type: np.ndarray  # int64 (M, N)
    charge: np.ndarray  # int64 (M, N)
    mask: np.ndarray  # bool (M, N), real atoms first
    properties: dict[str, np.ndarray] = field(default_factory=dict)  # float64 (M,) each
    smiles: list[str] = field(default_factory=list)  # "" where the source has none

    def __post_init__(self) -> None:
        self.name = str(self.name)
        self.atoms = tuple(str(a) for a in self.atoms)
        self.charges = tuple(int(c) for c in self.charges)
        if not self.atoms or len(set(self.atoms)) != len(self.atoms):
            raise ValueError(f"{self.name}: atoms must be distinct and non-empty, got {self.atoms}")
        if 0 not in self.charges or len(set(self.charges)) != len(self.charges):
            raise ValueError(
                f"{self.name}: charges must be distinct and include 0, got {self.charges}"
            )
        self.pos, self.atom_type, self.charge, self.mask = _checked_arrays(self)
        m = len(self.pos)
        props = {}
        for key, val in dict(self.properties).items():
            val = np.asarray(val, dtype=np.float64)
            if val.shape != (m,):
                raise ValueError(
                    f"{self.name}: property {key!r} has shape {val.shape}, need ({m},)"
                )
            props[str(key)] = val
        self.properties = props
        smiles = [""] * m if not self.smiles and m else [str(s) for s in self.smiles]
        if len(smiles) != m:
            raise ValueError(f"{self.name}: {len(smiles)} SMILES for {m} molecules")
        self.smiles = smiles

    def __len__(self) -> int:
        return self.pos.shape[0]

    def __repr__(self) -> str:
        props = ", ".join(self.properties) or "none"
        return (
            f"MoleculeSet({self.name!r}, {len(self)} molecules, up to {self.pos.shape[1]} atoms, "
            f"atoms={self.atoms}, charges={self.charges}, properties: {props})"
        )

    @property
    def num_atoms(self) -> np.ndarray:
        """Real atoms per molecule, int64 (M,)."""
        return self.mask.sum(1).astype(np.int64)

    def subset(self, idx: Any) -> MoleculeSet:
        """Rows ``idx`` (index array, list, boolean mask or slice), padding trimmed to the new
        largest molecule."""
        rows = np.arange(len(self))[idx]
        if rows.ndim != 1:
            raise ValueError(f"subset needs a 1-D selection of rows, got shape {rows.shape}")
        n = int(self.mask[rows].sum(1).max()) if len(rows) else 0
        return MoleculeSet(
            name=self.name,
            atoms=self.atoms,
            charges=self.charges,
            pos=self.pos[rows, :n],
            atom_type=self.atom_type[rows, :n],
            charge=self.charge[rows, :n],
            mask=self.mask[rows, :n],
            properties={k: v[rows] for k, v in self.properties.items()},
            smiles=[self.smiles[r] for r in rows],
        )

    def molecule(self, i: int) -> tuple[list[str], np.ndarray, list[int]]:
        """Element symbols, (n, 3) float64 positions and formal charges of molecule ``i``."""
        n = int(self.mask[i].sum())
        symbols = [self.atoms[t] for t in self.atom_type[i, :n]]
        charges = [self.charges[c] for c in self.charge[i, :n]]
        return symbols, self.pos[i, :n].astype(np.float64), charges


def _checked_arrays(ms: MoleculeSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``pos``, ``atom_type``, ``charge``, ``mask`` validated, typed and with canonical padding."""
    name = ms.name
    pos = np.asarray(ms.pos, dtype=np.float32)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"{name}: pos must have shape (M, N, 3), got {pos.shape}")
    shape = pos.shape[:2]
    mask, atom_type, charge = (np.asarray(a) for a in (ms.mask, ms.atom_type, ms.charge))
    for key, arr in (("atom_type", atom_type), ("charge", charge), ("mask", mask)):
        if arr.shape != shape:
            raise ValueError(f"{name}: {key} has shape {arr.shape}, pos implies {shape}")
    if mask.dtype != np.bool_:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name}: mask must be boolean (or 0/1)")
        mask = mask.astype(bool)
    for key, arr in (("atom_type", atom_type), ("charge", charge)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}: {key} must hold integer indices, got {arr.dtype}")
    late = (mask[:, 1:] > mask[:, :-1]).any(1)
    if late.any():
        raise ValueError(
            f"{name}: molecule {int(np.argmax(late))}: mask must list real atoms first"
        )
    empty = ~mask.any(1) if shape[1] else np.ones(shape[0], dtype=bool)
    if empty.any():
        raise ValueError(f"{name}: molecule {int(np.argmax(empty))} has no atoms")
    bad = (~np.isfinite(pos).all(2) & mask).any(1)
    if bad.any():
        raise ValueError(f"{name}: molecule {int(np.argmax(bad))} has non-finite positions")
    for key, arr, size in (
        ("atom_type", atom_type, len(ms.atoms)),
        ("charge", charge, len(ms.charges)),
    ):
        out = ((arr < 0) | (arr >= size)) & mask
        if out.any():
            row, col = np.argwhere(out)[0]
            raise ValueError(
                f"{name}: molecule {row}: {key} index {int(arr[row, col])} outside 0..{size - 1}"
            )
    pad = ~mask
    return (
        np.where(pad[..., None], np.float32(0), pos),
        np.where(pad, 0, atom_type).astype(np.int64),
        np.where(pad, ms.charges.index(0), charge).astype(np.int64),
        mask,
    )


def pad_molecules(
    molecules: Sequence[tuple[Sequence[str], np.ndarray, Sequence[int]]],
    atoms: Sequence[str],
    charges: Sequence[int],
    name: str,
    properties: dict[str, np.ndarray] | None = None,
    smiles: Sequence[str] | None = None,
) -> MoleculeSet:
    """A :class:`MoleculeSet` from (symbols, (n, 3) positions, formal charges) triples."""
    type_of = {a: i for i, a in enumerate(atoms)}
    charge_of = {int(c): i for i, c in enumerate(charges)}
    if 0 not in charge_of:
        raise ValueError(f"{name}: the charge vocabulary {tuple(charges)} must include 0")
    n_max = max((len(m[0]) for m in molecules), default=0)
    m = len(molecules)
    pos = np.zeros((m, n_max, 3), dtype=np.float32)
    atom_type = np.zeros((m, n_max), dtype=np.int64)
    charge = np.full((m, n_max), charge_of[0], dtype=np.int64)
    mask = np.zeros((m, n_max), dtype=bool)
    for i, (symbols, xyz, formal) in enumerate(molecules):
        n = len(symbols)
        xyz = np.asarray(xyz, dtype=np.float64)
        if xyz.shape != (n, 3) or len(formal) != n:
            raise ValueError(
                f"{name}: molecule {i}: {n} symbols, positions of shape {xyz.shape} and "
                f"{len(formal)} charges (need (n, 3) positions and n charges)"
            )
        try:
            atom_type[i, :n] = [type_of[s] for s in symbols]
        except KeyError as e:
            raise ValueError(
                f"{name}: molecule {i}: element {e.args[0]!r} not in {tuple(atoms)}"
            ) from None
        try:
            charge[i, :n] = [charge_of[int(c)] for c in formal]
        except KeyError as e:
            raise ValueError(
                f"{name}: molecule {i}: formal charge {e.args[0]} not in {tuple(charges)}"
            ) from None
        pos[i, :n] = xyz
        mask[i, :n] = True
    return MoleculeSet(
        name=name,
        atoms=tuple(atoms),
        charges=tuple(charges),
        pos=pos,
        atom_type=atom_type,
        charge=charge,
        mask=mask,
        properties=dict(properties or {}),
        smiles=list(smiles) if smiles is not None else [],
    )


def _small_int(a: np.ndarray) -> np.ndarray:
    """The narrowest of int8/int16/int64 that holds ``a`` (the file stays small)."""
    for dtype in (np.int8, np.int16):
        info = np.iinfo(dtype)
        if a.size == 0 or (a.min() >= info.min and a.max() <= info.max):
            return a.astype(dtype)
    return a


def _encode_lines(strings: list[str]) -> np.ndarray:
    """Newline-free strings as one UTF-8 byte array (4x smaller than numpy's unicode)."""
    if any("\n" in s for s in strings):
        raise ValueError("SMILES must not contain newlines")
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _decode_lines(data: np.ndarray, count: int) -> list[str]:
    lines = data.tobytes().decode("utf-8").split("\n")
    return lines if count else []


def save_npz(path: str | os.PathLike, ms: MoleculeSet) -> Path:
    """Write ``ms`` to an uncompressed ``.npz`` (no pickles), atomically."""
    arrays = {
        "format": np.array(FORMAT),
        "name": np.array(ms.name),
        "atoms": np.array(ms.atoms, dtype=str),
        "charges": np.array(ms.charges, dtype=np.int64),
        "pos": ms.pos,
        "atom_type": _small_int(ms.atom_type),
        "charge": _small_int(ms.charge),
        "mask": ms.mask,
        "smiles": _encode_lines(ms.smiles),
        **{_PROP_PREFIX + k: v for k, v in ms.properties.items()},
    }

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
            np.savez(f, **arrays)

    return atomic(path, write)


def load_npz(path: str | os.PathLike) -> MoleculeSet:
    """A :class:`MoleculeSet` written by :func:`save_npz`; a damaged file is a ValueError."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable MoleculeSet file ({e})") from e
    if data.get("format") is None or str(data["format"]) != FORMAT:
        raise ValueError(f"{path}: not a MoleculeSet file (format {FORMAT} expected)")
    need = ("name", "atoms", "charges", "pos", "atom_type", "charge", "mask", "smiles")
    missing = [k for k in need if k not in data]
    if missing:
        raise ValueError(f"{path}: incomplete MoleculeSet file, missing {missing}")
    try:
        return MoleculeSet(
            name=str(data["name"]),
            atoms=tuple(data["atoms"].tolist()),
            charges=tuple(data["charges"].tolist()),
            pos=data["pos"],
            atom_type=data["atom_type"].astype(np.int64),
            charge=data["charge"].astype(np.int64),
            mask=data["mask"],
            properties={
                k[len(_PROP_PREFIX) :]: v for k, v in data.items() if k.startswith(_PROP_PREFIX)
            },
            smiles=_decode_lines(data["smiles"], len(data["pos"])),
        )
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: inconsistent MoleculeSet file ({e})") from e


__all__ = ["MoleculeSet", "load_npz", "pad_molecules", "save_npz"]
