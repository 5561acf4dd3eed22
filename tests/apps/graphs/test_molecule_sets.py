"""QM9 / NCI / ZINC250k loaders: counts, vocabularies, splits, the parsed-SMILES cache."""

from __future__ import annotations

import csv
import json

import pytest
from rdkit import Chem

from scorelab.apps.graphs import molecule_sets as ms
from scorelab.apps.graphs.chem import QM9_ATOMS, ZINC_ATOMS

ZINC_ROWS = [
    "CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1",
    "C[C@@H]1CC(Nc2cncc(-c3nncn3C)c2)C[C@@H](C)C1",
    "N#Cc1ccc(-c2ccc(O[C@@H](C(=O)N3CCCC3)c3ccccc3)cc2)cc1",
    "CCOC(=O)[C@@H]1CCCN(C(=O)c2nc(-c3ccc(C)cc3)n3c2CCCCC3)C1",
    "N#CC1=C(SCC(=O)Nc2cccc(Cl)c2)N=C([O-])[C@H](C#N)C12CCCCC2",
    "CC[NH+](CC)[C@](C)(CC)[C@H](O)c1cscc1Br",
    "COc1ccc(C(=O)N(C)[C@@H](C)C/C(N)=N/O)cc1O",
    "O=C(Nc1ccc(F)cc1F)Nc1sc(Br)nc1Cl",
    "CC(C)Cn1nc(-c2cc3ccccc3s2)cc1C(=O)NCc1ccc(I)cc1",
    "O=P(O)(O)CCc1ccccc1",
] * 2


@pytest.fixture(scope="module")
def qm9_cache(tmp_path_factory):
    """A cache folder holding all of QM9, parsed once (the slow step)."""
    folder = tmp_path_factory.mktemp("cache")
    kekule, canonical = ms.parsed_smiles("qm9", cache_dir=folder)
    return folder, kekule, canonical


def _write_zinc(folder, rows=ZINC_ROWS, test_idx=None):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "zinc250k.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "smiles", "logP", "qed", "SAS"])
        for i, s in enumerate(rows):
            writer.writerow([i, s + "\n", 1.0, 0.5, 2.0])  # GDSS's file ends each SMILES with \n
    if test_idx is not None:
        (folder / "valid_idx_zinc250k.json").write_text(json.dumps(test_idx))
    return folder


def test_qm9_counts_and_vocabulary(qm9_cache):
    _, kekule, canonical = qm9_cache
    n_rows = 0
    for path in ms.qm9pack_files():
        with open(path, newline="") as f:
            n_rows += sum(1 for _ in csv.DictReader(f))
    assert n_rows == 130_831
    assert len(kekule) == len(canonical) == n_rows  # every row parses and kekulizes
    sizes = set()
    for s in kekule:
        mol = Chem.MolFromSmiles(s, sanitize=False)
        assert {a.GetSymbol() for a in mol.GetAtoms()} <= set(QM9_ATOMS)
        assert not any(b.GetIsAromatic() for b in mol.GetBonds())
        sizes.add(mol.GetNumAtoms())
    assert sizes == set(range(1, 10))
    assert canonical[:4] == ["C", "N", "O", "C#C"]


def test_qm9_split_is_proportional_and_deterministic(qm9_cache):
    folder = qm9_cache[0]
    split = ms.load_molecule_split("qm9", max_molecules=1000, cache_dir=folder)
    assert (len(split.train), len(split.test)) == (900, 100)
    assert split.kind == "molecule" and split.atoms == QM9_ATOMS
    assert (split.max_nodes, split.max_feat) == (9, 4)
    assert len(split.train_mols) == len(split.train_smiles) == 900
    for graph, mol, smi in zip(split.test, split.test_mols, split.test_smiles, strict=True):
        assert graph.number_of_nodes() == mol.GetNumAtoms() <= 9
        assert Chem.MolToSmiles(Chem.MolFromSmiles(smi)) == smi
        assert {graph.nodes[i]["label"] for i in graph} <= set(QM9_ATOMS)
    again = ms.load_molecule_split("qm9", max_molecules=1000, cache_dir=folder)
    assert again.train_smiles == split.train_smiles and again.test_smiles == split.test_smiles
    other = ms.load_molecule_split("qm9", max_molecules=1000, seed=1, cache_dir=folder)
    assert other.test_smiles != split.test_smiles


def test_nci_kept_count_and_filter(tmp_path):
    split = ms.load_molecule_split("nci", cache_dir=tmp_path)
    assert len(split.train) + len(split.test) == 4_105
    assert len(split.test) == round(0.2 * 4_105)
    assert (split.max_nodes, split.max_feat, split.atoms) == (38, 9, ZINC_ATOMS)
    for mol in split.train_mols + split.test_mols:
        assert mol.GetNumAtoms() <= 38 and len(Chem.GetMolFrags(mol)) == 1
        assert all(a.GetSymbol() in ZINC_ATOMS and a.GetFormalCharge() == 0 for a in mol.GetAtoms())


