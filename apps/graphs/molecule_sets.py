"""Molecule datasets (QM9, ZINC250k, NCI) as :class:`GraphSplit`s, with a parsed-SMILES cache.

Sources:

* ``qm9``: the 130,831 QM9 molecules in the ``qm9pack`` wheel's csv files
  (``qm9pack/data/qm9_part{1,2,3}.csv``, column ``SMILES``), read without importing the
  package. With ``path``: GDSS's layout instead, ``qm9.csv`` (column ``SMILES1``) and,
  beside it, the optional ``valid_idx_qm9.json`` (``{"valid_idxs": [...]}``) of test rows.
* ``zinc250k``: a local csv in GDSS's layout, ``zinc250k.csv`` with a ``smiles`` column,
  and the optional ``valid_idx_zinc250k.json`` (a list of test rows) beside it.
* ``nci``: RDKit's own ``Data/NCI/first_5K.smi`` (4,999 NCI compounds), kept when a single
  fragment of ``ZINC_ATOMS`` elements with no formal charge and at most 38 heavy atoms:
  4,105 molecules.

The split is the published test rows when given, else a fixed-seed random 10% test
(20% for NCI). Parsed molecules are cached as kekulized and canonical SMILES under
``cache_dir`` (default ``$SCORELAB_CACHE/graphs``, else ``~/.cache/scorelab/graphs``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
from rdkit import Chem, RDConfig
from rdkit.rdBase import BlockLogs

from scorelab.io import cache_dir, files_key, package_files, write_json_atomic

from .chem import NCI_ATOMS, QM9_ATOMS, ZINC_ATOMS, canonical_smiles, kekulized, mol_to_nx
from .split import GraphSplit

CACHE_VERSION = 1
MOLECULE_SETS = ("qm9", "zinc250k", "nci")
ATOMS = {"qm9": QM9_ATOMS, "zinc250k": ZINC_ATOMS, "nci": NCI_ATOMS}
MAX_NODES = {"qm9": 9, "zinc250k": 38, "nci": 38}
TEST_FRACTION = {"qm9": 0.1, "zinc250k": 0.1, "nci": 0.2}
_INSTALL_HINT = "pip install 'scorelab[graphs]'"


def default_cache_dir() -> Path:
    """``$SCORELAB_CACHE/graphs`` when that variable is set, else ``~/.cache/scorelab/graphs``."""
    return cache_dir("graphs")


def qm9pack_files() -> list[Path]:
    """The qm9pack wheel's three csv files, located without importing the package."""
    names = [f"data/qm9_part{k}.csv" for k in (1, 2, 3)]
    return package_files("qm9pack", names, _INSTALL_HINT)


def nci_file() -> Path:
    """RDKit's ``first_5K.smi`` (tab-separated SMILES and NCI id)."""
    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    if not path.is_file():
        raise ValueError(f"RDKit's NCI file {path} is missing; reinstall rdkit ({_INSTALL_HINT})")
    return path


def _read_csv_column(path: Path, columns: tuple[str, ...]) -> list[str]:
    """The first of ``columns`` that the csv's header has, as stripped strings."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            column = next((c for c in columns if c in header), None)
            if column is None:
                raise ValueError(f"{path}: no column {' or '.join(columns)} (header {header})")
            values = [(row.get(column) or "").strip() for row in reader]
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: not a readable csv ({e})") from e
    if not values:
        raise ValueError(f"{path}: no rows")
    return values


def _read_test_idx(path: Path, n_rows: int) -> list[int] | None:
    """GDSS's test rows: a json list, or ``{"valid_idxs": [...]}`` (QM9's, as strings)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data["valid_idxs"]
        idx = sorted({int(i) for i in data})
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{path}: expected a list of row indices or {{'valid_idxs': [...]}}"
        ) from e
    if not idx or idx[0] < 0 or idx[-1] >= n_rows:
        raise ValueError(f"{path}: test indices must lie in 0..{n_rows - 1}")
    return idx


