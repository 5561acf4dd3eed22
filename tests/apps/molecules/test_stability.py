"""EDM's stability: hand-built molecules with known answers, and real QM9 at EDM's figures."""

from __future__ import annotations

import numpy as np
import pytest

from scorelab.apps.molecules.stability import (
    allowed_valences,
    atom_stability,
    molecule_stable,
    stability,
)

_TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def methane(ch: float = 1.09):
    return ["C", "H", "H", "H", "H"], np.vstack([np.zeros(3), ch * _TETRA])


def ammonium():
    return ["N", "H", "H", "H", "H"], np.vstack([np.zeros(3), 1.03 * _TETRA])


def water():
    return ["O", "H", "H"], np.array([[0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]])


def ethylene(cc: float = 1.33):
    h = [1.09 * np.cos(np.radians(58.5)), 1.09 * np.sin(np.radians(58.5))]
    x = cc / 2
    pos = [[-x, 0, 0], [x, 0, 0]]
    pos += [[-x - h[0], s * h[1], 0] for s in (1, -1)] + [[x + h[0], s * h[1], 0] for s in (1, -1)]
    return ["C", "C", "H", "H", "H", "H"], np.array(pos)


def linear(symbols, bond_lengths):
    z = np.concatenate([[0.0], np.cumsum(bond_lengths)])
    return list(symbols), np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)


def ethane(cc: float = 1.54):
    pos = [[0, 0, -cc / 2], [0, 0, cc / 2]]
    for sign, c in ((-1, 0), (1, 1)):
        for k in range(3):
            phi = 2 * np.pi * k / 3 + (np.pi / 3 if c else 0)
            r = 1.09 * np.sin(np.radians(70.5))
            pos.append([r * np.cos(phi), r * np.sin(phi), sign * (cc / 2 + 1.09 / 3)])
    return ["C", "C"] + ["H"] * 6, np.array(pos)


def benzene(cc: float = 1.39):
    angles = np.arange(6) * np.pi / 3
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], axis=1)
    return ["C"] * 6 + ["H"] * 6, np.vstack([cc * ring, (cc + 1.09) * ring])


@pytest.mark.parametrize(
    "mol",
    [
        methane(),
        water(),
        ethylene(),
        linear("HCCH", [1.06, 1.20, 1.06]),  # acetylene: C#C at 1.20 A
        linear("HCN", [1.065, 1.156]),
        ethane(),
    ],
    ids=["methane", "water", "ethylene", "acetylene", "HCN", "ethane"],
)
def test_textbook_molecules_are_stable(mol):
    assert atom_stability(*mol).all()
    assert molecule_stable(*mol)


def test_ethylene_and_acetylene_get_their_multiple_bonds():
    from scorelab.apps.molecules.bonds import bond_orders

    assert bond_orders(*ethylene())[0, 1] == 2
    assert bond_orders(*linear("HCCH", [1.06, 1.20, 1.06]))[1, 2] == 3
    # ethylene with a single-bond C-C length: each carbon has valence 3
    ok = atom_stability(*ethylene(1.50))
    assert not ok[:2].any() and ok[2:].all()


def test_stretched_cc_breaks_the_bond():
    symbols, pos = ethane(1.70)  # beyond 154 + 10 pm
    ok = atom_stability(symbols, pos)
    assert not ok[:2].any() and ok[2:].all()
    assert not molecule_stable(symbols, pos)


def test_benzene_is_unstable_under_edm_rule():
    # Equal aromatic C-C lengths cannot be Kekule-assigned by a length threshold. 1.39 A sits
    # exactly on the double-bond edge (134 + 5 pm, strict <), so it reads as single; at the
    # real length (1.397 A experiment, ~1.39-1.40 A in QM9) every C-C is single and each
    # carbon has valence 3; just below 1.39 A every C-C is double and each carbon has 5.
    from scorelab.apps.molecules.bonds import bond_order, bond_orders

    assert bond_order("C", "C", 1.39) == 1
    for cc, order in ((1.392, 1), (1.397, 1), (1.385, 2)):
        assert bond_orders(*benzene(cc))[0, 1] == order
        ok = atom_stability(*benzene(cc))
        assert not ok[:6].any() and ok[6:].all()
        assert not molecule_stable(*benzene(cc))


def test_charge_aware_valences():
    symbols, pos = ammonium()
    charges = [1, 0, 0, 0, 0]
    assert not atom_stability(symbols, pos, charges)[0]  # EDM ignores the charge: N has 4
    assert atom_stability(symbols, pos, charges, charge_aware=True).all()
    hydroxide = (["O", "H"], np.array([[0, 0, 0], [0, 0, 0.97]]))
    assert atom_stability(*hydroxide, [-1, 0], charge_aware=True).all()
    assert not atom_stability(*hydroxide, [0, 0], charge_aware=True)[0]
    # neutral atoms keep EDM's valences, so all-zero charges change nothing
    for mol in (methane(), benzene(), ethane(1.7)):
        zero = [0] * len(mol[0])
        assert (atom_stability(*mol, zero, charge_aware=True) == atom_stability(*mol)).all()
    assert allowed_valences("N", 1, charge_aware=True) == (2, 3, 4)
    assert allowed_valences("O", -1, charge_aware=True) == (1,)
    assert allowed_valences("C", -1, charge_aware=True) == (3,)
    assert allowed_valences("Cl", 1, charge_aware=True) == (1,)  # unlisted: neutral fallback
    assert allowed_valences("P") == (3, 5) and allowed_valences("S") == (4,)


def test_stability_aggregates_atoms_and_molecules():
    res = stability([methane(), ethane(1.70), water()])
    assert res["num_atoms"] == 16 and res["num_molecules"] == 3
    assert res["atom_stability"] == pytest.approx(14 / 16)
    assert res["mol_stability"] == pytest.approx(2 / 3)
    # charges from the tuples or the override; only charge-aware stability uses them
    nh4 = (*ammonium(), [1, 0, 0, 0, 0])
    assert stability([nh4])["mol_stability"] == 0.0
    assert stability([nh4], charge_aware=True)["mol_stability"] == 1.0
    assert stability([ammonium()], [[1, 0, 0, 0, 0]], charge_aware=True)["mol_stability"] == 1.0


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="'Xe'"):
        atom_stability(["Xe"], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 charges for 5 atoms"):
        atom_stability(*methane(), [0, 0])
    with pytest.raises(ValueError, match="empty"):
        stability([])


@pytest.fixture(scope="module")
def qm9_sample():
    from scorelab.apps.molecules.qm9 import load_qm9

    ms = load_qm9(progress=False)
    rows = np.random.default_rng(0).choice(len(ms), size=1500, replace=False)
    return [ms.molecule(int(i)) for i in rows]


def test_real_qm9_reaches_edm_data_stability(qm9_sample):
    # EDM reports 99.0 % atom / 95.2 % molecule stability on QM9. On all 130,831 molecules we
    # measure 99.36 / 95.28; these 1,500 (rows drawn with default_rng(0)) give 99.28 / 94.67.
    res = stability(qm9_sample)
    assert 0.990 <= res["atom_stability"] <= 0.996
    assert 0.935 <= res["mol_stability"] <= 0.965
    # QM9's 443 zwitterions carry formal charges; the charge-aware rule can only help
    aware = stability(qm9_sample, charge_aware=True)
    assert aware["atom_stability"] >= res["atom_stability"]
