"""Molecule metrics of GDSS: validity, uniqueness, novelty, NSPDK MMD and FCD.

Definitions (GDSS ``sampler.py`` with MOSES ``get_all_metrics``):

- validity w/o correction: fraction of generated molecules that needed no valency fix;
- validity: fraction of generated molecules that exist after correction and parse;
- uniqueness: distinct canonical SMILES / number of valid molecules;
- novelty: distinct valid canonical SMILES not in the training set / distinct valid SMILES
  (MOSES: the denominator is the set of unique valid molecules);
- NSPDK: biased MMD^2 with EDeN's NSPDK features (complexity 4, discrete labels) and the
  linear kernel, test graphs vs generated graphs (empty generated graphs dropped);
- FCD: Frechet ChemNet distance (``fcd_torch``) between valid generated and test SMILES.

EDeN hashes node labels with Python's ``hash()``, so NSPDK features depend on PYTHONHASHSEED:
unless this process already runs with ``PYTHONHASHSEED=0``, the vectorisation runs in a
subprocess that does.
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_VECTORIZE = """
import pickle, sys
import scipy.sparse as sp
from eden.graph import vectorize
with open(sys.argv[1], "rb") as f:
    sets = pickle.load(f)
out = [vectorize(graphs, complexity=4, discrete=True) for graphs in sets]
with open(sys.argv[2], "wb") as f:
    pickle.dump([sp.csr_matrix(x) for x in out], f)
