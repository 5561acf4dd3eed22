"""The graphs API end to end on tiny budgets: train, sample, decode, score, CLI, presets."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import pytest
import torch

from scorelab.apps.graphs import GraphsConfig, api, preset
from scorelab.apps.graphs.config import DATASET_NAMES
from scorelab.cli import main
from scorelab.training import TrainConfig


def tiny(dataset: str, out, **data) -> GraphsConfig:
    cfg = preset(dataset)
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, **data),
        model=dataclasses.replace(cfg.model, depth=2, nhid=8, adim=8, num_layers=2),
        sample=dataclasses.replace(cfg.sample, steps=5),
        train=TrainConfig(steps=3, batch_size=16, progress=False, checkpoint_every=0),
        out=out,
    )


@pytest.fixture(scope="module")
def community_run(tmp_path_factory):
    cfg = tiny("community_small", tmp_path_factory.mktemp("cs") / "run")
    api.train(cfg)
    return cfg


def test_presets_cover_every_dataset_and_default_is_community_small():
    assert preset("community_small") == GraphsConfig()
    for name in DATASET_NAMES:
        assert preset(name).dataset == name
    with pytest.raises(KeyError, match="unknown graphs dataset"):
        preset("cora")
    paper = preset("grid", paper=True)
    assert (paper.model.num_layers, paper.model.depth, paper.sample.sampler) == (7, 5, "pc")


def test_sampled_graphs_have_the_requested_sizes_and_padding_never_gains_edges(community_run):
    gm = api.load(community_run.out)
    assert gm.kind == "generic" and gm.max_nodes == 20
    raw = api.generate(gm, 6, [12, 20, 14, 13, 20, 12], seed=0)
    nm = raw["node_mask"]
    pad = (1 - nm)[:, :, None] + (1 - nm)[:, None, :] > 0
    assert raw["adj"][pad].abs().max() == 0  # padding never moves, so never gains an edge
    assert raw["x"][(1 - nm).bool()].abs().max() == 0
    torch.testing.assert_close(raw["adj"], raw["adj"].transpose(1, 2))
    graphs = api.sample(gm, 6, [12, 20, 14, 13, 20, 12], seed=0)
    assert [g.number_of_nodes() for g in graphs] == [12, 20, 14, 13, 20, 12]
    assert all(nx.number_of_selfloops(g) == 0 for g in graphs)
    same = api.sample(gm, 6, [12, 20, 14, 13, 20, 12], seed=0)
    assert [sorted(g.edges) for g in same] == [sorted(g.edges) for g in graphs]
    drawn = api.sample(gm, 50, seed=1)  # default sizes come from the training graphs
    assert {g.number_of_nodes() for g in drawn} <= set(gm.node_counts)


def test_bad_requests_are_named(community_run):
    gm = api.load(community_run.out)
    with pytest.raises(ValueError, match="num_nodes must lie in 1..20"):
        api.sample(gm, 2, 25)
    with pytest.raises(ValueError, match="num_nodes has 3 entries"):
        api.sample(gm, 2, [12, 13, 14])


def test_evaluate_scores_every_seed(community_run, tmp_path):
    res = api.evaluate(community_run.out, seeds=(0, 1), out=tmp_path)
    assert res["n"] == 20 and len(res["runs"]) == 2
    assert set(res["summary"]) == {"degree", "cluster", "orbit", "spectral"}
    on_disk = json.loads((tmp_path / "eval.json").read_text())
    assert on_disk["summary"]["degree"]["mean"] == pytest.approx(res["summary"]["degree"]["mean"])


def test_molecule_run_returns_valency_checked_rdkit_molecules(tmp_path):
    from rdkit import Chem

    cfg = tiny("nci", tmp_path / "run", max_molecules=120)
    split = api.load_split(cfg)
    api.train(cfg, split)
    gm = api.load(cfg.out)
    assert gm.kind == "molecule" and gm.atoms == split.atoms
    raw = api.generate(gm, 8, seed=0)
    mols, flags = api.decode(gm, raw)
    assert len(mols) == len(flags) == 8
    for m in mols:
        if m is not None:
            Chem.SanitizeMol(m)  # raises on a valency violation
    scores = api.score(split, mols, flags)
    assert 0 <= scores["validity_wo_correction"] <= 1


def test_cli_train_sample_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--train.steps", "2", "--train.progress", "False", "--out", str(run)]
    assert main(["train", "graphs", "--dataset", "community_small", *args]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["dataset"] == "community_small"
    assert (
        main(
            [
                "sample",
                "graphs",
                "--checkpoint",
                str(run),
                "--n",
                "4",
                "--steps",
                "3",
                "--progress",
                "False",
            ]
        )
        == 0
    )
    lines = (run / "samples" / "samples.g6").read_text().split()
    assert len(lines) == 4 and (run / "samples" / "samples.png").is_file()
    assert (
        main(["evaluate", "graphs", "--checkpoint", str(run), "--seeds", "0", "--steps", "3"]) == 0
    )
    assert (run / "eval" / "eval.json").is_file()
