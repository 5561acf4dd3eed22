"""Typed dataclass configs to and from plain JSON dicts, exactly and with clear errors.

A run saves its config (``save_config``) into its folder and every checkpoint, and reads it
back (``load_config``) into the same dataclass. ``from_dict`` checks every value against the
field's type hint and names the offending field by its dotted path (``model.hidden``, lists
as ``sizes[2]``), so a hand-edited or stale config fails loudly instead of half-loading.
Command-line parsing lives elsewhere (``tyro``); this module only (de)serializes.

Supported field types: nested dataclasses, ``X | None``, unions of simple types (tried in
order), ``Literal[...]``, ``tuple[X, ...]`` and fixed ``tuple[X, Y]``, ``list[X]``,
``dict[str, X]``, ``Path``, ``Enum`` (stored as its value), ``int``, ``float``, ``bool``,
``str`` and ``Any`` (passed through as is). Floats must be finite.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, Union

from scorelab.io import write_json_atomic

T = TypeVar("T")

_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)


class ConfigError(ValueError):
    """A config value or file that does not match its dataclass."""


# --- helpers ------------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str, cls_name: str) -> str:
    return path if path else cls_name


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "").replace("pathlib.", "")


def _mismatch(path: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(
        f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {_short_repr(value)}"
    )


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _is_dataclass_instance(obj: Any) -> bool:
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _init_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.init]


# --- to_dict ------------------------------------------------------------------------------


def _plain(value: Any, path: str) -> Any:
    """JSON-ready copy of one value (recursive); ``path`` names it in errors."""
    if _is_dataclass_instance(value):
        fields = _init_fields(type(value))
        return {f.name: _plain(getattr(value, f.name), _join(path, f.name)) for f in fields}
    if isinstance(value, enum.Enum):
        return _plain(value.value, path)
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{path}: non-finite float {value!r} cannot be stored in a config")
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{path}: dict keys must be str, got {type(key).__name__} {_short_repr(key)}"
                )
            out[key] = _plain(item, _join(path, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise ConfigError(
        f"{path}: cannot store {type(value).__name__} {_short_repr(value)} in a JSON config"
    )


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of a dataclass config (fields in declaration order, recursive)."""
    if not _is_dataclass_instance(cfg):
        raise TypeError(f"to_dict expects a dataclass instance, got {type(cfg).__name__}")
    return _plain(cfg, "")


# --- from_dict ----------------------------------------------------------------------------


def _convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked against (and converted to) the type hint ``tp``."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin in _UNION_TYPES:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: let X's detailed error through
            return _convert(options[0], value, path)
        for option in options:
            try:
                return _convert(option, value, path)
            except ConfigError:
                continue
        raise _mismatch(path, tp, value)

    if origin is Literal:
        for allowed in args:
            if type(value) is type(allowed) and value == allowed:
                return allowed
        choices = ", ".join(repr(a) for a in args)
        raise ConfigError(f"{path}: expected one of {choices}, got {_short_repr(value)}")

    if _is_dataclass_type(tp):
        if not isinstance(value, Mapping):
            raise _mismatch(path, tp, value)
        return _build(tp, value, path)

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        for member in tp:
            if type(member.value) is type(value) and member.value == value:
                return member
        choices = ", ".join(repr(m.value) for m in tp)
        raise ConfigError(
            f"{path}: expected a {tp.__name__} value ({choices}), got {_short_repr(value)}"
        )

    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _mismatch(path, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _mismatch(path, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                out = float(value)
            except OverflowError:
                raise ConfigError(
                    f"{path}: {_short_repr(value)} is too large for a float"
                ) from None
            if not math.isfinite(out):
                raise ConfigError(f"{path}: non-finite float {out!r} is not allowed in a config")
            return out
        raise _mismatch(path, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _mismatch(path, tp, value)
    if isinstance(tp, type) and issubclass(tp, PurePath):
        if isinstance(value, (str, PurePath)):
            return tp(value)
        raise _mismatch(path, tp, value)
    if tp is type(None):
        if value is None:
            return None
        raise _mismatch(path, tp, value)

    if origin is list or tp is list:
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, tp, value)
        item_tp = args[0] if args else Any
        return [_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]

    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, tp, value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item_tp = args[0] if args else Any
            return tuple(_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(
                f"{path}: expected {_type_name(tp)} of length {len(args)}, "
                f"got {len(value)} items {_short_repr(value)}"
            )
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))

    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _mismatch(path, tp, value)
        key_tp, item_tp = args if args else (str, Any)
        if key_tp not in (str, Any):
            raise TypeError(f"{path}: only dict[str, X] is supported in configs, not {tp!r}")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{path}: dict keys must be str, got {type(key).__name__} {_short_repr(key)}"
                )
            out[key] = _convert(item_tp, item, _join(path, key))
        return out

    if origin is None and isinstance(tp, type):  # any other plain class: accept instances
        if isinstance(value, tp):
            return value
        raise _mismatch(path, tp, value)
    raise TypeError(f"{path}: unsupported type hint {tp!r} in a config")


