"""Grid geometry of a PointMaze: cells, breadth-first distances, shortest paths and routes.

Pure numpy. A maze map is a list of rows; ``1`` is a wall, anything else (``0`` or the
letters ``"g"``, ``"r"``, ``"c"`` some gymnasium-robotics maps carry) is a free cell. Cell
``(r, c)`` has its centre at ``x = (c + 0.5) s - x0``, ``y = y0 - (r + 0.5) s`` with ``s`` the
scaling and ``(x0, y0)`` half the map's width and height, as in gymnasium-robotics.
"""

from __future__ import annotations

from collections import deque

import numpy as np

Cell = tuple[int, int]

_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


class Maze:
    """A grid maze: free cells, their centres in world coordinates, and paths between them."""

    def __init__(self, maze_map: list[list], scaling: float = 1.0) -> None:
        if not maze_map or not all(len(row) == len(maze_map[0]) for row in maze_map):
            raise ValueError("maze_map must be a non-empty list of rows of equal length")
        if scaling <= 0:
            raise ValueError(f"maze scaling must be positive, got {scaling}")
        self.free = np.array([[v != 1 for v in row] for row in maze_map], dtype=bool)
        self.rows, self.cols = self.free.shape
        self.scaling = float(scaling)
        self.x_center = self.cols * self.scaling / 2
        self.y_center = self.rows * self.scaling / 2
        self.free_cells: list[Cell] = [(int(r), int(c)) for r, c in np.argwhere(self.free)]
        if not self.free_cells:
            raise ValueError("maze_map has no free cell")
        self._bfs_cache: dict[Cell, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def named(cls, name: str) -> Maze:
        """The gymnasium-robotics PointMaze map ``"medium"`` or ``"large"`` (scaling 1)."""
        try:
            from gymnasium_robotics.envs.maze import maps
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError(
                "the policies app needs gymnasium-robotics: pip install 'scorelab[policies]'"
            ) from e
        known = {"medium": maps.MEDIUM_MAZE, "large": maps.LARGE_MAZE}
        if name not in known:
            raise KeyError(f"unknown maze {name!r}; known: {', '.join(known)}")
        return cls(known[name], 1.0)

    # --- geometry ------------------------------------------------------------------------

    def is_free(self, cell: Cell) -> bool:
        """Whether ``cell`` lies inside the map and is not a wall."""
        r, c = cell
        return 0 <= r < self.rows and 0 <= c < self.cols and bool(self.free[r, c])

    def _check(self, cell) -> Cell:
        cell = (int(cell[0]), int(cell[1]))
        if not self.is_free(cell):
            raise ValueError(f"cell {cell} is a wall or outside the {self.rows}x{self.cols} maze")
        return cell

    def cell_center(self, cell) -> np.ndarray:
        """(2,) float64 world xy of the centre of ``cell`` = (row, col)."""
        r, c = int(cell[0]), int(cell[1])
        return np.array(
            [(c + 0.5) * self.scaling - self.x_center, self.y_center - (r + 0.5) * self.scaling]
        )

    def cell_of(self, xy) -> Cell:
        """The free cell containing ``xy``, or the free cell whose centre is nearest to it."""
        x, y = float(xy[0]), float(xy[1])
        cell = (
            int(np.floor((self.y_center - y) / self.scaling)),
            int(np.floor((x + self.x_center) / self.scaling)),
        )
        if self.is_free(cell):
            return cell
        centres = np.array([self.cell_center(c) for c in self.free_cells])
        return self.free_cells[int(np.argmin(((centres - [x, y]) ** 2).sum(1)))]

    def neighbours(self, cell: Cell) -> list[Cell]:
        """The free cells sharing a side with ``cell``."""
        r, c = cell
        return [(r + dr, c + dc) for dr, dc in _MOVES if self.is_free((r + dr, c + dc))]

    # --- shortest paths --------------------------------------------------------------------

    def _bfs(self, source: Cell) -> tuple[np.ndarray, np.ndarray]:
        """Distances (-1 = unreachable) and shortest-path counts from ``source`` to every cell."""
        if source not in self._bfs_cache:
            dist = np.full(self.free.shape, -1, dtype=np.int64)
            count = np.zeros(self.free.shape, dtype=np.float64)  # float: counts can be large
            dist[source] = 0
            count[source] = 1.0
            queue = deque([source])
            while queue:
                u = queue.popleft()
                for v in self.neighbours(u):
                    if dist[v] < 0:
                        dist[v] = dist[u] + 1
                        queue.append(v)
                    if dist[v] == dist[u] + 1:
                        count[v] += count[u]
            self._bfs_cache[source] = (dist, count)
        return self._bfs_cache[source]

    def distance(self, a, b) -> int:
        """Breadth-first number of cell moves from ``a`` to ``b`` (-1 if unreachable)."""
        a, b = self._check(a), self._check(b)
        return int(self._bfs(a)[0][b])

    def shortest_paths_count(self, a, b) -> int:
        """How many distinct shortest cell paths lead from ``a`` to ``b``."""
        a, b = self._check(a), self._check(b)
        return int(round(self._bfs(a)[1][b]))

    def random_shortest_path(self, a, b, rng: np.random.Generator) -> list[Cell]:
        """A shortest path ``[a, ..., b]`` drawn uniformly among all shortest paths."""
        a, b = self._check(a), self._check(b)
        dist, count = self._bfs(a)
        if dist[b] < 0:
            raise ValueError(f"cell {b} cannot be reached from {a}")
        # walk back from b: choosing the predecessor u with probability count[u] / count[v]
        # makes every complete path equally likely
        path = [b]
        while path[-1] != a:
            v = path[-1]
            preds = [u for u in self.neighbours(v) if dist[u] == dist[v] - 1]
            weights = np.array([count[u] for u in preds])
            path.append(preds[int(rng.choice(len(preds), p=weights / weights.sum()))])
        return path[::-1]

    # --- trajectories ----------------------------------------------------------------------

    def route(self, xy: np.ndarray) -> tuple[Cell, ...]:
        """(T, 2) trajectory -> the loop-erased sequence of cells it visited."""
        xy = np.asarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] < 2:
            raise ValueError(f"route needs a (T, 2) trajectory, got shape {xy.shape}")
        out: list[Cell] = []
        index: dict[Cell, int] = {}  # position of each cell on the current loop-free route
        for point in xy:
            cell = self.cell_of(point)
            if cell in index:  # came back: erase the loop
                del out[index[cell] + 1 :]
                index = {c: i for i, c in enumerate(out)}
            else:
                index[cell] = len(out)
                out.append(cell)
        return tuple(out)


__all__ = ["Cell", "Maze"]
