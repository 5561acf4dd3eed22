"""The ``scorelab`` command: train, sample, evaluate, bench and demo, for any registered app.

    scorelab train toy --data.target moons --train.steps 3000
    scorelab train toy --config runs/toy/config.json --train.steps 6000   # a saved config
    scorelab sample toy --checkpoint runs/toy --n 5000 --sampler dpmpp_2m --steps 20
    scorelab evaluate toy --checkpoint runs/toy
    scorelab data policies --env pointmaze_medium --out data/play.npz   # an app's dataset tool
    scorelab bench core training --quick
    scorelab demo --out runs/demo

Every option of an app's config dataclass is a flag (parsed by ``tyro``); ``--help`` after
any command lists them with their defaults and docs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .app import App, app_names, load_app

COMMANDS = ("train", "sample", "evaluate", "data", "bench", "demo", "apps")
CORE_BENCHMARKS = ("samplers", "training", "methods")


def _usage() -> str:
    apps = ", ".join(app_names()) or "(none registered)"
    return (
        "usage: scorelab {train,sample,evaluate,data} APP [options]\n"
        "       scorelab bench {core,APP} [BENCHMARK] [options]\n"
        "       scorelab demo [--out DIR] [--quick]\n"
        "       scorelab apps\n\n"
        f"apps: {apps}\n"
        "Run `scorelab COMMAND APP --help` for the options of one app."
    )


def _pop_config(args: list[str]) -> tuple[Path | None, list[str]]:
    """Take ``--config PATH`` (a saved config.json to start from) out of ``args``."""
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            return Path(args[i + 1]), args[:i] + args[i + 2 :]
        if a.startswith("--config="):
            return Path(a.split("=", 1)[1]), args[:i] + args[i + 1 :]
    return None, args


def _preset_name(app: App, args: list[str]) -> str | None:
    """The value of ``--<preset_option>`` in ``args`` (the flag itself stays for tyro)."""
    flag = f"--{app.preset_option}"
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def parse_config(app: App, args: Sequence[str], command: str = "train") -> Any:
    """The app's config from its defaults (``--config FILE``, or the preset that
    ``--<preset_option> NAME`` picks) plus command-line overrides."""
    import tyro

    from .config import load_config

    path, rest = _pop_config(list(args))
    default = load_config(app.config, path) if path is not None else None
    name = _preset_name(app, rest) if app.preset is not None else None
    if default is None and name is not None:
        default = app.preset(name)
    return tyro.cli(
        app.config,
        args=rest,
        default=default,
        prog=f"scorelab {command} {app.name}",
        use_underscores=True,
        # every field takes a value, booleans too (--train.bf16 True), as in config.json
        config=(tyro.conf.FlagConversionOff,),
        description=f"{app.summary}\n\nStart from a saved config with --config PATH.",
    )


def _options(cls: type, app: App, command: str, args: Sequence[str]) -> Any:
    import tyro

    prog = f"scorelab {command} {app.name}"
    return tyro.cli(
        cls, args=list(args), prog=prog, use_underscores=True, config=(tyro.conf.FlagConversionOff,)
    )


def _bench(target: str, args: list[str]) -> int:
    if target == "core":
        names = {n: f"scorelab.benchmarks.core.{n}" for n in CORE_BENCHMARKS}
    else:
        names = {m.rsplit(".", 1)[-1]: m for m in load_app(target).benchmarks}
    if not names:
        print(f"app {target!r} has no benchmarks", file=sys.stderr)
        return 2
    chosen = list(names)
    if args and not args[0].startswith("-"):
        if args[0] not in names:
            raise KeyError(f"unknown benchmark {args[0]!r} for {target}; known: {list(names)}")
        chosen, args = [args[0]], args[1:]
    for name in chosen:
        print(f"== scorelab bench {target} {name}", file=sys.stderr)
        importlib.import_module(names[name]).main(args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scorelab`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    try:
        if command not in COMMANDS:
            raise KeyError(f"unknown command {command!r}; commands: {', '.join(COMMANDS)}")
        if command == "apps":
            for name in app_names():
                print(f"{name:12s} {load_app(name).summary}")
            return 0
        if command == "demo":
            from .demo import main as demo_main

            demo_main(rest)
            return 0
        if not rest or rest[0].startswith("-"):
            print(_usage(), file=sys.stderr)
            return 2
        target, rest = rest[0], rest[1:]
        if command == "bench":
            return _bench(target, rest)
        app = load_app(target)
        if command == "train":
            result = app.train(parse_config(app, rest))
            print(f"trained to step {result.step}; checkpoint: {result.checkpoint}")
        elif command == "sample":
            if app.sample is None:
                raise KeyError(f"app {app.name!r} does not sample")
            out = app.sample(_options(app.sample_options, app, command, rest))
            print(f"samples written to {out}")
        elif command == "data":
            if app.data is None or app.data_options is None:
                raise KeyError(f"app {app.name!r} has no data command")
            out = app.data(_options(app.data_options, app, command, rest))
            print(f"dataset written to {out}")
        else:
            if app.evaluate is None:
                raise KeyError(f"app {app.name!r} has no evaluation")
            metrics = app.evaluate(_options(app.evaluate_options, app, command, rest))
            for k, v in metrics.items():
                print(f"{k:32s} {v}")
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"scorelab {command}: error: {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
