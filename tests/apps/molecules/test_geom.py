"""GEOM-drugs in EDM's npy layout: a tiny three-conformer file read back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from scorelab.apps.molecules import geom
from scorelab.apps.molecules.dataset import load_npz, save_npz
from scorelab.apps.molecules.elements import GEOM_ATOMS, GEOM_CHARGES

# (atomic numbers, fake coordinates): water, methane, ammonia
CONFORMERS = [
    ([8, 1, 1], np.arange(9, dtype=float).reshape(3, 3) / 10),
    ([6, 1, 1, 1, 1], -np.arange(15, dtype=float).reshape(5, 3) / 7),
    ([7, 1, 1, 1], np.arange(12, dtype=float).reshape(4, 3) + 0.25),
]
SYMBOLS = [["O", "H", "H"], ["C", "H", "H", "H", "H"], ["N", "H", "H", "H"]]


def _write(folder, conformers=CONFORMERS, ids=None, counts=True, smiles=None):
    """EDM's files: rows (conformer id, Z, x, y, z), the atom counts, the SMILES."""
    ids = ids if ids is not None else range(len(conformers))
    rows = [
        np.column_stack([np.full(len(z), cid, dtype=float), np.array(z, dtype=float), xyz])
        for cid, (z, xyz) in zip(ids, conformers)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "geom_drugs_30.npy", np.vstack(rows))
    if counts:
        np.save(folder / "geom_drugs_n_30.npy", np.array([len(z) for z, _ in conformers]))
    if smiles is not None:
        (folder / "geom_drugs_smiles.txt").write_text("".join(s + "\n" for s in smiles))
    return folder


def test_round_trip_of_a_tiny_file(tmp_path):
    folder = _write(tmp_path / "geom", smiles=["O", "C", "N"])
    ms = geom.load_geom_drugs(folder)
    assert (ms.name, ms.atoms, ms.charges) == ("geom_drugs", GEOM_ATOMS, GEOM_CHARGES)
    assert len(ms) == 3 and ms.pos.shape == (3, 5, 3) and ms.properties == {}
    np.testing.assert_array_equal(ms.num_atoms, [3, 5, 4])
    for i, (symbols, (_, xyz)) in enumerate(zip(SYMBOLS, CONFORMERS)):
        s, p, c = ms.molecule(i)
        assert s == symbols and c == [0] * len(symbols)
        np.testing.assert_allclose(p, xyz, atol=1e-6)
    assert ms.smiles == ["O", "C", "N"]  # one SMILES per conformer: attached
    same = geom.load_geom_drugs(folder / "geom_drugs_30.npy")  # the file itself works too
    np.testing.assert_array_equal(same.pos, ms.pos)
    back = load_npz(save_npz(tmp_path / "geom.npz", ms))
    np.testing.assert_array_equal(back.pos, ms.pos)
    np.testing.assert_array_equal(back.atom_type, ms.atom_type)
    assert back.smiles == ms.smiles


def test_remove_h_and_max_conformers(tmp_path, monkeypatch):
    folder = _write(tmp_path / "geom", ids=[7, 3, 9])  # ids need only change between conformers
    heavy = geom.load_geom_drugs(folder, remove_h=True)
    np.testing.assert_array_equal(heavy.num_atoms, [1, 1, 1])
    assert [heavy.molecule(i)[0] for i in range(3)] == [["O"], ["C"], ["N"]]
    np.testing.assert_allclose(heavy.pos[:, 0], [xyz[0] for _, xyz in CONFORMERS], atol=1e-6)
    full = geom.load_geom_drugs(folder)
    monkeypatch.setattr(geom, "_CHUNK", 2)  # chunk edges inside and between conformers
    for k in (1, 2, 3, 10):
        first = geom.load_geom_drugs(folder, max_conformers=k)
        assert len(first) == min(k, 3)
        np.testing.assert_array_equal(first.pos, full.subset(slice(0, k)).pos)
    with pytest.raises(ValueError, match="max_conformers must be at least 1"):
        geom.load_geom_drugs(folder, max_conformers=0)


def test_smiles_per_molecule_are_not_attached(tmp_path):
    # two conformers of water then methane: EDM writes one SMILES per molecule
    conformers = [CONFORMERS[0], CONFORMERS[0], CONFORMERS[1]]
    folder = _write(tmp_path / "geom", conformers, smiles=["O", "C"])
    ms = geom.load_geom_drugs(folder)
    assert len(ms) == 3 and ms.smiles == ["", "", ""]
    assert geom.geom_smiles(folder) == ["O", "C"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="geom_drugs_30.npy"):
        geom.load_geom_drugs(tmp_path)
    folder = _write(tmp_path / "he", [CONFORMERS[0], ([2, 1], np.zeros((2, 3)))])
    with pytest.raises(ValueError, match="conformer 1: atomic number 2 is not in GEOM"):
        geom.load_geom_drugs(folder)
    folder = _write(tmp_path / "counts")
    np.save(folder / "geom_drugs_n_30.npy", np.array([3, 5, 5]))
    with pytest.raises(ValueError, match="geom_drugs_n_30.npy: atom counts per conformer"):
        geom.load_geom_drugs(folder)
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(atoms, 5\) array .* got shape \(4, 4\)"):
        geom.load_geom_drugs(tmp_path / "flat.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npy: not a readable"):
        geom.load_geom_drugs(tmp_path / "junk.npy")
