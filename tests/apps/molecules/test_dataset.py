"""MoleculeSet: padding, validation, subsets, and the .npz round trip."""

from __future__ import annotations

import numpy as np
import pytest

from scorelab.apps.molecules.dataset import MoleculeSet, load_npz, pad_molecules, save_npz
from scorelab.apps.molecules.elements import CHARGES, QM9_ATOMS

WATER = (["O", "H", "H"], [[0.0, 0.0, 0.1], [0.76, 0.0, -0.47], [-0.76, 0.0, -0.47]], [0, 0, 0])
METHANE = (
    ["C", "H", "H", "H", "H"],
    [
        [0, 0, 0],
        [0.63, 0.63, 0.63],
        [-0.63, -0.63, 0.63],
        [-0.63, 0.63, -0.63],
        [0.63, -0.63, -0.63],
    ],
    [0, 0, 0, 0, 0],
)
AMMONIUM = (
    ["N", "H", "H", "H", "H"],
    [[0, 0, 0], [0.6, 0.6, 0.6], [-0.6, -0.6, 0.6], [-0.6, 0.6, -0.6], [0.6, -0.6, -0.6]],
    [1, 0, 0, 0, 0],
)


def _set(**kw) -> MoleculeSet:
    mols = [(s, np.array(p, dtype=float), c) for s, p, c in (WATER, METHANE, AMMONIUM)]
    props = {"mu": np.array([1.85, 0.0, 0.0]), "gap": np.array([1.0, 2.0, 3.0])}
    return pad_molecules(mols, QM9_ATOMS, CHARGES, "toy", props, ["O", "C", "[NH4+]"], **kw)


def test_pad_molecules_layout_and_molecule_round_trip():
    ms = _set()
    assert len(ms) == 3 and ms.pos.shape == (3, 5, 3)
    assert ms.pos.dtype == np.float32 and ms.atom_type.dtype == np.int64
    assert ms.charge.dtype == np.int64 and ms.mask.dtype == np.bool_
    np.testing.assert_array_equal(ms.num_atoms, [3, 5, 5])
    np.testing.assert_array_equal(ms.mask[0], [True, True, True, False, False])
    # padding holds zero positions, type 0 and the index of charge 0
    assert (ms.pos[0, 3:] == 0).all() and (ms.atom_type[0, 3:] == 0).all()
    assert (ms.charge[0, 3:] == CHARGES.index(0)).all()
    for i, (symbols, pos, charges) in enumerate((WATER, METHANE, AMMONIUM)):
        s, p, c = ms.molecule(i)
        assert s == symbols and c == charges
        np.testing.assert_allclose(p, pos, atol=1e-6)
    assert ms.atom_type[2, 0] == QM9_ATOMS.index("N") and ms.charge[2, 0] == CHARGES.index(1)
    assert ms.smiles == ["O", "C", "[NH4+]"]
    assert "3 molecules" in repr(ms)


def test_padding_is_reset_whatever_the_caller_put_there():
    ms = _set()
    pos, types, charge = ms.pos.copy(), ms.atom_type.copy(), ms.charge.copy()
    pos[0, 4] = 7.0
    types[0, 4] = 3
    charge[0, 4] = 2
    again = MoleculeSet("toy", QM9_ATOMS, CHARGES, pos, types, charge, ms.mask)
    np.testing.assert_array_equal(again.pos, ms.pos)
    np.testing.assert_array_equal(again.atom_type, ms.atom_type)
    np.testing.assert_array_equal(again.charge, ms.charge)
    assert again.smiles == ["", "", ""] and again.properties == {}


