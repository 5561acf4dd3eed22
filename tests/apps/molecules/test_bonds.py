"""EDM's distance rule: table values, thresholds at the margins, symmetry and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from scorelab.apps.molecules.bonds import (
    DOUBLE_PM,
    ELEMENTS,
    MARGINS_PM,
    SINGLE_PM,
    TRIPLE_PM,
    bond_order,
    bond_orders,
)


def test_tables_hold_edm_lengths():
    assert MARGINS_PM == (10, 5, 3)
    assert SINGLE_PM[("C", "C")] == 154 and SINGLE_PM[("H", "H")] == 74
    assert SINGLE_PM[("H", "C")] == 109 and SINGLE_PM[("N", "O")] == 140
    assert DOUBLE_PM[("C", "C")] == 134 and DOUBLE_PM[("C", "O")] == 120
    assert TRIPLE_PM[("C", "C")] == 120 and TRIPLE_PM[("N", "N")] == 110
    assert len(SINGLE_PM) == 64 and len(DOUBLE_PM) == 9 and len(TRIPLE_PM) == 4
    # one entry per unordered pair; every double/triple pair also has shorter higher orders
    for table in (SINGLE_PM, DOUBLE_PM, TRIPLE_PM):
        assert len({frozenset(k) for k in table}) == len(table)
    single = {frozenset(k): v for k, v in SINGLE_PM.items()}
    double = {frozenset(k): v for k, v in DOUBLE_PM.items()}
    for k, v in DOUBLE_PM.items():
        assert v < single[frozenset(k)]
    for k, v in TRIPLE_PM.items():
        assert v < double[frozenset(k)]


@pytest.mark.parametrize(
    ("a", "b", "threshold_pm", "order"),
    [
        ("C", "C", 164, 1),  # single 154 + 10
        ("C", "C", 139, 2),  # double 134 + 5
        ("C", "C", 123, 3),  # triple 120 + 3
        ("C", "N", 119, 3),  # triple 116 + 3
        ("O", "H", 106, 1),
        ("C", "F", 145, 1),
    ],
)
def test_orders_switch_at_length_plus_margin(a, b, threshold_pm, order):
    d = threshold_pm / 100
    assert bond_order(a, b, d - 1e-4) == order
    assert bond_order(a, b, d + 1e-4) == order - 1
    assert bond_order(b, a, d - 1e-4) == order


def test_pairs_without_higher_orders_stay_single():
    assert bond_order("C", "F", 0.5) == 1  # no C=F length in the table
    assert bond_order("H", "H", 0.3) == 1
    assert bond_order("O", "O", 1.0) == 2  # O=O exists, no triple


def test_known_elements_without_lengths_never_bond():
    for a, b in (("Al", "C"), ("Hg", "H"), ("Bi", "O"), ("B", "C")):
        assert bond_order(a, b, 0.8) == 0


def test_unknown_element_is_named():
    with pytest.raises(ValueError, match="'Xe'"):
        bond_order("C", "Xe", 1.5)
    with pytest.raises(ValueError, match="'Na'"):
        bond_orders(["C", "Na"], np.zeros((2, 3)))


def test_shape_checked():
    with pytest.raises(ValueError, match="expected \\(2, 3\\)"):
        bond_orders(["C", "C"], np.zeros((3, 3)))


def _random_molecule(rng, n=12):
    symbols = list(rng.choice(["H", "C", "N", "O", "F", "S", "P", "Cl"], size=n))
    return symbols, rng.uniform(0, 3.5, size=(n, 3))


def test_matrix_matches_pairwise_rule_and_is_symmetric():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        symbols, pos = _random_molecule(rng)
        order = bond_orders(symbols, pos)
        assert order.dtype == np.int64 and (order == order.T).all() and (np.diag(order) == 0).all()
        for i in range(len(symbols)):
            for j in range(len(symbols)):
                if i != j:
                    d = np.linalg.norm(pos[i] - pos[j])
                    assert order[i, j] == bond_order(symbols[i], symbols[j], d)
        seen |= set(np.unique(order))
    assert {0, 1, 2} <= seen  # the random sets exercise several orders


def test_invariant_to_rigid_motion_and_equivariant_to_permutation():
    rng = np.random.default_rng(1)
    symbols, pos = _random_molecule(rng, 15)
    order = bond_orders(symbols, pos)
    rot = Rotation.random(random_state=2).as_matrix()
    moved = pos @ rot.T + rng.normal(size=3) * 10
    assert (bond_orders(symbols, moved) == order).all()
    perm = rng.permutation(len(symbols))
    permuted = bond_orders([symbols[k] for k in perm], pos[perm])
    assert (permuted == order[np.ix_(perm, perm)]).all()


def test_elements_cover_geom_vocabulary():
    from scorelab.apps.molecules.elements import GEOM_ATOMS

    assert set(ELEMENTS) == set(GEOM_ATOMS)