def test_cache_is_reused_and_corrupt_cache_rebuilt(tmp_path, monkeypatch):
    kekule, canonical = ms.parsed_smiles("nci", cache_dir=tmp_path)
    (cache,) = tmp_path.glob("nci-*.json")
    calls = []
    real = ms._parse_nci
    monkeypatch.setattr(ms, "_parse_nci", lambda path: calls.append(path) or real(path))
    assert ms.parsed_smiles("nci", cache_dir=tmp_path) == (kekule, canonical)
    assert calls == []
    cache.write_text('{"version": 1, "kekule": ["C"')  # truncated
    assert ms.parsed_smiles("nci", cache_dir=tmp_path) == (kekule, canonical)
    assert len(calls) == 1
    data = json.loads(cache.read_text())
    data["count"] += 1  # inconsistent
    cache.write_text(json.dumps(data))
    assert ms.parsed_smiles("nci", cache_dir=tmp_path) == (kekule, canonical)
    assert len(calls) == 2 and json.loads(cache.read_text())["count"] == len(kekule)


def test_zinc_from_gdss_layout(tmp_path):
    folder = _write_zinc(tmp_path / "zinc", test_idx=[0, 5, 7])
    split = ms.load_molecule_split("zinc250k", path=folder, cache_dir=tmp_path / "c")
    expect = [Chem.MolToSmiles(Chem.MolFromSmiles(ZINC_ROWS[i])) for i in (0, 5, 7)]
    assert split.test_smiles == expect
    assert len(split.train) == 17 and (split.max_nodes, split.max_feat) == (38, 9)
    assert "[NH+]" in split.test_smiles[1]  # charges are kept in the molecules and SMILES
    # without the index file: a seeded 10% split of the 20 rows
    (folder / "valid_idx_zinc250k.json").unlink()
    split = ms.load_molecule_split("zinc250k", path=folder / "zinc250k.csv", cache_dir=tmp_path)
    assert (len(split.train), len(split.test)) == (18, 2)


def test_qm9_from_gdss_layout(tmp_path):
    rows = ["C", "CC", "CCO", "C#N", "c1ccoc1", "OCC(F)C"]
    with open(tmp_path / "qm9.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "SMILES1", "SMILES2", "A"])
        writer.writerows([i, s, s, 0.0] for i, s in enumerate(rows))
    (tmp_path / "valid_idx_qm9.json").write_text(json.dumps({"valid_idxs": ["1", "4"]}))
    split = ms.load_molecule_split("qm9", path=tmp_path, cache_dir=tmp_path / "c")
    assert split.test_smiles == ["CC", "c1ccoc1"]
    assert split.train_smiles == ["C", "CCO", "C#N", "CC(F)CO"]


def test_malformed_inputs(tmp_path, monkeypatch):
    cache = tmp_path / "c"
    bad = tmp_path / "nocol"
    bad.mkdir()
    (bad / "zinc250k.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"zinc250k.csv: no column .*smiles"):
        ms.load_molecule_split("zinc250k", path=bad, cache_dir=cache)
    folder = _write_zinc(tmp_path / "badrow", rows=["CCO", "C1CC", "CC"])
    with pytest.raises(ValueError, match=r"row 1: RDKit cannot parse SMILES 'C1CC'"):
        ms.load_molecule_split("zinc250k", path=folder, cache_dir=cache)
    folder = _write_zinc(tmp_path / "badidx", rows=["CCO", "CC", "CCC"], test_idx=[0, 9])
    with pytest.raises(ValueError, match="valid_idx_zinc250k.json: test indices"):
        ms.load_molecule_split("zinc250k", path=folder, cache_dir=cache)
    folder = _write_zinc(tmp_path / "big", rows=["C" * 39])
    with pytest.raises(ValueError, match="39 atoms"):
        ms.load_molecule_split("zinc250k", path=folder, cache_dir=cache)
    with pytest.raises(ValueError, match="needs path="):
        ms.load_molecule_split("zinc250k", cache_dir=cache)
    with pytest.raises(ValueError, match="unknown molecule dataset"):
        ms.load_molecule_split("qm10", cache_dir=cache)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"pip install 'scorelab\[graphs\]'"):
        ms.load_molecule_split("qm9", cache_dir=cache)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SCORELAB_CACHE", str(tmp_path))
    assert ms.default_cache_dir() == tmp_path / "graphs"
    monkeypatch.delenv("SCORELAB_CACHE")
    assert ms.default_cache_dir().parts[-3:] == (".cache", "scorelab", "graphs")