def _parse_strict(
    smiles: list[str], source: Path, atoms: tuple[str, ...], max_nodes: int
) -> tuple[list[str], list[str]]:
    """Kekulize every row; an unparsable or out-of-vocabulary row is a ValueError naming it."""
    kekule, canonical = [], []
    allowed = set(atoms)
    for row, s in enumerate(smiles):
        mol = kekulized(s) if s else None
        can = canonical_smiles(mol)
        if can is None:
            raise ValueError(f"{source}: row {row}: RDKit cannot parse SMILES {s!r}")
        bad = {a.GetSymbol() for a in mol.GetAtoms()} - allowed
        if bad or mol.GetNumAtoms() > max_nodes:
            raise ValueError(
                f"{source}: row {row}: {s!r} has {mol.GetNumAtoms()} atoms (max {max_nodes}) "
                f"and elements outside {atoms}: {sorted(bad)}"
            )
        kekule.append(Chem.MolToSmiles(mol, kekuleSmiles=True))
        canonical.append(can)
    return kekule, canonical


def _parse_nci(path: Path) -> tuple[list[str], list[str]]:
    """Keep NCI molecules that are one fragment of ZINC_ATOMS, uncharged, <= 38 heavy atoms."""
    kekule, canonical = [], []
    allowed = set(NCI_ATOMS)
    for line in path.read_text(encoding="utf-8").splitlines():
        smiles = line.split("\t")[0].strip()
        mol = kekulized(smiles) if smiles else None
        if (
            mol is None
            or mol.GetNumAtoms() > MAX_NODES["nci"]
            or len(Chem.GetMolFrags(mol)) != 1
            or any(a.GetSymbol() not in allowed or a.GetFormalCharge() for a in mol.GetAtoms())
            or (can := canonical_smiles(mol)) is None
        ):
            continue
        kekule.append(Chem.MolToSmiles(mol, kekuleSmiles=True))
        canonical.append(can)
    return kekule, canonical


def _sources(name: str, path: str | os.PathLike | None) -> tuple[list[Path], Path | None]:
    """The data file(s) of a dataset and where its published test rows would be."""
    if name == "nci":
        if path is not None:
            raise ValueError("nci is RDKit's embedded set; it takes no path")
        return [nci_file()], None
    if path is None:
        if name == "zinc250k":
            raise ValueError(
                "zinc250k needs path= to GDSS's zinc250k.csv (or the folder holding it)"
            )
        return qm9pack_files(), None
    path = Path(path).expanduser()
    csv_path = path / f"{name}.csv" if path.is_dir() else path
    if not csv_path.is_file():
        raise ValueError(f"{name}: no csv at {csv_path}")
    return [csv_path], csv_path.parent / f"valid_idx_{name}.json"