"""


def canonical_smiles(smiles: str | None) -> str | None:
    """RDKit canonical SMILES of a SMILES string, or None for an empty or unparsable one."""
    from rdkit import Chem

    from .chem import canonical_smiles as of_mol

    return of_mol(Chem.MolFromSmiles(smiles)) if smiles else None


def validity_without_correction(flags: Sequence[bool]) -> float:
    """Fraction of generated molecules that were valid before any valency correction."""
    if len(flags) == 0:
        raise ValueError("validity_without_correction needs at least one flag")
    return float(np.mean(np.asarray(flags, dtype=bool)))


def validity(smiles: Sequence[str | None]) -> float:
    """Fraction of entries that are a parsable, non-empty SMILES (None counts as invalid)."""
    if len(smiles) == 0:
        raise ValueError("validity needs at least one molecule")
    return float(np.mean([canonical_smiles(s) is not None for s in smiles]))


def uniqueness(smiles: Sequence[str | None]) -> float:
    """Distinct canonical SMILES among the valid ones / number of valid ones (0 if none)."""
    canon = [c for c in map(canonical_smiles, smiles) if c is not None]
    return len(set(canon)) / len(canon) if canon else 0.0


def novelty(smiles: Sequence[str | None], train_smiles: Sequence[str]) -> float:
    """Distinct valid SMILES absent from the (canonical) training set / distinct valid SMILES."""
    distinct = {c for c in map(canonical_smiles, smiles) if c is not None}
    if not distinct:
        return 0.0
    return len(distinct - set(train_smiles)) / len(distinct)


def _check_labels(graphs: Sequence[Any], name: str) -> None:
    for i, G in enumerate(graphs):
        if any("label" not in d for _, d in G.nodes(data=True)):
            raise ValueError(f"{name}[{i}]: every node needs a 'label' attribute for NSPDK")
        if any("label" not in d for _, _, d in G.edges(data=True)):
            raise ValueError(f"{name}[{i}]: every edge needs a 'label' attribute for NSPDK")


def nspdk_features(graph_sets: Sequence[Sequence[Any]]) -> list[Any]:
    """EDeN NSPDK feature matrices (sparse, one row per graph) with the hash seed fixed to 0."""
    if os.environ.get("PYTHONHASHSEED") == "0" and not sys.flags.hash_randomization:
        from eden.graph import vectorize

        return [vectorize(list(g), complexity=4, discrete=True) for g in graph_sets]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "graphs.pkl", Path(tmp) / "features.pkl"
        with open(src, "wb") as f:
            pickle.dump([list(g) for g in graph_sets], f)
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.run(
            [sys.executable, "-c", _VECTORIZE, str(src), str(dst)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"NSPDK vectorisation failed:\n{proc.stderr[-2000:]}")
        with open(dst, "rb") as f:
            return pickle.load(f)


def nspdk_mmd(ref_graphs: Sequence[Any], gen_graphs: Sequence[Any]) -> float:
    """Biased MMD^2 of NSPDK features under the linear kernel (GDSS ``nspdk_stats``).

    With a linear kernel the mean of all pairwise dot products is the squared norm of the
    mean feature vector, so MMD^2 = ||mean(ref) - mean(gen)||^2.
    """
    gen_graphs = [G for G in gen_graphs if G.number_of_nodes() > 0]
    if not ref_graphs or not gen_graphs:
        raise ValueError(
            f"nspdk_mmd needs non-empty sets, got {len(ref_graphs)} reference and "
            f"{len(gen_graphs)} non-empty generated graphs"
        )
    _check_labels(ref_graphs, "ref_graphs")
    _check_labels(gen_graphs, "gen_graphs")
    x, y = nspdk_features([ref_graphs, gen_graphs])
    diff = np.asarray(x.mean(axis=0)).ravel() - np.asarray(y.mean(axis=0)).ravel()
    return float(diff @ diff)


@functools.cache
def _fcd_model() -> Any:
    from fcd_torch import FCD

    return FCD(device="cpu", n_jobs=1)


def fcd(gen_smiles: Sequence[str], ref_smiles: Sequence[str]) -> float:
    """Frechet ChemNet distance between two SMILES sets (each >= 2 molecules), on CPU."""
    if len(gen_smiles) < 2 or len(ref_smiles) < 2:
        raise ValueError(
            f"FCD needs at least 2 molecules per set, got {len(gen_smiles)} generated and "
            f"{len(ref_smiles)} reference"
        )
    with warnings.catch_warnings():  # fcd_torch calls the deprecated np.row_stack
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(_fcd_model()(list(gen_smiles), list(ref_smiles)))


_fcd = fcd  # molecule_metrics' ``fcd`` flag shadows the function


def molecule_metrics(
    mols: Sequence[Any],
    valid_flags: Sequence[bool],
    train_smiles: Sequence[str],
    test_smiles: Sequence[str],
    test_graphs: Sequence[Any],
    fcd: bool = True,
    nspdk: bool = True,
) -> dict[str, float]:
    """GDSS's molecule table for N generated molecules.

    ``mols``: N RDKit molecules after valency correction (None where none could be built);
    ``valid_flags``: N bools, True where no correction was needed; ``train_smiles`` canonical;
    ``test_graphs``: test molecules as ``mol_to_nx`` graphs (for NSPDK).
    Keys: validity_wo_correction, validity, uniqueness, novelty, nspdk, fcd (NaN if skipped).
    """
    from rdkit import Chem

    if len(mols) != len(valid_flags):
        raise ValueError(f"mols ({len(mols)}) and valid_flags ({len(valid_flags)}) differ")
    smiles = [Chem.MolToSmiles(m) if m is not None else None for m in mols]
    valid_smiles = [c for c in map(canonical_smiles, smiles) if c is not None]
    valid_mols = [Chem.MolFromSmiles(s) for s in valid_smiles]
    out = {
        "validity_wo_correction": validity_without_correction(valid_flags),
        "validity": validity(smiles),
        "uniqueness": uniqueness(valid_smiles),
        "novelty": novelty(valid_smiles, train_smiles),
        "nspdk": float("nan"),
        "fcd": float("nan"),
    }
    if nspdk and valid_mols:
        from .chem import mol_to_nx

        out["nspdk"] = nspdk_mmd(test_graphs, [mol_to_nx(m) for m in valid_mols])
    if fcd and len(valid_smiles) >= 2:
        out["fcd"] = _fcd(valid_smiles, test_smiles)
    return out