def test_subset_trims_padding_and_follows_rows():
    ms = _set()
    water = ms.subset([0])
    assert water.pos.shape == (1, 3, 3) and water.smiles == ["O"]
    np.testing.assert_allclose(water.properties["mu"], [1.85])
    rev = ms.subset(np.array([2, 0]))
    assert rev.molecule(0)[0] == AMMONIUM[0] and rev.molecule(1)[0] == WATER[0]
    np.testing.assert_allclose(rev.properties["gap"], [3.0, 1.0])
    assert len(ms.subset(slice(1, None))) == 2
    assert ms.subset(np.array([True, False, True])).smiles == ["O", "[NH4+]"]
    empty = ms.subset([])
    assert len(empty) == 0 and empty.pos.shape == (0, 0, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(mask=d["mask"][:, :4]), "mask has shape"),
        (lambda d: d["mask"].__setitem__((0, 4), True), "real atoms first"),
        (lambda d: d["mask"].__setitem__((1, slice(None)), False), "molecule 1 has no atoms"),
        (lambda d: d["pos"].__setitem__((2, 1, 0), np.nan), "molecule 2 has non-finite"),
        (lambda d: d["atom_type"].__setitem__((1, 2), 5), r"molecule 1: atom_type index 5"),
        (lambda d: d["charge"].__setitem__((0, 0), -1), r"molecule 0: charge index -1"),
        (lambda d: d.update(charges=(-1, 1)), "include 0"),
        (lambda d: d.update(atoms=("H", "H")), "distinct"),
        (lambda d: d.update(pos=d["pos"][..., :2]), r"pos must have shape \(M, N, 3\)"),
        (lambda d: d.update(smiles=["C"]), "1 SMILES for 3 molecules"),
        (lambda d: d.update(properties={"mu": np.zeros(2)}), "property 'mu' has shape"),
        (lambda d: d.update(atom_type=d["atom_type"] + 0.5), "integer indices"),
    ],
)
def test_validation_errors(change, message):
    ms = _set()
    fields = {
        "name": "toy",
        "atoms": ms.atoms,
        "charges": ms.charges,
        "pos": ms.pos.copy(),
        "atom_type": ms.atom_type.copy(),
        "charge": ms.charge.copy(),
        "mask": ms.mask.copy(),
        "properties": dict(ms.properties),
        "smiles": list(ms.smiles),
    }
    change(fields)
    with pytest.raises(ValueError, match=message):
        MoleculeSet(**fields)


def test_pad_molecules_rejects_unknown_elements_and_charges():
    good = (["C"], np.zeros((1, 3)), [0])
    with pytest.raises(ValueError, match=r"molecule 1: element 'Cl' not in"):
        pad_molecules([good, (["Cl"], np.zeros((1, 3)), [0])], QM9_ATOMS, CHARGES, "x")
    with pytest.raises(ValueError, match=r"molecule 0: formal charge 2 not in \(-1, 0, 1\)"):
        pad_molecules([(["N"], np.zeros((1, 3)), [2])], QM9_ATOMS, CHARGES, "x")
    with pytest.raises(ValueError, match=r"molecule 0: 2 symbols, positions of shape \(1, 3\)"):
        pad_molecules([(["C", "H"], np.zeros((1, 3)), [0, 0])], QM9_ATOMS, CHARGES, "x")


def test_npz_round_trip_keeps_everything(tmp_path):
    ms = _set()
    path = save_npz(tmp_path / "toy.cache", ms)  # no .npz appended to a name we chose
    assert path == tmp_path / "toy.cache" and sorted(p.name for p in tmp_path.iterdir()) == [
        "toy.cache"
    ]
    back = load_npz(path)
    assert (back.name, back.atoms, back.charges, back.smiles) == (
        ms.name,
        ms.atoms,
        ms.charges,
        ms.smiles,
    )
    for key in ("pos", "atom_type", "charge", "mask"):
        a, b = getattr(back, key), getattr(ms, key)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert back.properties.keys() == ms.properties.keys()
    for key, value in ms.properties.items():
        np.testing.assert_array_equal(back.properties[key], value)
    empty = load_npz(save_npz(tmp_path / "empty.npz", ms.subset([])))
    assert len(empty) == 0 and empty.smiles == []


def test_load_npz_names_a_damaged_file(tmp_path):
    path = save_npz(tmp_path / "toy.npz", _set())
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    for name in ("cut.npz", "junk.npz"):
        with pytest.raises(ValueError, match=name):
            load_npz(tmp_path / name)
    with open(tmp_path / "other.npz", "wb") as f:
        np.savez(f, x=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz: not a MoleculeSet file"):
        load_npz(tmp_path / "other.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "mask"}
    with open(tmp_path / "partial.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match=r"partial.npz: incomplete .* \['mask'\]"):
        load_npz(tmp_path / "partial.npz")
    arrays = {**arrays, "mask": np.zeros((3, 5), dtype=bool)}
    with open(tmp_path / "bad.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match="bad.npz: inconsistent .* no atoms"):
        load_npz(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="missing.npz"):
        load_npz(tmp_path / "missing.npz")
