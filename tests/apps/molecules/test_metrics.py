"""EDM's validity, uniqueness and novelty; molecule metrics; property MAE and tail success."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from scorelab.apps.molecules.metrics import (
    molecule_metrics,
    ood_success,
    property_mae,
    tail_threshold,
    train_smiles_set,
    validity_uniqueness_novelty,
)
from scorelab.apps.molecules.stability import stability

from .test_stability import ammonium, benzene, ethane, ethylene, methane, water


def test_vun_definitions():
    res = validity_uniqueness_novelty(["C", "C", None, "CC", "O"], train_smiles={"C", "N"})
    assert res["validity"] == pytest.approx(4 / 5)
    assert res["uniqueness"] == pytest.approx(3 / 4)  # {C, CC, O} among 4 valid
    assert res["novelty"] == pytest.approx(2 / 3)  # CC and O are not in training
    assert (res["num_valid"], res["num_unique"], res["num_novel"]) == (4, 3, 2)


def test_vun_undefined_rates_are_none():
    res = validity_uniqueness_novelty([None, None], train_smiles={"C"})
    assert res["validity"] == 0.0 and res["uniqueness"] is None and res["novelty"] is None
    res = validity_uniqueness_novelty(["C"])
    assert res["novelty"] is None and res["num_novel"] is None
    with pytest.raises(ValueError, match="empty"):
        validity_uniqueness_novelty([])


def test_molecule_metrics_on_known_molecules():
    rot = Rotation.random(random_state=0).as_matrix()
    m_sym, m_pos = methane()
    w_sym, w_pos = water()
    mols = [
        (m_sym, m_pos),
        (m_sym, m_pos @ rot.T + 3.0),  # the same molecule moved: not unique
        ethylene(),
        benzene(1.385),  # 5-valent carbons: unstable and invalid
        (m_sym + w_sym, np.vstack([m_pos, w_pos + 10.0])),  # two fragments; SMILES of methane
        # broken C-C: unstable; two CH3 fragments, valid with an implicit H, but written
        # "[H]C([H])[H]" (three H atoms), not methane's "[H]C([H])([H])[H]", as in EDM
        ethane(1.70),
    ]
    train = train_smiles_set([methane()])
    res = molecule_metrics(mols, train)
    assert res["num_molecules"] == 6 and res["num_atoms"] == 5 + 5 + 6 + 12 + 8 + 8
    assert res["mol_stability"] == pytest.approx(4 / 6)
    assert res["atom_stability"] == pytest.approx((5 + 5 + 6 + 6 + 8 + 6) / 44)
    assert res["validity"] == pytest.approx(5 / 6)
    assert res["uniqueness"] == pytest.approx(3 / 5)  # methane, ethylene, CH3 + implicit H
    assert res["novelty"] == pytest.approx(2 / 3)  # all but methane
    assert res["connected"] == pytest.approx(4 / 6)
    assert res["num_stable"] == 4 and res["num_connected"] == 4


def test_charges_enter_validity_and_charge_aware_stability():
    symbols, pos = ammonium()
    q = [[1, 0, 0, 0, 0]]
    plain = molecule_metrics([(symbols, pos)])
    charged = molecule_metrics([(symbols, pos)], charges=q)
    carried = molecule_metrics([(symbols, pos, q[0])])
    assert plain["validity"] == 0.0 and charged["validity"] == 1.0
    assert charged["mol_stability"] == 0.0 and charged["mol_stability_charged"] == 1.0
    assert carried == charged
    with pytest.raises(ValueError, match="1 charge lists for 2 molecules"):
        molecule_metrics([(symbols, pos)] * 2, charges=q)


def test_real_qm9_matches_edm_data_row():
    # EDM's data row: validity 97.7 %. On these 1,500 rows (default_rng(0)) we measure 97.67 %
    # (all 130,831 molecules: 97.67 %), uniqueness 100 %, and novelty 0 against themselves.
    from scorelab.apps.molecules.qm9 import load_qm9

    ms = load_qm9(progress=False)
    rows = np.random.default_rng(0).choice(len(ms), size=1500, replace=False)
    mols = [ms.molecule(int(i)) for i in rows]
    train = train_smiles_set(mols[:750], progress=True)
    res = molecule_metrics(mols, train)
    assert 0.965 <= res["validity"] <= 0.99
    assert res["uniqueness"] >= 0.995
    assert 0.45 <= res["novelty"] <= 0.55  # half of the molecules are the "training" ones
    assert res["connected"] >= 0.995
    edm = stability(mols)
    assert res["atom_stability"] == edm["atom_stability"]
    assert res["mol_stability"] == edm["mol_stability"]


def test_property_mae():
    assert property_mae([1.0, 2.0, 4.0], [1.5, 2.0, 1.0]) == pytest.approx(3.5 / 3)
    with pytest.raises(ValueError, match="shape"):
        property_mae([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        property_mae([np.nan], [1.0])


def test_tail_threshold_and_ood_success():
    train = np.arange(1000.0)
    assert tail_threshold(train, 0.99, "upper") == pytest.approx(989.01)
    assert tail_threshold(train, 0.99, "lower") == pytest.approx(9.99)
    # 1 % of the training set lies strictly beyond either edge
    assert ood_success(train, tail_threshold(train, 0.99), "upper") == pytest.approx(0.01)
    assert ood_success(train, tail_threshold(train, 0.99, "lower"), "lower") == pytest.approx(0.01)
    generated = np.array([995.0, 989.01, 1200.0, np.nan, 3.0])
    assert ood_success(generated, 989.01, "upper") == pytest.approx(2 / 5)  # NaN is a miss
    assert ood_success(generated, 9.99, "lower") == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="unknown side 'left'"):
        ood_success(generated, 0.0, "left")
    with pytest.raises(ValueError, match="q must lie"):
        tail_threshold(train, 1.0)
