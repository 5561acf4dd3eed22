"""Element vocabularies: EDM's order, atomic numbers as the periodic table has them."""

from __future__ import annotations

from rdkit import Chem

from scorelab.apps.molecules.elements import (
    ATOMIC_NUMBERS,
    CHARGES,
    GEOM_ATOMS,
    GEOM_CHARGES,
    QM9_ATOMS,
    SYMBOLS,
)


def test_vocabularies_in_edm_order():
    assert QM9_ATOMS == ("H", "C", "N", "O", "F")
    assert GEOM_ATOMS[:6] == ("H", "B", "C", "N", "O", "F")
    assert GEOM_ATOMS[-2:] == ("Hg", "Bi") and len(GEOM_ATOMS) == 16
    assert set(QM9_ATOMS) <= set(GEOM_ATOMS)


def test_atomic_numbers_match_the_periodic_table():
    table = Chem.GetPeriodicTable()
    assert set(ATOMIC_NUMBERS) == set(GEOM_ATOMS)
    for symbol, z in ATOMIC_NUMBERS.items():
        assert table.GetAtomicNumber(symbol) == z
    assert {s: z for z, s in SYMBOLS.items()} == ATOMIC_NUMBERS


def test_charge_vocabularies_hold_neutral():
    assert CHARGES == (-1, 0, 1)
    assert 0 in GEOM_CHARGES and set(CHARGES) <= set(GEOM_CHARGES)
