"""The ``scorelab`` command: app registry, train/sample/evaluate round trip, overrides."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from scorelab.app import app_names, load_app
from scorelab.cli import main
from scorelab.training import TrainConfig


def test_apps_are_registered_and_imported_lazily():
    assert "toy" in app_names()
    code = (
        "import sys; from scorelab.app import app_names; app_names(); "
        "print(any(m.startswith('scorelab.apps.toy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(KeyError, match="registered apps: .*toy"):
        load_app("nope")


def test_usage_and_unknown_command(capsys):
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "scorelab {train,sample,evaluate,data} APP" in capsys.readouterr().out
    assert main(["fly", "toy"]) == 1
    assert "unknown command 'fly'" in capsys.readouterr().err
    assert main(["train", "nope"]) == 1
    assert "unknown app 'nope'" in capsys.readouterr().err
    assert main(["data", "toy"]) == 1  # an app without a data command says so
    assert "app 'toy' has no data command" in capsys.readouterr().err


def test_train_sample_evaluate_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "toy", "--out", str(run), "--data.target", "checkerboard"]
    args += ["--data.n_train", "2000", "--data.n_test", "200", "--model.hidden", "32"]
    args += ["--train.steps", "30", "--train.batch_size", "64", "--train.progress", "False"]
    assert main(args) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"]["target"] == "checkerboard" and saved["model"]["hidden"] == 32
    assert saved["train"]["steps"] == 30 and saved["train"]["batch_size"] == 64
    assert (run / "checkpoints" / "step_00000030" / "ema.safetensors").is_file()

    assert main(["sample", "toy", "--checkpoint", str(run), "--n", "100", "--steps", "5"]) == 0
    x = np.load(run / "samples" / "samples.npy")
    assert x.shape == (100, 2) and np.isfinite(x).all()

    args = ["evaluate", "toy", "--checkpoint", str(run), "--n", "100", "--steps", "5"]
    assert main(args) == 0
    res = json.loads((run / "eval" / "eval.json").read_text())
    assert {"sliced_w2", "mmd_pvalue", "nll_per_dim"} <= set(res)

    # a saved config is a starting point; flags still override it
    run2 = tmp_path / "run2"
    args = ["train", "toy", "--config", str(run / "config.json"), "--out", str(run2)]
    assert main(args + ["--train.steps", "10"]) == 0
    saved2 = json.loads((run2 / "config.json").read_text())
    assert saved2["model"]["hidden"] == 32 and saved2["train"]["steps"] == 10


def test_bad_inputs_give_named_errors(tmp_path, capsys):
    assert main(["sample", "toy", "--checkpoint", str(tmp_path / "missing")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"hiden": 3}}')
    assert main(["train", "toy", "--config", str(bad)]) == 1
    assert "unknown key 'model.hiden'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # tyro rejects a bad choice with its own message
        main(["train", "toy", "--data.target", "spiral"])


def test_console_script():
    exe = Path(sys.executable).with_name("scorelab")
    exe = str(exe) if exe.exists() else shutil.which("scorelab")
    assert exe, "the scorelab console script is not installed"
    out = subprocess.run([exe, "apps"], capture_output=True, text=True)
    assert out.returncode == 0
    assert {line.split()[0] for line in out.stdout.splitlines()} >= {"policies", "toy"}


def test_bench_targets(capsys):
    assert main(["bench", "toy"]) == 2
    assert "has no benchmarks" in capsys.readouterr().err
    assert main(["bench", "core", "nope"]) == 1
    assert "unknown benchmark 'nope' for core; known: ['samplers', 'training', 'methods']" in (
        capsys.readouterr().err
    )


@dataclass
class Cfg:
    """A config with a preset field, as the graphs app's ``dataset``."""

    dataset: str = "a"
    width: int = 1
    train: TrainConfig = field(default_factory=TrainConfig)


def test_a_preset_option_picks_the_starting_config():
    """``--dataset NAME`` starts from the app's preset NAME; other flags still override it."""
    from scorelab.app import App
    from scorelab.cli import parse_config

    presets = {"a": Cfg(), "b": Cfg(dataset="b", width=7, train=TrainConfig(steps=11))}

    def preset(name: str) -> Cfg:
        if name not in presets:
            raise KeyError(f"unknown dataset {name!r}")
        return presets[name]

    app = App("fake", "a fake app", Cfg, train=lambda c: c, preset=preset, preset_option="dataset")
    assert parse_config(app, []) == Cfg()
    cfg = parse_config(app, ["--dataset", "b"])
    assert (cfg.dataset, cfg.width, cfg.train.steps) == ("b", 7, 11)
    cfg = parse_config(app, ["--width", "3", "--dataset=b"])
    assert (cfg.dataset, cfg.width, cfg.train.steps) == ("b", 3, 11)
    with pytest.raises(KeyError, match="unknown dataset"):
        parse_config(app, ["--dataset", "zzz"])
