"""Figures of the molecules app: 3-D renderings of molecules (atoms by element, bonds by order)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scorelab.io import pyplot, save_figure_atomic

# CPK-like colours and drawing radii (Å-ish, for the marker size only)
COLORS = {"H": "#d9d9d9", "C": "#404040", "N": "#3050f8", "O": "#ff0d0d", "F": "#90e050"}
SIZES = {"H": 18.0, "C": 46.0, "N": 46.0, "O": 46.0, "F": 40.0}


def render_molecules(
    path: str | Path,
    molecules: Sequence[tuple[list[str], np.ndarray]],
    titles: Sequence[str] | None = None,
    per_row: int = 4,
) -> Path:
    """A grid of 3-D ball-and-stick renderings; EDM-rule bonds, double/triple drawn thicker."""
    from .bonds import bond_orders

    if not molecules:
        raise ValueError("no molecules to render")
    plt = pyplot("molecules")
    ncol = min(per_row, len(molecules))
    nrow = -(-len(molecules) // ncol)
    fig = plt.figure(figsize=(2.6 * ncol, 2.6 * nrow))
    for k, (symbols, pos) in enumerate(molecules):
        ax = fig.add_subplot(nrow, ncol, k + 1, projection="3d")
        pos = np.asarray(pos, dtype=float)
        pos = pos - pos.mean(0) if len(pos) else pos
        orders = bond_orders(list(symbols), pos)
        for i, j in zip(*np.nonzero(np.triu(orders))):
            seg = pos[[i, j]]
            ax.plot(*seg.T, color="#7f7f7f", linewidth=0.8 + 0.9 * (orders[i, j] - 1))
        colors = [COLORS.get(s, "#ff1493") for s in symbols]
        sizes = [SIZES.get(s, 50.0) for s in symbols]
        ax.scatter(*pos.T, c=colors, s=sizes, depthshade=False, edgecolors="k", linewidths=0.3)
        r = max(float(np.abs(pos).max()) if len(pos) else 1.0, 1.0)
        for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setter(-r, r)
        ax.set_box_aspect((1, 1, 1))
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def plot_curve(
    path: str | Path, xs: Sequence[float], series: dict[str, Sequence[float]], xlabel: str
) -> Path:
    """Lines of metrics against one x (e.g. stability vs training minutes or vs NFE)."""
    plt = pyplot("molecules")
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for name, ys in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)
