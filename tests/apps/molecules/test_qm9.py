"""QM9 from qm9pack: rows, units, formal charges, the cache, malformed csv files, EDM's split."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from rdkit import Chem

from scorelab.apps.molecules import qm9
from scorelab.apps.molecules.dataset import load_npz
from scorelab.apps.molecules.elements import CHARGES

N_REAL = 2000  # rows of the real QM9 parsed here (the full set takes seconds)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The first N_REAL qm9pack molecules (no cache: max_molecules parses only those)."""
    cache = tmp_path_factory.mktemp("cache")
    return qm9.load_qm9(cache_dir=cache, max_molecules=N_REAL, progress=False)


def _csv_rows(k: int) -> tuple[list[str], list[list[str]]]:
    """Header and first ``k`` rows of qm9pack's first csv file."""
    with open(qm9.qm9pack_files()[0], newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(itertools.islice(reader, k))


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_first_rows_are_methane_ammonia_water(real):
    assert len(real) == N_REAL and real.pos.shape[1] <= 29
    assert [real.molecule(i)[0] for i in range(3)] == [
        ["C", "H", "H", "H", "H"],
        ["N", "H", "H", "H"],
        ["O", "H", "H"],
    ]
    assert real.smiles[:3] == ["C", "N", "O"]
    # methane's coordinates, as printed in qm9pack (and in QM9's dsgdb9nsd_000001.xyz)
    np.testing.assert_allclose(
        real.molecule(0)[1][:2],
        [[-0.0126981359, 1.0858041578, 0.0080009958], [0.002150416, -0.0060313176, 0.0019761204]],
        atol=1e-6,
    )
    # C-H bonds of methane are 1.09 Å: positions really are in Ångström
    d = np.linalg.norm(real.molecule(0)[1][1:] - real.molecule(0)[1][0], axis=1)
    np.testing.assert_allclose(d, 1.0919, atol=1e-3)


def test_property_units(real):
    p = real.properties
    assert set(p) == set(qm9.PROPERTIES) == set(qm9.PROPERTY_UNITS)
    # methane: HOMO -0.3877 Ha, LUMO 0.1171 Ha, gap 0.5048 Ha, mu 0 D, alpha 13.21, Cv 6.469
    np.testing.assert_allclose(p["homo"][0], -0.3877 * 27211.386, rtol=1e-9)
    np.testing.assert_allclose(p["lumo"][0], 0.1171 * 27211.386, rtol=1e-9)
    np.testing.assert_allclose(p["gap"][0], 13736.308, atol=1e-3)
    assert (p["mu"][0], p["alpha"][0], p["Cv"][0]) == (0.0, 13.21, 6.469)
    # gap = LUMO - HOMO (each printed to 1e-4 Ha = 2.7 meV)
    np.testing.assert_allclose(p["gap"], p["lumo"] - p["homo"], atol=5.5)
    assert p["homo"].min() > -12_000 and p["homo"].max() < -4_000  # meV, not Hartree or eV
    assert 4_000 < p["gap"].mean() < 10_000
    assert p["mu"].min() >= 0 and p["mu"].max() < 15
    assert all(v.dtype == np.float64 and v.shape == (N_REAL,) for v in p.values())


def _heavy_degree_and_h(symbols, pos, i):
    d = np.linalg.norm(pos - pos[i], axis=1)
    near_h = sum(1 for j, s in enumerate(symbols) if s == "H" and j != i and d[j] < 1.2)
    near_heavy = sum(1 for j, s in enumerate(symbols) if s != "H" and j != i and d[j] < 1.75)
    return near_heavy, near_h


def test_zwitterion_charges_sit_on_the_right_atoms(real):
    zero = CHARGES.index(0)
    charged = np.nonzero((real.charge != zero).any(1))[0]
    with_charge = [i for i, s in enumerate(real.smiles) if "+" in s or "-]" in s]
    assert list(charged) == with_charge and len(charged) >= 3  # rows 263, 273, 1598, ...
    for i in charged:
        symbols, pos, charges = real.molecule(i)
        assert sum(charges) == 0  # QM9 molecules are neutral
        # the charged atoms' element, heavy-atom degree and H count from the geometry equal
        # those of the charged atoms of the SMILES
        found = sorted(
            (symbols[k], charges[k], *_heavy_degree_and_h(symbols, pos, k))
            for k in range(len(symbols))
            if charges[k]
        )
        mol = Chem.MolFromSmiles(real.smiles[i])
        expected = sorted(
            (a.GetSymbol(), a.GetFormalCharge(), a.GetDegree(), a.GetTotalNumHs())
            for a in mol.GetAtoms()
            if a.GetFormalCharge()
        )
        assert found == expected, real.smiles[i]


def test_formal_charges_of_a_shuffled_embedded_zwitterion():
    from rdkit.Chem import AllChem

    smiles = "[NH3+]CCC([O-])=O"
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=3) == 0
    order = np.random.default_rng(0).permutation(mol.GetNumAtoms())
    symbols = [mol.GetAtomWithIdx(int(k)).GetSymbol() for k in order]
    pos = mol.GetConformer().GetPositions()[order]
    charges = qm9.formal_charges(smiles, symbols, pos)
    assert charges is not None and sum(charges) == 0
    assert [s for s, c in zip(symbols, charges) if c == 1] == ["N"]
    assert [s for s, c in zip(symbols, charges) if c == -1] == ["O"]
    assert qm9.formal_charges(smiles, symbols[:-1], pos[:-1]) is None  # lost an H
    assert qm9.formal_charges(smiles, symbols, pos * 3.0) is None  # bonds broken apart
    assert qm9.formal_charges("not a smiles", symbols, pos) is None


