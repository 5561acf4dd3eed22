"""The policies app as the ``scorelab`` CLI sees it (entry point ``...policies.app:APP``)."""

from __future__ import annotations

from pathlib import Path

from scorelab.app import App, DemoSection

from .config import PlayDataOptions, PoliciesConfig, PolicyEvalOptions


def _train(cfg: PoliciesConfig):
    from .api import train

    return train(cfg)


def _evaluate(opts: PolicyEvalOptions):
    from .api import evaluate

    return evaluate(opts)


def _data(opts: PlayDataOptions) -> Path:
    from .api import make_dataset

    return make_dataset(opts)


def _demo(out: Path, quick: bool) -> DemoSection:
    from .demo import demo

    return demo(out, quick)


APP = App(
    name="policies",
    summary="goal-conditioned score-based diffusion policies (BESO) on PointMaze and FetchPush",
    config=PoliciesConfig,
    train=_train,
    evaluate=_evaluate,
    evaluate_options=PolicyEvalOptions,
    benchmarks=("scorelab.benchmarks.policies.run",),
    demo=_demo,
    data=_data,
    data_options=PlayDataOptions,
)
