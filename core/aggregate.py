"""Aggregating per-seed results: the mean and sample standard deviation of each metric."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def summarize(runs: Sequence[Mapping[str, object]]) -> dict[str, dict[str, float]]:
    """Mean and (sample) standard deviation over runs of every numeric metric of the first run.

    Metrics that are None (undefined) in some runs are averaged over the runs that define them;
    a metric undefined everywhere is left out.
    """
    if not runs:
        raise ValueError("summarize needs at least one run")
    out = {}
    for k, v0 in runs[0].items():
        if isinstance(v0, bool) or not isinstance(v0, (int, float, type(None))):
            continue
        v = np.array([r[k] for r in runs if isinstance(r.get(k), (int, float))], dtype=float)
        if not len(v):
            continue
        sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out[k] = {"mean": float(v.mean()), "std": sd if math.isfinite(sd) else 0.0}
    return out


__all__ = ["summarize"]
