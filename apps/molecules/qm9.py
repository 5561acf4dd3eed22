"""QM9 with hydrogens (130,831 molecules, up to 29 atoms) and EDM's train/valid/test split.

The source is the ``qm9pack`` wheel's csv files (``qm9pack/data/qm9_part{1,2,3}.csv``, read
without importing the package), in GDB-9 order (row 0 is methane), or a local csv in the same
column layout. Each row gives ``Elements`` (``['C','H',...]``), ``XYZ_Ang`` (``[[x,y,z],...]``,
Å), ``SMILES`` and the properties, converted to the units published MAEs use
(:data:`PROPERTY_UNITS`; orbital energies from Hartree to meV).

Formal charges: QM9 has no charge column, but 443 of qm9pack's SMILES carry charged atoms
(zwitterions such as ``[NH3+]CCC([O-])=O``). The SMILES (with explicit hydrogens) is matched
onto the bond graph RDKit perceives from the coordinates, ignoring bond orders, and each matched
atom takes its SMILES charge. A molecule whose SMILES does not embed in that graph keeps
all-zero charges; :func:`parse_qm9_csv` returns those rows (none in qm9pack's copy: all 443
match). Uncharged SMILES need no matching.

Parsed sets are cached as ``.npz`` under ``cache_dir`` (default ``$SCORELAB_CACHE/molecules``,
else ``~/.cache/scorelab/molecules``), keyed on the source files.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from scorelab.io import cache_dir as app_cache_dir
from scorelab.io import files_key, package_files

from .dataset import MoleculeSet, load_npz, pad_molecules, save_npz
from .elements import CHARGES, QM9_ATOMS

CACHE_VERSION = 1
QM9_SIZE = 130_831
EDM_TRAIN = 100_000
HARTREE_TO_MEV = 27_211.386
PROPERTIES = ("alpha", "gap", "homo", "lumo", "mu", "Cv")
PROPERTY_UNITS = {
    "alpha": "bohr^3",
    "gap": "meV",
    "homo": "meV",
    "lumo": "meV",
    "mu": "D",
    "Cv": "cal/(mol K)",
}
PROPERTY_COLUMNS = {
    "alpha": ("Polarizability_bohr3", 1.0),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_MEV),
    "homo": ("HOMO_au", HARTREE_TO_MEV),
    "lumo": ("LUMO_au", HARTREE_TO_MEV),
    "mu": ("Dipole_debye", 1.0),
    "Cv": ("Heatcapacity_Cv_cal_mol_K", 1.0),
}
"""property -> (csv column, factor to the unit of :data:`PROPERTY_UNITS`)"""
COLUMNS = ("SMILES", "Elements", "XYZ_Ang", *(c for c, _ in PROPERTY_COLUMNS.values()))
_INSTALL_HINT = "pip install 'scorelab[molecules]'"
_CHARGED_ATOM = re.compile(r"\[[^\]]*[+-][^\]]*\]")


def check_property(name: str) -> str:
    """``name`` if it is a QM9 property, else a ValueError listing the known ones."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r}; known: {', '.join(PROPERTIES)}")
    return name


def qm9pack_files() -> list[Path]:
    """The qm9pack wheel's three csv files, located without importing the package."""
    names = [f"data/qm9_part{k}.csv" for k in (1, 2, 3)]
    return package_files("qm9pack", names, _INSTALL_HINT)


def formal_charges(smiles: str, symbols: list[str], pos: np.ndarray) -> list[int] | None:
    """Per-atom formal charges (in ``symbols`` order) from matching ``smiles`` onto the bonds
    perceived from ``pos``; None when it does not match."""
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds
    from rdkit.rdBase import BlockLogs

    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        mol = Chem.AddHs(mol)
        if sorted(a.GetSymbol() for a in mol.GetAtoms()) != sorted(symbols):
            return None
        xyz = Chem.RWMol()
        conf = Chem.Conformer(len(symbols))
        for i, (s, p) in enumerate(zip(symbols, np.asarray(pos, dtype=float))):
            xyz.AddAtom(Chem.Atom(s))
            conf.SetAtomPosition(i, p.tolist())
        xyz.AddConformer(conf)
        xyz = xyz.GetMol()
        try:
            rdDetermineBonds.DetermineConnectivity(xyz)
        except (RuntimeError, ValueError):
            return None
        # the SMILES graph must embed in the perceived one: a strained ring can read as one
        # extra bond, which the embedding tolerates; a missing bond fails it
        match = _skeleton(xyz).GetSubstructMatch(_skeleton(mol))
    if len(match) != len(symbols):
        return None
    charges = [0] * len(symbols)
    for i, j in enumerate(match):
        charges[j] = mol.GetAtomWithIdx(i).GetFormalCharge()
    return charges


