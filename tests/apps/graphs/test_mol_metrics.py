"""Molecule metrics: hand-made lists, NSPDK determinism and ordering, FCD sanity."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

pytest.importorskip("rdkit")
from rdkit import Chem  # noqa: E402

from scorelab.apps.graphs.chem import mol_to_nx  # noqa: E402
from scorelab.apps.graphs.mol_metrics import (  # noqa: E402
    fcd,
    molecule_metrics,
    novelty,
    nspdk_mmd,
    uniqueness,
    validity,
    validity_without_correction,
)

ALKANES = [
    "C",
    "CC",
    "CCC",
    "CCCC",
    "CC(C)C",
    "CCCCC",
    "CC(C)CC",
    "CC(C)(C)C",
    "CCCCCC",
    "CCC(C)CC",
    "CC(C)C(C)C",
    "CCCCCCC",
    "CCCC(C)C",
    "C1CCCC1",
    "C1CCCCC1",
    "CC1CCCC1",
]
AROMATICS = [
    "c1ccccc1",
    "Cc1ccccc1",
    "c1ccncc1",
    "Oc1ccccc1",
    "Nc1ccccc1",
    "c1ccoc1",
    "c1ccsc1",
    "c1cc[nH]c1",
    "Cc1ccncc1",
    "c1ccc2ccccc2c1",
    "Fc1ccccc1",
    "Clc1ccccc1",
    "CCc1ccccc1",
    "Cc1ccc(C)cc1",
    "c1cnccn1",
    "Oc1ccncc1",
]


def to_graph(smiles: str) -> nx.Graph:
    """A tiny converter of our own: element labels, bond orders (aromatic -> 1 as in GDSS)."""
    mol = Chem.MolFromSmiles(smiles)
    G = nx.Graph()
    for a in mol.GetAtoms():
        G.add_node(a.GetIdx(), label=a.GetSymbol())
    for b in mol.GetBonds():
        G.add_edge(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), label=int(b.GetBondTypeAsDouble()))
    return G


def test_mol_to_nx_matches_converter():
    for s in ["c1ccccc1O", "C=CC#N", "CC(=O)O"]:
        mol = Chem.MolFromSmiles(s)
        Chem.Kekulize(mol, clearAromaticFlags=True)  # re-read: aromatic perception restored
        G, H = mol_to_nx(mol), to_graph(Chem.MolToSmiles(Chem.MolFromSmiles(s)))
        nm = nx.algorithms.isomorphism.categorical_node_match("label", None)
        em = nx.algorithms.isomorphism.categorical_edge_match("label", None)
        assert nx.is_isomorphic(G, H, node_match=nm, edge_match=em)
    labels = {d["label"] for *_, d in mol_to_nx(Chem.MolFromSmiles("C#CC=O")).edges(data=True)}
    assert labels == {1, 2, 3}


def test_validity_uniqueness_novelty_by_hand():
    assert validity_without_correction([True, False, True, True]) == 0.75
    gen = ["CCO", "OCC", "C1CC1", "c1ccccc1", None, "not a smiles", ""]
    assert validity(gen) == pytest.approx(4 / 7)
    assert uniqueness(gen) == pytest.approx(3 / 4)  # CCO == OCC
    train = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in ["CCO", "CCC"]]
    assert novelty(gen, train) == pytest.approx(2 / 3)  # distinct valid: CCO, C1CC1, c1ccccc1
    assert uniqueness([None]) == 0.0 and novelty([], train) == 0.0


def test_nspdk_zero_ordered_and_deterministic():
    alk = [to_graph(s) for s in ALKANES]
    aro = [to_graph(s) for s in AROMATICS]
    assert abs(nspdk_mmd(alk, alk)) < 1e-12
    halves = nspdk_mmd(alk[::2] + aro[::2], alk[1::2] + aro[1::2])
    apart = nspdk_mmd(alk, aro)
    assert apart > 2 * halves > 0
    # a fresh subprocess gives the identical value (hash seed fixed); empty graphs are dropped
    assert nspdk_mmd(alk, aro + [nx.Graph()]) == apart


def test_nspdk_bad_input():
    G = nx.path_graph(3)
    with pytest.raises(ValueError, match="node needs a 'label'"):
        nspdk_mmd([G], [G])
    with pytest.raises(ValueError, match="non-empty"):
        nspdk_mmd([to_graph("CC")], [nx.Graph()])


def test_fcd_zero_on_same_set_and_rises():
    pytest.importorskip("fcd_torch")
    same = fcd(ALKANES, ALKANES)
    assert abs(same) < 1e-3
    mixed = fcd(ALKANES[:8] + AROMATICS[:8], ALKANES)
    far = fcd(AROMATICS, ALKANES)
    assert far > mixed > 1.0
    with pytest.raises(ValueError, match="at least 2"):
        fcd(["C"], ALKANES)


def test_molecule_metrics_table():
    mols = [Chem.MolFromSmiles(s) for s in ["CCO", "OCC", "c1ccccc1", "CCN"]] + [None]
    flags = [True, True, False, True, False]
    train = ["CCO"]
    test_smiles = ALKANES[:6]
    out = molecule_metrics(mols, flags, train, test_smiles, [to_graph(s) for s in test_smiles])
    assert out["validity_wo_correction"] == pytest.approx(0.6)
    assert out["validity"] == pytest.approx(0.8)
    assert out["uniqueness"] == pytest.approx(3 / 4)
    assert out["novelty"] == pytest.approx(2 / 3)
    assert out["nspdk"] > 0 and out["fcd"] > 0
    skipped = molecule_metrics(mols, flags, train, test_smiles, [], fcd=False, nspdk=False)
    assert np.isnan(skipped["fcd"]) and np.isnan(skipped["nspdk"])
    with pytest.raises(ValueError, match="differ"):
        molecule_metrics(mols, flags[:2], train, test_smiles, [])
