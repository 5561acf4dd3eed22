"""``scorelab demo --quick`` runs every section end to end and writes a complete report."""

from __future__ import annotations

import json
import re

import pytest

from scorelab.demo import DemoOptions, run


def test_quick_demo_writes_report_json_and_figures(tmp_path):
    results = run(DemoOptions(out=tmp_path, quick=True, threads=1))
    assert set(results["sections"]) == {"core", "graphs", "molecules", "policies", "toy"}
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# scorelab demo report") and "Quick smoke run" in report
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(figures) >= 5
    for f in figures:  # every figure the report shows exists beside it
        assert (tmp_path / f).is_file(), f
    on_disk = json.loads((tmp_path / "results.json").read_text())
    toy = on_disk["sections"]["toy"]["results"]
    assert set(toy) == {"gmm", "moons", "checkerboard", "swissroll"}
    for r in toy.values():
        assert r["gaussian_control_mmd_pvalue"] < 0.05  # the MMD test has power even here
        assert r["nll"]["nll_nfe"] > 0 and r["loss_curve"]
    assert toy["gmm"]["exact_nll"]["nll_per_dim"] == pytest.approx(
        toy["gmm"]["exact_nll"]["true_nll_per_dim"], abs=1e-3
    )
    policies = on_disk["sections"]["policies"]["results"]
    assert policies["scripted expert"]["success"] == 1.0  # the quick run's numbers mean little
    assert policies["BESO, 3 DDIM steps"]["nfe_per_call"] == 3
    graphs = on_disk["sections"]["graphs"]["results"]
    assert set(graphs["scores"]) == {"GDSS", "training graphs (floor)", "Erdos-Renyi"}
    assert graphs["n"] == 20 and graphs["train_steps"] == 30
    molecules = on_disk["sections"]["molecules"]["results"]
    assert set(molecules["scores"]) == {"flow matching (ours)", "QM9 test molecules"}
    assert molecules["scores"]["QM9 test molecules"]["atom_stability"] > 0.95
    assert molecules["n"] == 24 and molecules["train_steps"] == 20


def test_unknown_section(tmp_path):
    with pytest.raises(ValueError, match="unknown demo section"):
        run(DemoOptions(out=tmp_path, sections=("nope",)))
