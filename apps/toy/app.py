"""The toy app as the ``scorelab`` CLI sees it (entry point ``scorelab.apps.toy.app:APP``)."""

from __future__ import annotations

from pathlib import Path

from scorelab.app import App, DemoSection

from .config import ToyConfig


def _train(cfg: ToyConfig):
    from .api import train

    return train(cfg)


def _sample(opts):
    from .api import sample

    return sample(opts)


def _evaluate(opts):
    from .api import evaluate

    return evaluate(opts)


def _demo(out: Path, quick: bool) -> DemoSection:
    from .demo import demo

    return demo(out, quick)


APP = App(
    name="toy",
    summary="score models on 2-D/low-dimensional targets (GMM, moons, checkerboard, swiss roll)",
    config=ToyConfig,
    train=_train,
    sample=_sample,
    evaluate=_evaluate,
    demo=_demo,
)
