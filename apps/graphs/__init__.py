"""Graph generation with a system of SDEs (GDSS): generic graphs and 2-D molecules.

Needs the extra: ``pip install 'scorelab[graphs]'`` (the orbit metric also needs the GPL
``orca`` extra). See docs/graphs.md.
"""

from .api import GraphModel, evaluate, generate, load, sample, score, train
from .config import GraphsConfig, preset
from .split import GraphSplit

__all__ = [
    "GraphModel",
    "GraphSplit",
    "GraphsConfig",
    "evaluate",
    "generate",
    "load",
    "preset",
    "sample",
    "score",
    "train",
]
