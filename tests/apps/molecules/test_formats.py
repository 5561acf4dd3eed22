"""XYZ and SDF files: round trips and the error for each malformed input."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from scorelab.apps.molecules.formats import read_sdf, read_xyz, write_sdf, write_xyz, xyz_text

FRAMES = [
    (
        ["O", "H", "H"],
        np.array([[0.0, 0.0, 0.11779], [0.0, 0.75545, -0.47116], [0, -0.75545, -0.47116]]),
    ),
    (["C", "Cl", "Br", "H", "F"], np.random.default_rng(0).normal(scale=2.0, size=(5, 3))),
]


def test_xyz_round_trip(tmp_path):
    path = write_xyz(tmp_path / "two.xyz", FRAMES, comments=["water", "CHBrClF"])
    assert [p.name for p in tmp_path.iterdir()] == ["two.xyz"]  # no temporary left behind
    text = path.read_text()
    assert text.splitlines()[:2] == ["3", "water"]
    back = read_xyz(path)
    assert len(back) == 2
    for (symbols, pos), (s, p) in zip(FRAMES, back):
        assert s == symbols
        np.testing.assert_allclose(p, pos, atol=1e-4)
    assert read_xyz(text)[1][0] == FRAMES[1][0]  # text in, same frames


def test_xyz_accepts_atomic_numbers_any_case_extra_columns_and_blank_lines():
    text = "2\nfirst\n8 0 0 0\ncl 1.5 0 0 0.123 extra\n\n\n1\n\nBR 0.0 0.0 2.0\n\n"
    frames = read_xyz(text)
    assert [f[0] for f in frames] == [["O", "Cl"], ["Br"]]
    np.testing.assert_array_equal(frames[1][1], [[0.0, 0.0, 2.0]])


def test_xyz_text_layout():
    text = xyz_text(["C", "O"], [[0, 0, 0], [1.128, 0, 0]], "carbon monoxide")
    assert text == (
        "2\ncarbon monoxide\n"
        "C        0.000000       0.000000       0.000000\n"
        "O        1.128000       0.000000       0.000000\n"
    )
    with pytest.raises(ValueError, match="single line"):
        xyz_text(["C"], [[0, 0, 0]], "two\nlines")
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        xyz_text(["C", "O"], [[0, 0, 0]])
    with pytest.raises(ValueError, match="1 comments for 2 frames"):
        write_xyz("unused.xyz", FRAMES, comments=["one"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("two\n\nC 0 0 0\n", "line 1: bad atom count 'two'"),
        ("1\n\nC 0 0 0\n-3\n\n", "line 4: bad atom count '-3'"),
        ("3\ncomment\nC 0 0 0\nO 1 0 0\n", "line 4: too few lines: the count on line 1 needs 3"),
        ("1\n\nC 0 zero 0\n", "line 3: non-numeric coordinate in '0 zero 0'"),
        ("2\n\nC 0 0 0\nXx 1 0 0\n", "line 4: unknown element 'Xx'"),
        ("1\n\n200 0 0 0\n", "line 3: unknown element '200'"),
        ("1\n\nC 0 0\n", "line 3: expected an element and 3 coordinates, got 'C 0 0'"),
        ("1\n\nC 0 inf 0\n", "line 3: non-finite coordinate"),
        ("\n\n", "no XYZ frames"),
    ],
)
def test_xyz_malformed(text, message):
    with pytest.raises(ValueError, match=message):
        read_xyz(text)


def test_xyz_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.xyz"):
        read_xyz(tmp_path / "nothere.xyz")


def _embedded(smiles: str, seed: int) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=seed) == 0
    return mol


def test_sdf_round_trip(tmp_path):
    mols = [_embedded("[NH3+]CCC([O-])=O", 1), _embedded("c1ccccc1O", 2)]
    path = write_sdf(tmp_path / "mols.sdf", mols)
    back = read_sdf(path)
    assert len(back) == 2
    for a, b in zip(mols, back):
        assert b.GetNumAtoms() == a.GetNumAtoms()  # hydrogens kept
        assert Chem.MolToSmiles(Chem.RemoveHs(b)) == Chem.MolToSmiles(Chem.RemoveHs(a))
        assert [x.GetFormalCharge() for x in b.GetAtoms()] == [
            x.GetFormalCharge() for x in a.GetAtoms()
        ]
        pa = a.GetConformer().GetPositions()
        pb = b.GetConformer().GetPositions()
        np.testing.assert_allclose(pb, pa, atol=1e-4)
    # a generated molecule RDKit cannot kekulize is still written (aromatic flags kept)
    odd = Chem.MolFromSmiles("c1cccc1", sanitize=False)
    odd.AddConformer(Chem.Conformer(5))
    path = write_sdf(tmp_path / "odd.sdf", [mols[1], odd])
    back = read_sdf(path, sanitize=False)
    assert [m.GetNumAtoms() for m in back] == [mols[1].GetNumAtoms(), 5]
    with pytest.raises(ValueError, match="molecule 1: an SDF record needs a molecule with a"):
        write_sdf(tmp_path / "bad.sdf", [mols[0], Chem.MolFromSmiles("CC")])
    assert not (tmp_path / "bad.sdf").exists()


def test_sdf_unparsable_record_is_named(tmp_path):
    good = Chem.MolToMolBlock(_embedded("CO", 0))
    # record 1 gives a carbon five bonds: RDKit refuses to sanitize it
    bad = Chem.MolFromSmiles("C(F)(F)(F)(F)F", sanitize=False)
    bad.UpdatePropertyCache(strict=False)
    conf = Chem.Conformer(bad.GetNumAtoms())
    for i in range(bad.GetNumAtoms()):
        conf.SetAtomPosition(i, (float(i), 0.0, 0.0))
    bad.AddConformer(conf)
    bad = Chem.MolToMolBlock(bad, kekulize=False)
    (tmp_path / "mixed.sdf").write_text(good + "$$$$\n" + bad + "$$$$\n")
    with pytest.raises(ValueError, match="mixed.sdf: record 1: RDKit cannot parse"):
        read_sdf(tmp_path / "mixed.sdf")
    assert len(read_sdf(tmp_path / "mixed.sdf", sanitize=False)) == 2
    with pytest.raises(FileNotFoundError):
        read_sdf(tmp_path / "none.sdf")