def test_custom_csv_cache_round_trip_and_rebuild(tmp_path, monkeypatch):
    header, rows = _csv_rows(300)
    path = _write_csv(tmp_path / "mine.csv", header, rows)
    cache = tmp_path / "cache"
    ms = qm9.load_qm9(path, cache_dir=cache, progress=False)
    files = list(cache.glob("qm9-*.npz"))
    assert len(files) == 1 and len(ms) == 300
    real = qm9.load_qm9(max_molecules=300, cache_dir=tmp_path / "other", progress=False)
    np.testing.assert_array_equal(ms.pos, real.pos)  # same rows as the qm9pack ones
    np.testing.assert_array_equal(ms.charge, real.charge)

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again although the cache is valid")

    parse = qm9.parse_qm9_csv
    monkeypatch.setattr(qm9, "parse_qm9_csv", no_parse)
    again = qm9.load_qm9(path, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again.pos, ms.pos)
    first = qm9.load_qm9(path, cache_dir=cache, max_molecules=10, progress=False)
    assert len(first) == 10 and first.smiles == ms.smiles[:10]
    monkeypatch.setattr(qm9, "parse_qm9_csv", parse)
    files[0].write_bytes(files[0].read_bytes()[:1000])  # a corrupt cache is rebuilt
    rebuilt = qm9.load_qm9(path, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(rebuilt.pos, ms.pos)
    assert len(load_npz(files[0])) == 300
    # the default location follows SCORELAB_CACHE
    monkeypatch.setenv("SCORELAB_CACHE", str(tmp_path / "env"))
    qm9.load_qm9(path, progress=False)
    assert len(list((tmp_path / "env" / "molecules").glob("qm9-*.npz"))) == 1


def test_malformed_csv_names_row_and_column(tmp_path):
    header, rows = _csv_rows(5)
    col = {name: header.index(name) for name in header}

    def broken(name, value, row=2):
        bad = [list(r) for r in rows]
        bad[row][col[name]] = value
        k = len(list(tmp_path.glob("*.csv")))
        return _write_csv(tmp_path / f"{name}-{k}.csv", header, bad)

    cases = [
        (
            broken("XYZ_Ang", "[[0.1,0.2],[0.3,0.4,0.5],[0.1,0.2,0.3]]"),
            "row 2 .*'XYZ_Ang'.*numbers",
        ),
        (broken("XYZ_Ang", "[[0.1,x,0.2],[0.3,0.4,0.5],[0.1,0.2,0.3]]"), "'XYZ_Ang': non-numeric"),
        (broken("XYZ_Ang", "0.1 0.2 0.3"), r"row 2 \(line 4\), column 'XYZ_Ang': expected"),
        (
            broken("Elements", "['O','Xx','H']"),
            r"row 2 .*'Elements': unknown element\(s\) \['Xx'\]",
        ),
        (broken("HOMO_au", "n/a", row=4), "row 4 .*column 'HOMO_au': not a number: 'n/a'"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            qm9.load_qm9(path, cache_dir=tmp_path / "cache", progress=False)
    drop = col["XYZ_Ang"]
    path = _write_csv(
        tmp_path / "nocol.csv",
        header[:drop] + header[drop + 1 :],
        [r[:drop] + r[drop + 1 :] for r in rows],
    )
    with pytest.raises(
        ValueError, match=r"nocol.csv: header row: missing column\(s\) \['XYZ_Ang'\]"
    ):
        qm9.load_qm9(path, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ValueError, match="no csv at"):
        qm9.load_qm9(tmp_path / "absent.csv", cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="max_molecules must be at least 1"):
        qm9.load_qm9(max_molecules=0)


def test_missing_qm9pack_gives_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"pip install 'scorelab\[molecules\]'"):
        qm9.load_qm9(cache_dir=tmp_path)


def test_check_property():
    assert qm9.check_property("gap") == "gap"
    with pytest.raises(ValueError) as e:
        qm9.check_property("foo")
    assert str(e.value) == "unknown property 'foo'; known: alpha, gap, homo, lumo, mu, Cv"


def test_edm_split_sizes_disjoint_deterministic():
    split = qm9.edm_split()
    assert {k: len(v) for k, v in split.items()} == {
        "train": 100_000,
        "valid": 17_748,
        "test": 13_083,
    }
    everything = np.concatenate(list(split.values()))
    np.testing.assert_array_equal(np.sort(everything), np.arange(130_831))  # disjoint, complete
    # Cormorant/EDM: np.random.seed(0); permutation; split at 100000 and 100000 + 17748; the
    # split files keep the source order
    np.random.seed(0)
    perm = np.random.permutation(130_831)
    np.testing.assert_array_equal(split["train"], np.sort(perm[:100_000]))
    np.testing.assert_array_equal(split["valid"], np.sort(perm[100_000:117_748]))
    np.testing.assert_array_equal(split["test"], np.sort(perm[117_748:]))
    again = qm9.edm_split()
    assert all(np.array_equal(split[k], again[k]) for k in split)
    assert not np.array_equal(qm9.edm_split(seed=1)["test"], split["test"])


def test_edm_split_scales_with_n():
    split = qm9.edm_split(2000)
    # test int(0.1 n), train the published fraction 100000/130831 of n, valid the rest
    assert [len(split[k]) for k in ("train", "valid", "test")] == [1529, 271, 200]
    np.testing.assert_array_equal(np.sort(np.concatenate(list(split.values()))), np.arange(2000))
    assert [len(v) for v in qm9.edm_split(1).values()] == [1, 0, 0]
    with pytest.raises(ValueError, match="non-negative"):
        qm9.edm_split(-1)


def test_halves_follow_edm():
    train = qm9.edm_split()["train"]
    h = qm9.halves(train)
    assert len(h["regressor"]) == len(h["generator"]) == 50_000
    assert not np.intersect1d(h["regressor"], h["generator"]).size
    np.testing.assert_array_equal(
        np.sort(np.concatenate([h["regressor"], h["generator"]])), np.sort(train)
    )
    # EDM: np.random.seed(42); permute its (sorted) training rows; qm9_first_half =
    # perm[:n // 2] (property classifier), qm9_second_half = perm[n // 2:] (generator)
    np.random.seed(42)
    perm = np.random.permutation(len(train))
    np.testing.assert_array_equal(h["regressor"], train[perm[:50_000]])
    np.testing.assert_array_equal(h["generator"], train[perm[50_000:]])
    shuffled = qm9.halves(train[::-1])  # the order passed in does not matter
    np.testing.assert_array_equal(shuffled["regressor"], h["regressor"])
    odd = qm9.halves(np.arange(7))
    assert (len(odd["regressor"]), len(odd["generator"])) == (3, 4)


def test_load_qm9_split_of_a_subsample(tmp_path, monkeypatch):
    monkeypatch.setenv("SCORELAB_CACHE", str(tmp_path))
    parts = qm9.load_qm9_split(max_molecules=N_REAL)
    assert {k: len(v) for k, v in parts.items()} == {"train": 1529, "valid": 271, "test": 200}
    first = qm9.load_qm9(max_molecules=N_REAL, progress=False)
    idx = qm9.edm_split(N_REAL)["test"]
    np.testing.assert_array_equal(parts["test"].properties["gap"], first.properties["gap"][idx])
    assert not list(tmp_path.rglob("*.npz"))  # a subsample parse writes no cache
