"""Figures of the policies app: trajectories in a PointMaze, object paths on the Fetch table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.io import pyplot, save_figure_atomic

# Fetch: the table top around the object's and goal's sampling region (metres, world frame)
_FETCH_TABLE = (1.05, 0.40, 0.50, 0.70)  # x0, y0, width, height


def _plt() -> Any:
    return pyplot("policies")


def _grid(maze: Any) -> tuple[set, int, int, float]:
    """Free cells, rows, columns (outer walls included) and cell size of a ``Maze``."""
    free = {tuple(map(int, c)) for c in maze.free_cells}
    rows = max(r for r, _ in free) + 2
    cols = max(c for _, c in free) + 2
    size = float(np.linalg.norm(maze.cell_center((1, 2)) - maze.cell_center((1, 1))))
    return free, rows, cols, size


def _draw_maze(ax: Any, maze: Any) -> None:
    from matplotlib.patches import Rectangle

    free, rows, cols, size = _grid(maze)
    for r in range(rows):
        for c in range(cols):
            if (r, c) not in free:
                x, y = maze.cell_center((r, c))
                ax.add_patch(Rectangle((x - size / 2, y - size / 2), size, size, color="0.6", lw=0))
    x0, y0 = maze.cell_center((rows - 1, 0)) - size / 2
    x1, y1 = maze.cell_center((0, cols - 1)) + size / 2
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xticks=[], yticks=[], aspect="equal")


def _as_labelled(paths: Mapping[str, Sequence] | Sequence) -> Mapping[str, Sequence]:
    return paths if isinstance(paths, Mapping) else {"": paths}


def _draw_paths(ax: Any, paths: Mapping[str, Sequence], goals: Any, alpha: float) -> None:
    for k, (label, group) in enumerate(paths.items()):
        color = f"C{k}"
        for m, p in enumerate(group):
            p = np.asarray(p)
            name = label if m == 0 and label else None
            ax.plot(p[:, 0], p[:, 1], c=color, lw=0.8, alpha=alpha, label=name)
            ax.plot(p[0, 0], p[0, 1], "o", c=color, ms=3)
    if goals is not None and len(goals):
        g = np.asarray(goals).reshape(-1, np.asarray(goals).shape[-1])
        ax.plot(g[:, 0], g[:, 1], "*", c="k", ms=9, mfc="gold", ls="none")
    if any(paths.keys()):
        ax.legend(fontsize=6, loc="upper right")


def plot_maze_panels(
    path_png: str | Path,
    maze: Any,
    panels: Mapping[str, Mapping[str, Any]],
    title: str | None = None,
    alpha: float = 0.35,
) -> Path:
    """Side-by-side maze panels; each has "paths" (a list of (T, 2) arrays, or label -> list)
    and optional "goals" ((n, 2), drawn as stars). Walls are grey; dots mark starts."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), squeeze=False)
    for ax, (name, panel) in zip(axes[0], panels.items()):
        _draw_maze(ax, maze)
        _draw_paths(ax, _as_labelled(panel["paths"]), panel.get("goals"), alpha)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path_png)
    plt.close(fig)
    return Path(path_png)


def plot_maze_paths(
    path_png: str | Path,
    maze: Any,
    paths_by_label: Mapping[str, Sequence[np.ndarray]],
    goals: Any = None,
    title: str | None = None,
) -> Path:
    """One maze panel with each label's trajectories in one colour."""
    panel = {"paths": paths_by_label, "goals": goals}
    return plot_maze_panels(path_png, maze, {title or "": panel})


def plot_fetch_paths(path_png: str | Path, panels: Mapping[str, Mapping[str, Any]]) -> Path:
    """Object xy paths over the Fetch table, one panel each: "paths" (list of (T, >=2) or
    label -> list), optional "goals" ((n, >=2), stars)."""
    from matplotlib.patches import Rectangle

    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
    x0, y0, w, h = _FETCH_TABLE
    for ax, (name, panel) in zip(axes[0], panels.items()):
        ax.add_patch(Rectangle((x0, y0), w, h, color="0.9", lw=0))
        _draw_paths(ax, _as_labelled(panel["paths"]), panel.get("goals"), alpha=0.6)
        ax.set(xlim=(x0, x0 + w), ylim=(y0, y0 + h), aspect="equal")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("x (m)", fontsize=8)
        ax.set_ylabel("y (m)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, path_png)
    plt.close(fig)
    return Path(path_png)


def plot_paths(
    path_png: str | Path, env_name: str, results: Mapping[str, Any], max_paths: int = 60
) -> Path:
    """One panel per label of rollout results (``RolloutResult``s): the first ``max_paths``
    achieved-goal paths, split into reached and missed, with their goals; the env's layout."""
    from .envs import env_info

    panels = {}
    for label, res in results.items():
        ok = np.asarray(res.success, dtype=bool)[:max_paths]
        paths = res.paths[:max_paths]
        goals = np.zeros((0, 0)) if res.goals is None else np.asarray(res.goals)[:max_paths]
        panels[f"{label} ({ok.mean():.0%} of {len(ok)})" if len(ok) else label] = {
            "paths": {
                "reached": [p for p, k in zip(paths, ok) if k],
                "missed": [p for p, k in zip(paths, ok) if not k],
            },
            "goals": goals if goals.ndim == 2 and goals.shape[1] >= 2 else None,  # expert: none
        }
    maze_name = env_info(env_name).maze
    if maze_name is None:
        return plot_fetch_paths(path_png, panels)
    from .maze import Maze

    return plot_maze_panels(path_png, Maze.named(maze_name), panels)


__all__ = ["plot_fetch_paths", "plot_maze_panels", "plot_maze_paths", "plot_paths"]
