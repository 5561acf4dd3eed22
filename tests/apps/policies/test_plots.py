"""The figures are written atomically as valid PNGs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("gymnasium_robotics")

from scorelab.apps.policies.maze import Maze  # noqa: E402
from scorelab.apps.policies.plots import (  # noqa: E402
    plot_fetch_paths,
    plot_maze_panels,
    plot_maze_paths,
    plot_paths,
)
from scorelab.apps.policies.rollout import RolloutResult  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG


def _paths(maze, cells, n, rng):
    centres = np.array([maze.cell_center(c) for c in cells])
    line = np.concatenate([np.linspace(p, q, 10) for p, q in zip(centres[:-1], centres[1:])])
    return [line + 0.1 * rng.standard_normal(line.shape) for _ in range(n)]


def test_maze_figures(tmp_path):
    maze, rng = Maze.named("medium"), np.random.default_rng(0)
    a = _paths(maze, [(1, 1), (1, 2), (2, 2), (3, 2)], 3, rng)
    b = _paths(maze, [(1, 1), (2, 1), (2, 2), (3, 2)], 2, rng)
    goal = maze.cell_center((3, 2))[None]
    labelled = {"beso": a, "expert": b}
    one = plot_maze_paths(tmp_path / "one.png", maze, labelled, goals=goal, title="medium")
    panels = plot_maze_panels(
        tmp_path / "sub" / "panels.png",
        maze,
        {"beso": {"paths": a, "goals": goal}, "gcbc": {"paths": {"ok": b, "fail": a[:1]}}},
        title="routes",
    )
    assert _is_png(one) and _is_png(panels)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["one.png", "panels.png", "sub"]


def test_fetch_figure(tmp_path):
    rng = np.random.default_rng(1)
    paths = [np.array([1.3, 0.75, 0.42]) + np.cumsum(0.01 * rng.standard_normal((30, 3)), 0)]
    out = plot_fetch_paths(
        tmp_path / "fetch.png",
        {
            "beso": {"paths": paths, "goals": np.array([[1.35, 0.8, 0.42]])},
            "gcbc": {"paths": paths},
        },
    )
    assert _is_png(out)


def _result(paths, success, goals):
    steps = np.array([len(p) - 1 for p in paths])
    return RolloutResult(np.array(success), steps, np.zeros(len(paths)), paths, goals, 0.0, 0, 0)


def test_plot_paths_of_rollout_results(tmp_path):
    maze, rng = Maze.named("medium"), np.random.default_rng(2)
    paths = _paths(maze, [(6, 1), (6, 2), (6, 3)], 4, rng)
    goals = np.repeat(maze.cell_center((6, 3))[None], 4, 0)
    res = {"beso": _result(paths, [True, True, False, True], goals)}
    out = plot_paths(tmp_path / "maze.png", "pointmaze_medium", {**res, "all": res["beso"]})
    assert _is_png(out)
    fetch = [np.array([1.3, 0.75, 0.42]) + np.cumsum(0.01 * rng.standard_normal((20, 3)), 0)]
    out = plot_paths(tmp_path / "fetch.png", "fetch_push", {"gcbc": _result(fetch, [False], None)})
    assert _is_png(out)