def _read_cache(path: Path, key: str) -> tuple[list[str], list[str]] | None:
    """Cached SMILES lists, or None when the file is missing, stale or corrupt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kekule, canonical = data["kekule"], data["canonical"]
        ok = (
            data["key"] == key
            and data["version"] == CACHE_VERSION
            and data["count"] == len(kekule) == len(canonical) > 0
            and all(isinstance(s, str) and s for s in kekule)
            and all(isinstance(s, str) and s for s in canonical)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (kekule, canonical) if ok else None


def _cached_smiles(
    name: str, files: list[Path], custom: bool, cache_dir: Path
) -> tuple[list[str], list[str]]:
    key = files_key(files, name, CACHE_VERSION)
    cache = cache_dir / f"{name}-{key}.json"
    cached = _read_cache(cache, key)
    if cached is not None:
        return cached
    if name == "nci":
        kekule, canonical = _parse_nci(files[0])
    else:
        columns = ("SMILES1", "smiles", "SMILES") if custom else ("SMILES",)
        smiles = [s for f in files for s in _read_csv_column(f, columns)]
        kekule, canonical = _parse_strict(smiles, files[0], ATOMS[name], MAX_NODES[name])
    data = {"version": CACHE_VERSION, "key": key, "count": len(kekule)}
    write_json_atomic(cache, {**data, "kekule": kekule, "canonical": canonical})
    return kekule, canonical


def _cache_root(override: str | os.PathLike | None) -> Path:
    return cache_dir("graphs", override)


def parsed_smiles(
    name: str,
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[list[str], list[str]]:
    """Kekulized and canonical SMILES of every kept molecule of a dataset, in file order."""
    files, _ = _sources(_check_name(name), path)
    return _cached_smiles(name.lower(), files, path is not None, _cache_root(cache_dir))


def _check_name(name: str) -> str:
    if name.lower() not in MOLECULE_SETS:
        raise ValueError(f"unknown molecule dataset {name!r}; choose from {MOLECULE_SETS}")
    return name.lower()


def _split_rows(
    n: int,
    test_idx: list[int] | None,
    fraction: float,
    seed: int,
    max_molecules: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test rows; ``max_molecules`` subsamples both in proportion."""
    rng = np.random.default_rng(seed)
    if test_idx is None:
        order = rng.permutation(n)
        n_test = max(1, round(fraction * n))
        test, train = order[:n_test], order[n_test:]
    else:
        test = np.asarray(test_idx, dtype=np.int64)
        train = np.setdiff1d(np.arange(n), test)
    if max_molecules is not None and max_molecules < n:
        if max_molecules < 2:
            raise ValueError(f"max_molecules must be at least 2, got {max_molecules}")
        n_test = min(len(test), max(1, round(max_molecules * len(test) / n)))
        test = rng.choice(test, n_test, replace=False)
        train = rng.choice(train, max_molecules - n_test, replace=False)
    return np.sort(train), np.sort(test)


def _mols(kekule: list[str], rows: np.ndarray) -> list[Chem.Mol]:
    """Molecules from cached kekulized SMILES (no re-aromatization)."""
    mols = []
    with BlockLogs():
        for r in rows:
            mol = Chem.MolFromSmiles(kekule[r], sanitize=False)
            mol.UpdatePropertyCache(strict=False)
            mols.append(mol)
    return mols


def load_molecule_split(
    name: str,
    path: str | os.PathLike | None = None,
    seed: int = 0,
    max_molecules: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> GraphSplit:
    """A molecule dataset (``qm9``, ``zinc250k``, ``nci``) as a :class:`GraphSplit`.

    ``train_mols``/``test_mols`` are kekulized RDKit molecules (formal charges kept),
    ``train_smiles``/``test_smiles`` their canonical SMILES, ``train``/``test`` their labelled
    networkx graphs (:func:`.chem.mol_to_nx`).
    """
    name = _check_name(name)
    files, idx_path = _sources(name, path)
    kekule, canonical = _cached_smiles(name, files, path is not None, _cache_root(cache_dir))
    test_idx = None if idx_path is None else _read_test_idx(idx_path, len(kekule))
    train, test = _split_rows(len(kekule), test_idx, TEST_FRACTION[name], seed, max_molecules)
    train_mols, test_mols = _mols(kekule, train), _mols(kekule, test)
    return GraphSplit(
        name=name,
        kind="molecule",
        train=[mol_to_nx(m) for m in train_mols],
        test=[mol_to_nx(m) for m in test_mols],
        max_nodes=MAX_NODES[name],
        max_feat=len(ATOMS[name]),
        atoms=ATOMS[name],
        train_mols=train_mols,
        test_mols=test_mols,
        train_smiles=[canonical[r] for r in train],
        test_smiles=[canonical[r] for r in test],
    )


__all__ = [
    "ATOMS",
    "MAX_NODES",
    "MOLECULE_SETS",
    "TEST_FRACTION",
    "default_cache_dir",
    "load_molecule_split",
    "nci_file",
    "parsed_smiles",
    "qm9pack_files",
]
