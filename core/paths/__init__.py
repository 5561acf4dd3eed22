"""Processes / paths: what noising means. Every one is a ``GaussianPath``."""

from __future__ import annotations

from ..registry import Registry
from .base import GaussianPath
from .interpolant import Interpolant
from .ve import EDM, VE
from .vp import VP, SubVP

PATHS: Registry[type] = Registry("path")
PATHS.register("vp")(VP)
PATHS.register("subvp")(SubVP)
PATHS.register("ve")(VE)
PATHS.register("edm")(EDM)
PATHS.register("linear")(lambda **kw: Interpolant("linear", **kw))
PATHS.register("trig")(lambda **kw: Interpolant("trig", **kw))


def get_path(name: str, **kwargs) -> GaussianPath:
    """Build a path by name: vp, subvp, ve, edm, linear, trig (kwargs go to its constructor)."""
    return PATHS.get(name)(**kwargs)


__all__ = ["EDM", "VE", "VP", "GaussianPath", "Interpolant", "SubVP", "get_path", "PATHS"]
