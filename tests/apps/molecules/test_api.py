"""The molecules API end to end on a tiny QM9 subset: train, load, sample, guide, evaluate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from rdkit import Chem

from scorelab.apps.molecules import api
from scorelab.apps.molecules.config import RegressorConfig, preset
from scorelab.apps.molecules.formats import read_sdf, write_sdf
from scorelab.apps.molecules.regression import (
    bounds,
    generator_half,
    load_regressor,
    train_regressor,
)
from scorelab.apps.molecules.tensors import SizeDistribution, to_tensors


def _cfg(tmp, name, props=(), steps=6):
    cfg = preset("qm9")
    cfg.data = dataclasses.replace(cfg.data, max_molecules=600, cache_dir=tmp / "cache")
    cfg.model = dataclasses.replace(cfg.model, hidden=16, layers=2)
    cfg.cond = dataclasses.replace(cfg.cond, properties=tuple(props))
    cfg.train = dataclasses.replace(
        cfg.train, steps=steps, batch_size=32, checkpoint_every=0, progress=False, warmup_steps=0
    )
    cfg.sample = dataclasses.replace(cfg.sample, steps=4, batch_size=16)
    cfg.out = tmp / name
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("molecules_api")
    cfg = _cfg(tmp, "uncond")
    split = api.load_split(cfg)
    api.train(cfg, split)
    ccfg = _cfg(tmp, "gap", ("gap",))
    api.train(ccfg, split)
    mcfg = _cfg(tmp, "mu", ("mu",))
    api.train(mcfg, split)
    return {
        "split": split,
        "uncond": api.load(cfg.out),
        "gap": api.load(ccfg.out),
        "mu": api.load(mcfg.out),
        "tmp": tmp,
    }


def test_sample_returns_molecules_with_conformers(runs, tmp_path):
    mols = api.sample(runs["uncond"], 5, seed=0)
    assert len(mols) == 5
    for m in mols:
        assert isinstance(m, Chem.Mol) and m.GetNumConformers() == 1
        assert {a.GetSymbol() for a in m.GetAtoms()} <= set("HCNOF")
        assert m.GetConformer().Is3D()
    write_sdf(tmp_path / "s.sdf", mols)
    back = read_sdf(tmp_path / "s.sdf", sanitize=False)  # generated molecules may be invalid
    assert [m.GetNumAtoms() for m in back] == [m.GetNumAtoms() for m in mols]


def test_generated_positions_have_zero_centre_of_mass(runs):
    raw = api.generate(runs["uncond"], 12, seed=3)
    m = raw["mask"][..., None]
    com = (raw["pos"] * m).sum(1) / m.sum(1)
    assert np.abs(com).max() < 1e-4
    assert np.all(raw["pos"][~raw["mask"]] == 0)  # padding never moves
    sizes = raw["mask"].sum(1)
    hist = runs["uncond"].sizes.counts
    assert all(hist[k] > 0 for k in sizes)  # only sizes seen in training


def test_same_seed_same_molecules(runs):
    a = api.generate(runs["uncond"], 4, seed=7)
    b = api.generate(runs["uncond"], 4, seed=7)
    assert np.array_equal(a["pos"], b["pos"]) and np.array_equal(a["atom_type"], b["atom_type"])


def test_property_errors_are_clear(runs):
    with pytest.raises(ValueError, match="unknown property 'foo'"):
        api.sample(runs["gap"], 2, property="foo", target=1.0)
    with pytest.raises(ValueError, match="not conditioned on \\['gap'\\].*unconditional"):
        api.sample(runs["uncond"], 2, property="gap", target=6000.0)
    with pytest.raises(ValueError, match="needs target"):
        api.generate(runs["gap"], 2, property="gap")
    with pytest.raises(ValueError, match="NaN"):
        api.generate(runs["gap"], 2, property="gap", target=float("nan"))
    with pytest.raises(ValueError, match="num_atoms must lie in"):
        api.generate(runs["uncond"], 2, num_atoms=99)


def test_guidance_zero_ignores_the_target_and_one_uses_it(runs):
    """CFG with w = 0 is the unconditional (null) model: the target cannot matter."""
    kw = dict(num_atoms=9, seed=1)
    lo0 = api.generate(runs["gap"], 3, property="gap", target=3000.0, guidance=0.0, **kw)
    hi0 = api.generate(runs["gap"], 3, property="gap", target=12000.0, guidance=0.0, **kw)
    assert np.isfinite(lo0["pos"]).all() and np.allclose(lo0["pos"], hi0["pos"], atol=1e-6)
    strong = api.generate(runs["gap"], 3, property="gap", target=3000.0, guidance=3.0, **kw)
    assert np.isfinite(strong["pos"]).all()
    lo1 = api.generate(runs["gap"], 3, property="gap", target=3000.0, **kw)
    hi1 = api.generate(runs["gap"], 3, property="gap", target=12000.0, **kw)
    assert not np.allclose(lo1["pos"], hi1["pos"], atol=1e-4)
    assert np.all(lo1["target_gap"] == 3000.0)


def test_product_of_two_single_property_models(runs):
    raw = api.generate(
        [runs["gap"], runs["mu"]], 3, property=("gap", "mu"), target=(6000.0, 2.0), seed=0
    )
    assert raw["pos"].shape[0] == 3 and np.isfinite(raw["pos"]).all()
    assert set(raw) >= {"target_gap", "target_mu"}


def test_conditional_sizes_follow_the_target_bin():
    rng = np.random.default_rng(0)
    n_atoms = np.array([5] * 50 + [20] * 50)
    prop = np.concatenate([rng.uniform(0, 1, 50), rng.uniform(10, 11, 50)])
    sd = SizeDistribution.of(n_atoms, {"gap": prop}, bins=4)
    assert set(sd.draw(40, rng, {"gap": np.full(40, 0.5)})) == {5}
    assert set(sd.draw(40, rng, {"gap": np.full(40, 10.5)})) == {20}
    assert set(sd.draw(200, rng)) == {5, 20}


def test_tensors_round_trip_real_molecules(runs):
    ms = runs["split"]["test"]
    t = to_tensors(ms, 0.25, 0.25)
    assert torch.equal(
        t.atom_type.argmax(-1)[t.mask.bool()], torch.as_tensor(ms.atom_type)[ms.mask]
    )
    assert torch.allclose(t.atom_type.sum(-1), 0.25 * t.mask)
    x, nm = t.batch(torch.arange(4))
    assert x["pos"].shape[1] == int(ms.num_atoms[:4].max()) == nm.shape[1]


def test_regressor_bounds_are_printed_and_ordered(runs):
    """The regressor's MAE on real molecules (the lower bound) beats shuffled targets."""
    tmp = runs["tmp"]
    rc = RegressorConfig(property="alpha", out=tmp / "reg_alpha", hidden=32, layers=2)
    rc.data = dataclasses.replace(rc.data, max_molecules=600, cache_dir=tmp / "cache")
    rc.train = dataclasses.replace(
        rc.train, steps=150, batch_size=32, progress=False, checkpoint_every=0, warmup_steps=0
    )
    train_regressor(rc, runs["split"])
    reg = load_regressor(rc.out)
    b = bounds(reg, generator_half(runs["split"]["train"]), runs["split"]["train"])
    print(f"alpha regressor on real held-out molecules: {b}")
    assert b["lower_bound"] < 0.8 * b["upper_bound"]


def test_cli_sample_and_evaluate_write_their_files(runs, tmp_path):
    from scorelab.apps.molecules.app import APP
    from scorelab.apps.molecules.config import MoleculeEvalOptions, MoleculeSampleOptions

    gap_run = runs["tmp"] / "gap"
    out = APP.sample(
        MoleculeSampleOptions(
            gap_run, n=3, property=("gap",), target=(6000.0,), out=tmp_path, progress=False
        )
    )
    assert out == tmp_path / "samples.sdf" and out.is_file()
    assert (tmp_path / "samples.xyz").is_file() and (tmp_path / "samples.png").is_file()
    with pytest.raises(ValueError, match="as many --target"):
        APP.sample(MoleculeSampleOptions(gap_run, n=2, property=("gap",), out=tmp_path))
    res = APP.evaluate(MoleculeEvalOptions(runs["tmp"] / "uncond", n=6, out=tmp_path / "ev"))
    assert (tmp_path / "ev" / "eval.json").is_file()
    assert 0 <= res["summary"]["atom_stability"]["mean"] <= 1
