"""Single-point DFT properties: symmetry facts, QM9's own water values, the missing-PySCF error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from scorelab.apps.molecules.dft import HARTREE_TO_MEV, dft_properties

# QM9 molecule 3 (water), geometry optimised at B3LYP/6-31G(2df,p); QM9 lists HOMO -0.2928,
# LUMO 0.0687, gap 0.3615 Hartree and a 1.8511 D dipole.
WATER = (
    ["O", "H", "H"],
    np.array(
        [
            [-0.034360, 0.977540, 0.007602],
            [0.064766, 0.020572, 0.001535],
            [0.871790, 1.300792, 0.000693],
        ]
    ),
)


def test_missing_pyscf_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyscf", None)  # makes `import pyscf` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'scorelab\[dft\]'"):
        dft_properties(*WATER, basis="sto-3g")


def test_inputs_checked_before_pyscf(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyscf", None)
    with pytest.raises(ValueError, match="'Xe'"):
        dft_properties(["Xe"], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="expected \\(3, 3\\)"):
        dft_properties(WATER[0], np.zeros((2, 3)))


def test_h2_is_nonpolar_with_a_positive_gap():
    pytest.importorskip("pyscf")
    res = dft_properties(["H", "H"], np.array([[0, 0, 0], [0, 0, 0.74]]), basis="sto-3g")
    assert res["converged"]
    assert res["mu"] == pytest.approx(0.0, abs=1e-8)  # inversion symmetry
    assert res["homo"] < 0 < res["lumo"]
    assert res["gap"] == pytest.approx(res["lumo"] - res["homo"])


def test_water_b3lyp_matches_qm9():
    pytest.importorskip("pyscf")
    res = dft_properties(*WATER, basis="6-31g*", xc="b3lyp")
    assert res["converged"]
    # 6-31G* vs QM9's larger 6-31G(2df,p) basis: orbital energies within a few percent
    assert res["gap"] == pytest.approx(0.3615 * HARTREE_TO_MEV, rel=0.03)
    assert res["homo"] == pytest.approx(-0.2928 * HARTREE_TO_MEV, rel=0.03)
    # B3LYP/6-31G* overestimates water's dipole (about 2.1 D; QM9's basis gives 1.85 D)
    assert 1.9 < res["mu"] < 2.2
    # the dipole is a vector property: a rigid rotation leaves its magnitude unchanged
    c, s = np.cos(0.7), np.sin(0.7)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    moved = dft_properties(WATER[0], WATER[1] @ rot.T, basis="sto-3g")
    assert moved["mu"] == pytest.approx(dft_properties(*WATER, basis="sto-3g")["mu"], rel=1e-5)


def test_odd_electron_count_runs_unrestricted():
    pytest.importorskip("pyscf")
    res = dft_properties(["O", "H"], np.array([[0, 0, 0], [0, 0, 0.97]]), basis="sto-3g")
    assert res["converged"] and np.isfinite(res["gap"]) and res["mu"] > 0
    # water's cation (9 electrons): its orbitals are more bound than the neutral's
    cation = dft_properties(*WATER, charge=1, basis="sto-3g")
    assert cation["converged"]
    assert cation["homo"] < dft_properties(*WATER, basis="sto-3g")["homo"]
