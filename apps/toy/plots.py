"""Figures of the toy app: sample scatter grids, error vs NFE, training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from scorelab.io import pyplot as _plt
from scorelab.io import save_figure_atomic


def scatter_grid(
    path: Path, rows: Mapping[str, Mapping[str, Tensor]] | Mapping[str, Tensor], lim: float = 3.5
) -> Path:
    """Scatter plots: one row per entry of ``rows``, one panel per (title -> points)."""
    plt = _plt()
    if rows and isinstance(next(iter(rows.values())), Tensor):
        rows = {"": rows}
    ncol = max(len(r) for r in rows.values())
    fig, axes = plt.subplots(len(rows), ncol, figsize=(2.1 * ncol, 2.1 * len(rows)), squeeze=False)
    for i, (rname, panels) in enumerate(rows.items()):
        for j, ax in enumerate(axes[i]):
            ax.set(xticks=[], yticks=[], xlim=(-lim, lim), ylim=(-lim, lim))
            if j >= len(panels):
                ax.axis("off")
                continue
            title, x = list(panels.items())[j]
            x = x[:2000].detach().cpu()
            ax.scatter(x[:, 0], x[:, 1], s=0.6, alpha=0.5, rasterized=True)
            if i == 0 or title == "data":
                ax.set_title(title, fontsize=8)
            if j == 0 and rname:
                ax.set_ylabel(rname, fontsize=9)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
    return path


def error_vs_nfe(
    path: Path,
    panels: Mapping[str, Sequence[dict]],
    floors: Mapping[str, float],
    exact: Mapping[str, Sequence[dict]] | None = None,
) -> Path:
    """Sliced W2 against NFE per sampler, one panel per target; dashed: exact score."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.0), squeeze=False)
    for ax, (target, rows) in zip(axes[0], panels.items()):
        samplers = sorted({r["sampler"] for r in rows})
        for k, s in enumerate(samplers):
            r = sorted((x for x in rows if x["sampler"] == s), key=lambda x: x["nfe"])
            color = f"C{k}"
            ax.loglog([x["nfe"] for x in r], [x["sliced_w2"] for x in r], "o-", c=color, label=s)
            if exact and target in exact:
                e = sorted((x for x in exact[target] if x["sampler"] == s), key=lambda x: x["nfe"])
                ax.loglog([x["nfe"] for x in e], [x["sliced_w2"] for x in e], "--", c=color)
        ax.axhline(floors[target], c="k", lw=1, alpha=0.5, label="target vs target")
        ax.set(title=target, xlabel="NFE")
    axes[0][0].set_ylabel("sliced W2 to held-out data")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
    return path


def training_curves(path: Path, curves: Mapping[str, Sequence[tuple[int, float]]]) -> Path:
    """Training loss against step, one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for name, pts in curves.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
    ax.set(xlabel="step", ylabel="training loss (mean over log interval)", yscale="log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
    return path
