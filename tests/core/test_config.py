"""Dataclass configs <-> JSON dicts: exact round trips, defaults, and errors that name the field."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import pytest

from scorelab.config import (
    ConfigError,
    config_diff,
    from_dict,
    load_config,
    save_config,
    to_dict,
)


class Act(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


@dataclass
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["cosine", "constant"] = "cosine"
    clip: float | None = None

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class Model:
    hidden: int
    depth: int = 4
    widths: tuple[int, ...] = (64, 64)
    act: Act = Act.RELU
    dropout: Optional[float] = None  # noqa: UP045 - the typing spelling must work too
    n_params: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.n_params = self.hidden * self.depth


@dataclass
class Run:
    name: str
    model: Model
    optim: Optim = field(default_factory=Optim)
    out_dir: Path = Path("runs/default")
    seed: int | str = 0
    steps: Union[int, float] = 1000  # noqa: UP007
    use_ema: bool = True
    tags: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    stages: list[Optim] = field(default_factory=list)
    warm_start: Model | None = None
    extra: Any = None


def full_run() -> Run:
    """A config with every field away from its default."""
    return Run(
        name="cifar",
        model=Model(hidden=128, depth=6, widths=(32, 64, 128), act=Act.GELU, dropout=0.1),
        optim=Optim(lr=2e-4, betas=(0.5, 0.99), schedule="constant", clip=1.0),
        out_dir=Path("runs/cifar/seed3"),
        seed="auto",
        steps=2.5e5,
        use_ema=False,
        tags=["a", "b"],
        weights={"score": 1.0, "aux": 0.25},
        stages=[Optim(lr=1e-3), Optim(lr=1e-4, schedule="constant")],
        warm_start=Model(hidden=16),
        extra={"note": [1, 2, None]},
    )


# --- round trips --------------------------------------------------------------------------


def test_to_dict_is_plain_json_in_declaration_order():
    d = to_dict(full_run())
    assert list(d) == [f.name for f in dataclasses.fields(Run)]
    assert d["out_dir"] == "runs/cifar/seed3"
    assert d["model"]["widths"] == [32, 64, 128]
    assert d["model"]["act"] == "gelu"
    assert d["optim"]["betas"] == [0.5, 0.99]
    stage = {"lr": 1e-4, "betas": [0.9, 0.999], "schedule": "constant", "clip": None}
    assert d["stages"][1] == stage
    assert "n_params" not in d["model"]  # init=False fields are derived, not stored
    assert json.loads(json.dumps(d, allow_nan=False)) == d


@pytest.mark.parametrize("cfg", [full_run(), Run(name="x", model=Model(hidden=8))])
def test_dict_round_trip_is_exact(cfg):
    back = from_dict(Run, to_dict(cfg))
    assert back == cfg
    assert isinstance(back.out_dir, Path)
    assert isinstance(back.model.widths, tuple) and isinstance(back.optim.betas, tuple)
    assert back.model.act is cfg.model.act
    assert back.model.n_params == cfg.model.hidden * cfg.model.depth


def test_file_round_trip(tmp_path):
    cfg = full_run()
    path = save_config(cfg, tmp_path / "sub" / "config.json")
    assert path == tmp_path / "sub" / "config.json"
    text = path.read_text()
    assert text.count("\n") > 10  # indented, human readable
    assert json.loads(text) == to_dict(cfg)
    assert list(json.loads(text)) == list(to_dict(cfg))  # not re-sorted
    assert load_config(Run, path) == cfg
    assert load_config(Run, str(path)) == cfg


def test_union_and_number_conversions():
    base = {"name": "x", "model": {"hidden": 8}}
    run = from_dict(Run, {**base, "optim": {"lr": 1, "clip": 2}, "seed": "7", "steps": 3})
    assert run.optim.lr == 1.0 and type(run.optim.lr) is float
    assert type(run.optim.clip) is float
    assert run.seed == "7" and run.steps == 3 and type(run.steps) is int
    assert type(from_dict(Run, {**base, "steps": 2.5}).steps) is float
    assert from_dict(Run, {**base, "extra": {"any": ["thing"]}}).extra == {"any": ["thing"]}


def test_missing_keys_take_defaults():
    run = from_dict(Run, {"name": "x", "model": {"hidden": 8}})
    assert run == Run(name="x", model=Model(hidden=8))
    assert run.optim == Optim() and run.tags == [] and run.weights == {}


def test_init_false_key_is_ignored():
    run = from_dict(Run, {"name": "x", "model": {"hidden": 8, "n_params": 999}})
    assert run.model.n_params == 32


# --- errors -------------------------------------------------------------------------------


def err(data: dict, cls: type = Run) -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(cls, data)
    return str(info.value)


def test_missing_required_field():
    assert "model.hidden: missing required field" in err({"name": "x", "model": {}})
    assert "model: missing required field" in err({"name": "x"})


def test_unknown_key_names_dotted_path_and_known_fields():
    msg = err({"name": "x", "model": {"hidden": 8, "hiden": 8}})
    assert "'model.hiden'" in msg
    assert "hidden, depth, widths, act, dropout" in msg
    assert "'optim'" not in msg
    msg = err({"name": "x", "model": {"hidden": 8}, "stages": [{"momentum": 0.9}]})
    assert "'stages[0].momentum'" in msg


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"model": {"hidden": "abc"}}, "model.hidden: expected int, got str 'abc'"),
        ({"model": {"hidden": True}}, "model.hidden: expected int, got bool True"),
        ({"model": {"hidden": 8.0}}, "model.hidden: expected int, got float 8.0"),
        ({"optim": {"lr": True}}, "optim.lr: expected float, got bool True"),
        ({"use_ema": 1}, "use_ema: expected bool, got int 1"),
        ({"use_ema": "true"}, "use_ema: expected bool, got str 'true'"),
        ({"name": 3}, "name: expected str, got int 3"),
        ({"out_dir": 3}, "out_dir: expected Path, got int 3"),
        ({"tags": "ab"}, "tags: expected list[str], got str 'ab'"),
        ({"tags": ["a", 1]}, "tags[1]: expected str, got int 1"),
        ({"weights": {"score": "high"}}, "weights.score: expected float, got str 'high'"),
        ({"weights": [1.0]}, "weights: expected dict[str, float]"),
        ({"model": {"hidden": 8, "widths": [1, "2"]}}, "model.widths[1]: expected int"),
        ({"model": 5}, "model: expected Model, got int 5"),
        ({"model": {"hidden": 8, "act": "tanh"}}, "model.act: expected a Act value"),
        ({"model": {"hidden": 8, "dropout": "x"}}, "model.dropout: expected float"),
        ({"seed": 1.5}, "seed: expected int | str, got float 1.5"),
        ({"warm_start": {"hidden": "w"}}, "warm_start.hidden: expected int"),
        ({"name": None}, "name: expected str, got NoneType None"),
    ],
)
def test_type_mismatch_names_the_field(patch, expected):
    data = {"name": "x", "model": {"hidden": 8}, **patch}
    assert expected in err(data)


def test_bad_literal():
    msg = err({"name": "x", "model": {"hidden": 8}, "optim": {"schedule": "linear"}})
    assert "optim.schedule" in msg and "'cosine', 'constant'" in msg and "'linear'" in msg


def test_wrong_tuple_length():
    msg = err({"name": "x", "model": {"hidden": 8}, "optim": {"betas": [0.9]}})
    assert "optim.betas: expected tuple[float, float] of length 2, got 1" in msg
    with pytest.raises(ConfigError, match=r"optim\.betas"):
        from_dict(Run, {"name": "x", "model": {"hidden": 8}, "optim": {"betas": [1, 2, 3]}})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_float_rejected(bad, tmp_path):
    cfg = Run(name="x", model=Model(hidden=8), weights={"aux": bad})
    with pytest.raises(ConfigError, match=r"weights\.aux: non-finite"):
        to_dict(cfg)
    with pytest.raises(ConfigError, match=r"weights\.aux"):
        save_config(cfg, tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
    msg = err({"name": "x", "model": {"hidden": 8}, "optim": {"lr": bad}})
    assert "optim.lr: non-finite" in msg


def test_post_init_value_error_becomes_config_error():
    msg = err({"name": "x", "model": {"hidden": 8}, "optim": {"lr": -1.0}})
    assert "Optim" in msg and "lr must be positive, got -1.0" in msg
    msg = err({"lr": 0.0}, Optim)
    assert "Optim" in msg and "lr must be positive" in msg


def test_unstorable_values_rejected():
    with pytest.raises(ConfigError, match=r"extra: cannot store object"):
        to_dict(Run(name="x", model=Model(hidden=8), extra=object()))
    with pytest.raises(ConfigError, match=r"extra: dict keys must be str"):
        to_dict(Run(name="x", model=Model(hidden=8), extra={1: "a"}))


def test_not_a_dataclass():
    with pytest.raises(TypeError):
        to_dict({"a": 1})
    with pytest.raises(TypeError):
        to_dict(Run)  # the class, not an instance
    with pytest.raises(TypeError):
        from_dict(dict, {})
    with pytest.raises(ConfigError, match="Run: expected a mapping"):
        from_dict(Run, [1, 2])


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_config(Run, path)


def test_load_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x",\n "model": {"hidden": 8,}}\n')
    with pytest.raises(ConfigError) as info:
        load_config(Run, path)
    msg = str(info.value)
    assert "bad.json" in msg and "line 2" in msg and "column" in msg
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_config(Run, path)


def test_load_error_names_file_and_field(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "x", "model": {"hidden": "8"}}))
    with pytest.raises(ConfigError) as info:
        load_config(Run, path)
    assert "c.json" in str(info.value) and "model.hidden: expected int" in str(info.value)
    path.write_text('{"name": "x", "model": {"hidden": 8}, "optim": {"lr": NaN}}')
    with pytest.raises(ConfigError, match=r"optim\.lr: non-finite"):
        load_config(Run, path)


# --- config_diff --------------------------------------------------------------------------


def test_config_diff_nested():
    a = full_run()
    assert config_diff(a, full_run()) == {}
    b = dataclasses.replace(
        a,
        model=dataclasses.replace(a.model, depth=8, widths=(32, 64)),
        optim=dataclasses.replace(a.optim, betas=(0.5, 0.9)),
        out_dir=Path("elsewhere"),
        weights={"score": 1.0, "aux": 0.5},
        warm_start=None,
    )
    assert config_diff(a, b) == {
        "model.depth": (6, 8),
        "model.widths": ([32, 64, 128], [32, 64]),
        "optim.betas": ([0.5, 0.99], [0.5, 0.9]),
        "out_dir": ("runs/cifar/seed3", "elsewhere"),
        "weights.aux": (0.25, 0.5),
        "warm_start": (to_dict(Model(hidden=16)), None),
    }


def test_config_diff_details():
    a = Run(name="x", model=Model(hidden=8), weights={"a": 1.0})
    b = Run(name="x", model=Model(hidden=8), weights={"a": 1.0, "b": 2.0})
    assert config_diff(a, b) == {"weights": ({"a": 1.0}, {"a": 1.0, "b": 2.0})}
    # an int given for a float field equals the float it loads back as
    assert config_diff(Optim(lr=1), from_dict(Optim, to_dict(Optim(lr=1)))) == {}
    with pytest.raises(TypeError):
        config_diff(Optim(), Model(hidden=1))