def _build(cls: type[T], data: Mapping[str, Any], path: str) -> T:
    """Construct dataclass ``cls`` from ``data``; ``path`` is its dotted location."""
    try:
        hints = typing.get_type_hints(cls)
    except NameError as err:
        raise TypeError(f"cannot resolve the type hints of {cls.__name__}: {err}") from err
    fields = _init_fields(cls)
    known = {f.name for f in fields}
    skipped = {f.name for f in dataclasses.fields(cls) if not f.init}
    unknown = [k for k in data if k not in known and k not in skipped]
    if unknown:
        keys = ", ".join(repr(_join(path, str(k))) for k in unknown)
        names = ", ".join(f.name for f in fields)
        noun = "key" if len(unknown) == 1 else "keys"
        raise ConfigError(f"unknown {noun} {keys}; known fields of {cls.__name__}: {names}")

    kwargs: dict[str, Any] = {}
    for f in fields:
        where = _join(path, f.name)
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required field (no default in {cls.__name__})")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"{_where(path, cls.__name__)}: invalid {cls.__name__}: {err}") from err


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build dataclass ``cls`` from a plain dict, checking every value against its type hint."""
    if not _is_dataclass_type(cls):
        raise TypeError(f"from_dict expects a dataclass type, got {cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{cls.__name__}: expected a mapping, got {type(data).__name__} {_short_repr(data)}"
        )
    return _build(cls, data, "")


# --- files --------------------------------------------------------------------------------


def save_config(cfg: Any, path: str | os.PathLike) -> Path:
    """Write ``to_dict(cfg)`` to ``path`` as indented JSON, atomically; return the path."""
    return write_json_atomic(path, to_dict(cfg))


def load_config(cls: type[T], path: str | os.PathLike) -> T:
    """Read a JSON config file written by ``save_config`` back into dataclass ``cls``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path}: not UTF-8 text ({err})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"config file {path}: invalid JSON at line {err.lineno} column {err.colno} "
            f"(char {err.pos}): {err.msg}"
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a JSON object, got {type(data).__name__}")
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from err


# --- comparing ----------------------------------------------------------------------------


def _diff(a: Any, b: Any, path: str, out: dict[str, tuple[Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            _diff(a[key], b[key], _join(path, key), out)
    elif a != b or isinstance(a, bool) != isinstance(b, bool):
        out[path] = (a, b)


def dict_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted path -> (a value, b value) for every leaf where two plain config dicts differ.

    Where nested dicts hold different keys the whole dict is reported at its path.
    """
    out: dict[str, tuple[Any, Any]] = {}
    _diff(dict(a), dict(b), "", out)
    return out


def config_diff(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """Dotted path -> (value in ``a``, value in ``b``) for every leaf where two configs differ."""
    if not _is_dataclass_instance(a) or not _is_dataclass_instance(b):
        raise TypeError("config_diff expects two dataclass instances")
    if type(a) is not type(b):
        raise TypeError(
            f"config_diff needs configs of one class, got {type(a).__name__} and {type(b).__name__}"
        )
    return dict_diff(to_dict(a), to_dict(b))


__all__ = [
    "ConfigError",
    "config_diff",
    "dict_diff",
    "from_dict",
    "load_config",
    "save_config",
    "to_dict",
]
