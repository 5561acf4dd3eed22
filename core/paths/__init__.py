"""Processes / paths: what noising means. Every one is a ``GaussianPath``."""

from __future__ import annotations

from ..registry import Registry
from .base import GaussianPath
from .interpolant import Interpolant
from .mean_reverting import MeanReverting
from .ve import EDM, VE
from .vp import VP, SubVP

PATHS: Registry[type] = Registry("path")
PATHS.register("vp")(VP)
PATHS.register("subvp")(SubVP)
PATHS.register("ve")(VE)
PATHS.register("edm")(EDM)
PATHS.register("mean_reverting")(MeanReverting)
PATHS.register("linear")(lambda **kw: Interpolant("linear", **kw))
PATHS.register("trig")(lambda **kw: Interpolant("trig", **kw))


def get_path(name: str, **kwargs) -> GaussianPath:
    """Build a path by name (vp, subvp, ve, edm, mean_reverting, linear, trig) with kwargs."""
    return PATHS.get(name)(**kwargs)


__all__ = [
    "EDM",
    "VE",
    "VP",
    "GaussianPath",
    "Interpolant",
    "MeanReverting",
    "SubVP",
    "get_path",
    "PATHS",
]
