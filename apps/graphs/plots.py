"""Figures of the graphs app: grids of drawn graphs, grids of 2-D molecule depictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scorelab.io import atomic, pyplot, save_figure_atomic


def draw_graphs(path: str | Path, rows: Mapping[str, Sequence[Any]], per_row: int = 8) -> Path:
    """One row of networkx drawings per entry of ``rows`` (e.g. training graphs vs samples)."""
    import networkx as nx

    plt = pyplot("graphs")
    ncol = max(1, min(per_row, max(len(r) for r in rows.values())))
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.9 * ncol, 2.0 * len(rows)), squeeze=False)
    for r, (title, graphs) in enumerate(rows.items()):
        for c in range(ncol):
            ax = axes[r][c]
            ax.set_axis_off()
            if c >= len(graphs):
                continue
            g = graphs[c]
            pos = nx.spring_layout(g, seed=0) if g.number_of_nodes() else {}
            nx.draw_networkx(
                g, pos, ax=ax, node_size=14, width=0.6, with_labels=False, node_color="#3b6ea5"
            )
            ax.set_title(f"n={g.number_of_nodes()} m={g.number_of_edges()}", fontsize=7)
        axes[r][0].text(
            -0.08,
            0.5,
            title,
            transform=axes[r][0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=9,
        )
    fig.tight_layout()
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def draw_molecules(
    path: str | Path, mols: Sequence[Any], per_row: int = 6, legends: Sequence[str] | None = None
) -> Path:
    """A grid of 2-D depictions of RDKit molecules (None entries are skipped), as a PNG."""
    from rdkit.Chem import Draw

    keep = [(m, legends[i] if legends else "") for i, m in enumerate(mols) if m is not None]
    if not keep:
        raise ValueError("no molecules to draw")
    img = Draw.MolsToGridImage(
        [m for m, _ in keep],
        molsPerRow=per_row,
        subImgSize=(220, 180),
        legends=[lg for _, lg in keep],
    )
    return atomic(path, lambda tmp: img.save(tmp, format="PNG"))
