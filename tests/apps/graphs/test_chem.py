"""Molecule <-> tensor conversion and GDSS-style valency-checked decoding, against RDKit truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from rdkit import Chem

from scorelab.apps.graphs import chem
from scorelab.apps.graphs.molecule_sets import nci_file, qm9pack_files

# Largest total valence (bond orders plus hydrogens) per element and formal charge.
MAX_VALENCE = {
    ("C", 0): 4,
    ("N", 0): 3,
    ("N", 1): 4,
    ("O", 0): 2,
    ("O", 1): 3,
    ("F", 0): 1,
    ("P", 0): 5,
    ("S", 0): 6,
    ("S", 1): 5,
    ("Cl", 0): 1,
    ("Br", 0): 1,
    ("I", 0): 5,
}
# Largest bond-order sum an atom may carry in a generated graph without correction
# (N, O take a +1 charge for one extra bond).
MAX_BONDS = {"C": 4, "N": 4, "O": 3, "F": 1, "P": 5, "S": 6, "Cl": 1, "Br": 1, "I": 5}


def _canon(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def _qm9_sample(n: int, seed: int = 0) -> list[str]:
    smiles = []
    for path in qm9pack_files():
        with open(path, newline="") as f:
            smiles += [row["SMILES"] for row in csv.DictReader(f)]
    assert len(smiles) == 130_831
    neutral = [s for s in smiles if "+" not in s and "-" not in s]
    rng = np.random.default_rng(seed)
    return [neutral[i] for i in rng.choice(len(neutral), n, replace=False)]


def _nci_sample(n: int) -> list[str]:
    out = []
    for line in nci_file().read_text().splitlines():
        mol = Chem.MolFromSmiles(line.split("\t")[0])
        if (
            mol is not None
            and mol.GetNumAtoms() <= 38
            and len(Chem.GetMolFrags(mol)) == 1
            and all(
                a.GetSymbol() in chem.ZINC_ATOMS and not a.GetFormalCharge() for a in mol.GetAtoms()
            )
        ):
            out.append(line.split("\t")[0])
        if len(out) == n:
            return out
    raise AssertionError("not enough NCI molecules")


def _total_valence(atom: Chem.Atom, kekule: Chem.Mol) -> float:
    bonds = sum(b.GetBondTypeAsDouble() for b in kekule.GetAtomWithIdx(atom.GetIdx()).GetBonds())
    return bonds + atom.GetTotalNumHs()


@pytest.mark.parametrize(
    ("source", "atoms", "max_nodes"),
    [("qm9", chem.QM9_ATOMS, 9), ("nci", chem.ZINC_ATOMS, 38)],
)
def test_real_molecules_round_trip(source, atoms, max_nodes):
    smiles = _qm9_sample(500) if source == "qm9" else _nci_sample(300)
    mols = [chem.kekulized(s) for s in smiles]
    assert all(m is not None for m in mols)
    batch = chem.mols_to_tensors(mols, atoms, max_nodes)
    x, adj, mask = batch["x"], batch["adj"], batch["node_mask"]
    assert x.dtype == adj.dtype == mask.dtype == torch.float32
    assert x.shape == (len(mols), max_nodes, len(atoms))
    # one-hot rows on real nodes, zero rows on padding; adjacency in {0, 1/3, 2/3, 1}
    assert torch.equal(x.sum(-1), mask)
    assert torch.equal(mask.sum(-1), torch.tensor([m.GetNumAtoms() for m in mols]).float())
    assert torch.equal(adj, adj.transpose(1, 2))
    assert torch.all(torch.diagonal(adj, dim1=1, dim2=2) == 0)
    assert set(torch.unique(adj * 3).round().tolist()) <= {0.0, 1.0, 2.0, 3.0}
    assert torch.allclose(adj * 3, (adj * 3).round(), atol=1e-6)
    assert torch.all(adj * (1 - mask[:, :, None]) == 0)

    decoded, valid = chem.decode_molecules(x, adj, mask, atoms)
    assert all(valid)
    assert [chem.canonical_smiles(m) for m in decoded] == [_canon(s) for s in smiles]


def test_charged_nitrogen_keeps_its_charge_on_decoding():
    mols = [chem.kekulized(s) for s in ["C[N+](C)(C)C", "C[N+](=O)[O-]", "C[O+](C)C"]]
    batch = chem.mols_to_tensors(mols, chem.QM9_ATOMS, 9)
    decoded, valid = chem.decode_molecules(
        batch["x"], batch["adj"], batch["node_mask"], chem.QM9_ATOMS
    )
    assert valid == [True, True, True]
    # charges are not encoded: a 4-bonded N and a 3-bonded O get +1 back, [O-] becomes OH
    assert [chem.canonical_smiles(m) for m in decoded] == [
        "C[N+](C)(C)C",
        _canon("C[N+](=O)O"),
        "C[O+](C)C",
    ]


def test_construct_gives_four_bonded_nitrogen_a_plus_charge():
    types = np.array([1, 0, 0, 0, 0])  # N and four C
    bonds = np.zeros((5, 5), dtype=np.int64)
    bonds[0, 1:] = bonds[1:, 0] = 1
    mol = chem.construct_mol(types, bonds, chem.QM9_ATOMS)
    assert mol.GetAtomWithIdx(0).GetFormalCharge() == 1
    assert all(a.GetFormalCharge() == 0 for a in mol.GetAtoms() if a.GetIdx())
    assert chem.check_valency(mol)
    # three bonds: neutral
    bonds[0, 4] = bonds[4, 0] = 0
    assert chem.construct_mol(types, bonds, chem.QM9_ATOMS).GetAtomWithIdx(0).GetFormalCharge() == 0


def test_five_bonded_carbon_is_flagged_and_corrected():
    types = np.array([0, 0, 0, 0, 0, 3])  # C with four C and one F neighbour
    bonds = np.zeros((6, 6), dtype=np.int64)
    bonds[0, 1:] = bonds[1:, 0] = 1
    mol = chem.construct_mol(types, bonds, chem.QM9_ATOMS)
    assert not chem.check_valency(mol)
    with pytest.raises(ValueError):
        Chem.SanitizeMol(Chem.Mol(mol))
    fixed = chem.correct_mol(mol)
    assert chem.check_valency(fixed)
    assert fixed.GetNumBonds() == 4 and fixed.GetAtomWithIdx(0).GetDegree() == 4
    assert chem.check_valency(mol) is False  # the input is left alone

    x = torch.zeros(1, 9, 4)
    x[0, torch.arange(6), torch.from_numpy(types)] = 1
    adj = torch.zeros(1, 9, 9)
    adj[0, :6, :6] = torch.from_numpy(bonds).float() / 3
    mask = (torch.arange(9) < 6).float()[None]
    decoded, valid = chem.decode_molecules(x, adj, mask, chem.QM9_ATOMS)
    assert valid == [False]
    out = decoded[0]
    Chem.SanitizeMol(Chem.Mol(out))
    assert out.GetNumAtoms() == 5  # one neighbour lost its bond; the largest fragment is kept
    # GDSS's rule removes the first of the equal (single) bonds, C0-C1; C1 drops out
    assert chem.canonical_smiles(out) == "CC(C)(C)F"


def test_correction_lowers_the_highest_order_bond():
    # C0#C1 and C0=O2: C0 has valence 5; the triple bond is lowered -> ketene C=C=O
    types = np.array([0, 0, 2])
    bonds = np.array([[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    fixed = chem.correct_mol(chem.construct_mol(types, bonds, chem.QM9_ATOMS))
    assert chem.canonical_smiles(fixed) == _canon("C=C=O")


def test_random_graphs_decode_to_sane_molecules():
    rng = np.random.default_rng(0)
    for atoms, b, n in [(chem.QM9_ATOMS, 1500, 9), (chem.ZINC_ATOMS, 500, 20)]:
        x = rng.random((b, n, len(atoms))) * 0.9
        x[rng.random((b, n)) < 0.1] = 0.2  # some real nodes carry no atom
        noise = rng.normal(0.0, 0.4, (b, n, n)) + rng.integers(0, 4, (b, n, n)) / 3
        noise *= rng.random((b, n, n)) < 0.3
        adj = np.triu(noise, 1)
        adj = adj + adj.transpose(0, 2, 1)
        mask = (np.arange(n)[None] < rng.integers(0, n + 1, (b, 1))).astype(np.float32)
        decoded, valid = chem.decode_molecules(torch.tensor(x), torch.tensor(adj), mask, atoms)
        assert len(decoded) == len(valid) == b

        for k in range(b):
            real = (mask[k] > 0.5) & (x[k] > 0.5).any(-1)
            if not real.any():
                assert decoded[k] is None and not valid[k]
                continue
            # independent truth for "valid without correction": bond-order sums per atom
            types = np.where(x[k] > 0.5, x[k], -1).argmax(-1)[real]
            orders = np.clip(np.floor(adj[k] * 3 + 0.5), 0, 3)[np.ix_(real, real)]
            np.fill_diagonal(orders, 0)
            sums = orders.sum(-1)
            expect = all(sums[i] <= MAX_BONDS[atoms[t]] for i, t in enumerate(types))
            assert valid[k] == expect, k

            mol = decoded[k]
            assert mol is not None and 1 <= mol.GetNumAtoms() <= real.sum()
            Chem.SanitizeMol(Chem.Mol(mol))
            assert len(Chem.GetMolFrags(mol)) == 1
            kek = Chem.Mol(mol)
            Chem.Kekulize(kek, clearAromaticFlags=True)
            for atom in mol.GetAtoms():
                key = (atom.GetSymbol(), atom.GetFormalCharge())
                assert key in MAX_VALENCE, key
                assert _total_valence(atom, kek) <= MAX_VALENCE[key]
        assert 0 < sum(valid) < b  # the noise makes both kinds


def test_decoding_respects_mask_and_empty_graphs():
    x = torch.zeros(3, 4, 4)
    adj = torch.zeros(3, 4, 4)
    x[:, :, 0] = 1.0  # all carbons
    adj[:, 0, 1] = adj[:, 1, 0] = 2 / 3  # C=C
    adj[:, 1, 2] = adj[:, 2, 1] = 1 / 3
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]]).float()
    x[1, 2] = 0.4  # a real node without an atom type is dropped
    decoded, valid = chem.decode_molecules(x, adj, mask, chem.QM9_ATOMS)
    assert [chem.canonical_smiles(m) for m in decoded[:2]] == ["C=C", "C=C"]
    assert decoded[2] is None and valid == [True, True, False]


def test_quantization_thresholds():
    values = torch.tensor([0.1, 0.2, 0.49, 0.51, 0.82, 0.84, 1.0, float("nan")]) / 3
    adj = torch.zeros(1, 9, 9)
    adj[0, 0, 1:] = values
    adj[0, 1:, 0] = values
    _, orders = chem.quantize_molecules(torch.ones(1, 9, 4), adj * 3, torch.ones(1, 9))[0]
    assert orders[0, 1:].tolist() == [0, 1, 1, 2, 2, 3, 3, 0]


def test_mol_to_arrays_errors_and_values():
    types, bonds = chem.mol_to_arrays(chem.kekulized("C#CC(=O)F"), chem.QM9_ATOMS, 9)
    assert types.tolist() == [0, 0, 0, 2, 3]
    assert bonds[0, 1] == 3 and bonds[2, 3] == 2 and bonds[2, 4] == 1 and bonds.sum() == 2 * 7
    aromatic = Chem.MolFromSmiles("c1ccccc1")  # kekulized on a copy
    assert sorted(chem.mol_to_arrays(aromatic, chem.QM9_ATOMS, 9)[1].sum(0)) == [3] * 6
    assert aromatic.GetBondWithIdx(0).GetIsAromatic()
    with pytest.raises(ValueError, match="'Cl' is not in the atom vocabulary"):
        chem.mol_to_arrays(chem.kekulized("CCl"), chem.QM9_ATOMS, 9)
    with pytest.raises(ValueError, match="10 atoms > max_nodes 9"):
        chem.mol_to_arrays(chem.kekulized("CCCCCCCCCC"), chem.QM9_ATOMS, 9)
    with pytest.raises(ValueError, match="features"):
        chem.decode_molecules(
            torch.zeros(1, 9, 5), torch.zeros(1, 9, 9), torch.ones(1, 9), chem.QM9_ATOMS
        )
    with pytest.raises(ValueError, match="shapes disagree"):
        chem.decode_molecules(
            torch.zeros(1, 9, 4), torch.zeros(1, 8, 8), torch.ones(1, 9), chem.QM9_ATOMS
        )
    assert chem.kekulized("not a smiles") is None


def test_mol_to_nx_labels_and_fragments():
    graph = chem.mol_to_nx(chem.kekulized("CC(=O)c1ccccc1"))
    assert sorted(graph.nodes) == list(range(9))
    assert [graph.nodes[i]["label"] for i in range(3)] == ["C", "C", "O"]
    labels = sorted(d["label"] for *_, d in graph.edges(data=True))
    # as GDSS: aromatic bonds (perceived even on a kekulized input) get label int(1.5) = 1
    assert labels == [1] * 8 + [2]
    assert chem.canonical_smiles(chem.largest_fragment(Chem.MolFromSmiles("CC.CCO.C"))) == "CCO"
    assert chem.canonical_smiles(chem.kekulized("c1ccccc1")) == "c1ccccc1"