def _skeleton(mol):
    """``mol`` reduced to its graph: single bonds, no charges, aromaticity or implicit Hs."""
    from rdkit import Chem

    rw = Chem.RWMol(mol)
    for a in rw.GetAtoms():
        a.SetFormalCharge(0)
        a.SetIsAromatic(False)
        a.SetNoImplicit(True)
        a.SetNumExplicitHs(0)
        a.SetNumRadicalElectrons(0)
    for b in rw.GetBonds():
        b.SetBondType(Chem.BondType.SINGLE)
        b.SetIsAromatic(False)
    return rw.GetMol()


def _sources(path: str | os.PathLike | None) -> list[Path]:
    if path is None:
        return qm9pack_files()
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(path.glob("qm9_part*.csv"))
        if not files:
            raise ValueError(f"{path}: no qm9_part*.csv files in this folder")
        return files
    if not path.is_file():
        raise ValueError(f"QM9: no csv at {path}")
    return [path]


def _rows(files: list[Path]) -> Iterator[tuple[str, int, int, dict[str, str]]]:
    """(file, data row, line, row) of every csv row; a missing column is a ValueError."""
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{f}: header row: missing column(s) {missing} (need {COLUMNS})")
            for k, row in enumerate(reader):
                yield str(f), k, reader.line_num, row


def _parse_row(row: dict[str, str]) -> tuple[list[str], np.ndarray, list[float]]:
    """Symbols, (n, 3) positions and raw property values; a ValueError names the column."""
    text = (row["Elements"] or "").strip()
    if not (text.startswith("[") and text.endswith("]")) or len(text) < 3:
        raise _ColumnError("Elements", f"expected ['C','H',...], got {text[:40]!r}")
    symbols = [s.strip().strip("'\"") for s in text[1:-1].split(",")]
    unknown = sorted(set(symbols) - set(QM9_ATOMS))
    if unknown:
        raise _ColumnError("Elements", f"unknown element(s) {unknown}; QM9 has {QM9_ATOMS}")
    text = (row["XYZ_Ang"] or "").strip()
    if not (text.startswith("[[") and text.endswith("]]")):
        raise _ColumnError("XYZ_Ang", f"expected [[x,y,z],...], got {text[:40]!r}")
    try:
        numbers = np.array(text.replace("[", "").replace("]", "").split(","), dtype=np.float64)
    except ValueError as e:
        raise _ColumnError("XYZ_Ang", f"non-numeric coordinate ({e})") from None
    if numbers.size != 3 * len(symbols) or text.count("[") != len(symbols) + 1:
        raise _ColumnError(
            "XYZ_Ang", f"{numbers.size} numbers for {len(symbols)} atoms (need 3 per atom)"
        )
    if not np.isfinite(numbers).all():
        raise _ColumnError("XYZ_Ang", "non-finite coordinate")
    values = []
    for column, _ in PROPERTY_COLUMNS.values():
        try:
            values.append(float(row[column]))
        except (TypeError, ValueError):
            raise _ColumnError(column, f"not a number: {row[column]!r}") from None
    return symbols, numbers.reshape(-1, 3), values


class _ColumnError(ValueError):
    def __init__(self, column: str, what: str) -> None:
        super().__init__(column, what)
        self.column, self.what = column, what


def parse_qm9_csv(
    files: list[Path],
    max_molecules: int | None = None,
    progress: bool = True,
    total: int | None = None,
) -> tuple[MoleculeSet, list[int]]:
    """QM9 rows of ``files`` (in order, the first ``max_molecules``) as a :class:`MoleculeSet`,
    and the rows whose charged SMILES did not match (kept with zero charges). ``total``: the
    expected row count, for the progress bar."""
    from tqdm.auto import tqdm

    if max_molecules is not None:
        total = max_molecules if total is None else min(total, max_molecules)
    molecules, smiles, values, fallbacks = [], [], [], []
    bar = tqdm(total=total, desc="parsing QM9", unit="mol", disable=not progress)
    with bar:
        for f, k, line, row in _rows(files):
            if max_molecules is not None and len(molecules) >= max_molecules:
                break
            try:
                symbols, pos, props = _parse_row(row)
            except _ColumnError as e:
                raise ValueError(
                    f"{f}: row {k} (line {line}), column {e.column!r}: {e.what}"
                ) from None
            s = (row["SMILES"] or "").strip()
            charges = [0] * len(symbols)
            if _CHARGED_ATOM.search(s):
                matched = formal_charges(s, symbols, pos)
                if matched is None or not set(matched) <= set(CHARGES):
                    fallbacks.append(len(molecules))
                    bar.set_postfix(charge_fallbacks=len(fallbacks))
                else:
                    charges = matched
            molecules.append((symbols, pos, charges))
            smiles.append(s)
            values.append(props)
            bar.update()
    if not molecules:
        raise ValueError(f"{files[0]}: no molecules")
    table = np.array(values, dtype=np.float64)
    properties = {
        name: table[:, j] * factor for j, (name, (_, factor)) in enumerate(PROPERTY_COLUMNS.items())
    }
    ms = pad_molecules(molecules, QM9_ATOMS, CHARGES, "qm9", properties, smiles)
    return ms, fallbacks


def _read_cache(path: Path) -> MoleculeSet | None:
    """The cached set, or None when it is missing, unreadable or not a QM9 set."""
    if not path.is_file():
        return None
    try:
        ms = load_npz(path)
    except ValueError:
        return None
    ok = ms.name == "qm9" and ms.atoms == QM9_ATOMS and ms.charges == CHARGES
    return ms if ok and set(ms.properties) == set(PROPERTIES) and len(ms) else None


def load_qm9(
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    max_molecules: int | None = None,
    progress: bool = True,
) -> MoleculeSet:
    """QM9 with hydrogens, in source row order; the first ``max_molecules`` rows when given.

    ``path``: None for the qm9pack files, else a csv (or a folder of ``qm9_part*.csv``) in
    qm9pack's column layout. The full parsed set is cached; with ``max_molecules`` and no
    cache only those rows are parsed (and nothing is cached).
    """
    if max_molecules is not None and max_molecules < 1:
        raise ValueError(f"max_molecules must be at least 1, got {max_molecules}")
    files = _sources(path)
    key = files_key(files, "qm9", CACHE_VERSION)
    cache = app_cache_dir("molecules", cache_dir) / f"qm9-{key}.npz"
    ms = _read_cache(cache)
    if ms is None:
        total = QM9_SIZE if path is None else None
        ms, _ = parse_qm9_csv(files, max_molecules, progress, total)
        if max_molecules is not None:
            return ms
        save_npz(cache, ms)
    return ms if max_molecules is None else ms.subset(slice(0, max_molecules))


def edm_split(n: int = QM9_SIZE, seed: int = 0) -> dict[str, np.ndarray]:
    """EDM's (Cormorant's) QM9 split of rows ``0..n-1``: a ``np.random.seed(seed)``
    permutation cut into train (100,000), valid (the rest) and test (``int(0.1 n)``: 13,083).

    For ``n != 130,831`` train keeps the published fraction (``round(n * 100000 / 130831)``).
    Each part is sorted, as in EDM's split files (Cormorant keeps the source order of the
    selected files).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    n_test = int(0.1 * n)
    n_train = round(n * EDM_TRAIN / QM9_SIZE)
    perm = np.random.RandomState(seed).permutation(n).astype(np.int64)
    train, valid, test = np.split(perm, [n_train, n - n_test])
    return {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}


def halves(train_idx: np.ndarray, seed: int = 42) -> dict[str, np.ndarray]:
    """EDM's conditional-generation split of the training rows into two disjoint halves:
    ``regressor`` (EDM's ``qm9_first_half``, "Ga": trains the property classifier) and
    ``generator`` (``qm9_second_half``, "Gb": trains the conditional generator).

    As EDM does: a ``np.random.seed(42)`` permutation of the (sorted) training rows, cut in
    the middle; the first half goes to the regressor.
    """
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    perm = np.random.RandomState(seed).permutation(len(train_idx))
    half = len(train_idx) // 2
    return {"regressor": train_idx[perm[:half]], "generator": train_idx[perm[half:]]}


def load_qm9_split(
    seed: int = 0,
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    max_molecules: int | None = None,
) -> dict[str, MoleculeSet]:
    """QM9 cut by :func:`edm_split` into ``train``, ``valid`` and ``test`` sets (of the first
    ``max_molecules`` rows when given, with the split scaled to them)."""
    ms = load_qm9(path, cache_dir, max_molecules)
    return {k: ms.subset(idx) for k, idx in edm_split(len(ms), seed).items()}


__all__ = [
    "CACHE_VERSION",
    "COLUMNS",
    "HARTREE_TO_MEV",
    "PROPERTIES",
    "PROPERTY_COLUMNS",
    "PROPERTY_UNITS",
    "QM9_SIZE",
    "check_property",
    "edm_split",
    "formal_charges",
    "halves",
    "load_qm9",
    "load_qm9_split",
    "parse_qm9_csv",
    "qm9pack_files",
]
