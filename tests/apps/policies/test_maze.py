"""Maze geometry, breadth-first distances, uniform shortest paths and loop-erased routes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from scorelab.apps.policies.maze import Maze

# a 3 x 3 room (rows 1-3, cols 1-3) with a corridor leaving it to the right from row 1
ROOM = [
    [1, 1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0, 1],
    [1, 0, 0, 0, 1, 1],
    [1, 0, 0, "g", 1, 1],
    [1, 1, 1, 1, 1, 1],
]


@pytest.fixture
def room() -> Maze:
    return Maze(ROOM)


def test_free_cells_and_letters_count_as_free(room):
    assert len(room.free_cells) == 10
    assert (3, 3) in room.free_cells and (1, 4) in room.free_cells
    assert (0, 0) not in room.free_cells and (2, 4) not in room.free_cells


def test_cell_center_follows_gymnasium_robotics_convention():
    m = Maze(ROOM, scaling=2.0)
    # x = (c + 0.5) s - cols s / 2, y = rows s / 2 - (r + 0.5) s
    np.testing.assert_allclose(m.cell_center((1, 2)), [2.5 * 2 - 6.0, 5.0 - 1.5 * 2])
    np.testing.assert_allclose(m.cell_center((3, 1)), [1.5 * 2 - 6.0, 5.0 - 3.5 * 2])


@pytest.mark.parametrize("scaling", [1.0, 0.7])
def test_cell_of_inverts_cell_center_anywhere_inside_the_cell(scaling):
    m = Maze(ROOM, scaling)
    rng = np.random.default_rng(0)
    for cell in m.free_cells:
        centre = m.cell_center(cell)
        assert m.cell_of(centre) == cell
        for offset in rng.uniform(-0.49, 0.49, size=(5, 2)) * scaling:
            assert m.cell_of(centre + offset) == cell


def test_cell_of_a_point_in_a_wall_is_the_nearest_free_cell(room):
    # just inside the wall right of (2, 3): the nearest free centre is (2, 3)
    xy = room.cell_center((2, 3)) + [0.55, 0.0]
    assert room.cell_of(xy) == (2, 3)
    assert room.cell_of([-100.0, -100.0]) in room.free_cells


def test_distance_is_breadth_first(room):
    assert room.distance((1, 1), (1, 1)) == 0
    assert room.distance((1, 1), (3, 3)) == 4
    assert room.distance((3, 1), (1, 4)) == 5
    with pytest.raises(ValueError, match=r"\(0, 0\) is a wall"):
        room.distance((0, 0), (1, 1))


def test_shortest_paths_count(room):
    assert room.shortest_paths_count((1, 1), (3, 3)) == 6  # C(4, 2) lattice paths
    assert room.shortest_paths_count((1, 1), (1, 4)) == 1
    assert room.shortest_paths_count((3, 1), (1, 4)) == 6  # to (1, 3) then one step right
    corridor = Maze([[1, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]])
    assert corridor.shortest_paths_count((1, 1), (1, 2)) == 1


def test_random_shortest_path_is_valid(room):
    rng = np.random.default_rng(1)
    for a in room.free_cells:
        for b in room.free_cells:
            path = room.random_shortest_path(a, b, rng)
            assert path[0] == a and path[-1] == b
            assert len(path) == room.distance(a, b) + 1
            for u, v in zip(path, path[1:]):
                assert abs(u[0] - v[0]) + abs(u[1] - v[1]) == 1 and room.is_free(v)


def test_random_shortest_path_is_uniform(room):
    # a naive walk (uniform choice at each step) would give the two edge-hugging paths
    # probability 1/4 each instead of 1/6
    rng = np.random.default_rng(0)
    n = 6000
    counts = Counter(tuple(room.random_shortest_path((1, 1), (3, 3), rng)) for _ in range(n))
    assert len(counts) == 6
    freqs = np.array(list(counts.values())) / n
    assert np.abs(freqs - 1 / 6).max() < 0.025, freqs


def test_unreachable_cells():
    m = Maze([[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]])
    assert m.distance((1, 1), (1, 3)) == -1
    assert m.shortest_paths_count((1, 1), (1, 3)) == 0
    with pytest.raises(ValueError, match="cannot be reached"):
        m.random_shortest_path((1, 1), (1, 3), np.random.default_rng(0))


def test_route_of_a_straight_walk_lists_the_cells_in_order(room):
    cells = [(1, 1), (1, 2), (1, 3), (1, 4)]
    xy = np.concatenate(
        [np.linspace(room.cell_center(a), room.cell_center(b), 7) for a, b in zip(cells, cells[1:])]
    )
    assert room.route(xy) == tuple(cells)


def test_route_erases_loops(room):
    # (1,1) -> (2,1) -> (2,2) -> (1,2) -> (1,1) -> (1,2) -> (1,3): the loop through the
    # first cell and the back-and-forth are erased
    cells = [(1, 1), (2, 1), (2, 2), (1, 2), (1, 1), (1, 2), (1, 3)]
    xy = np.array([room.cell_center(c) + d for c in cells for d in ([0.1, 0.1], [-0.2, 0.0])])
    assert room.route(xy) == ((1, 1), (1, 2), (1, 3))
    assert room.route(np.array([room.cell_center((2, 2))])) == ((2, 2),)
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        room.route(np.zeros(4))


def test_named_mazes_match_gymnasium_robotics():
    maps = pytest.importorskip("gymnasium_robotics.envs.maze.maps")
    for name, raw in (("medium", maps.MEDIUM_MAZE), ("large", maps.LARGE_MAZE)):
        m = Maze.named(name)
        np.testing.assert_array_equal(m.free, np.array(raw) != 1)
        assert m.x_center == len(raw[0]) / 2 and m.y_center == len(raw) / 2
    with pytest.raises(KeyError, match="medium, large"):
        Maze.named("umaze")


def test_bad_maps():
    with pytest.raises(ValueError, match="equal length"):
        Maze([[1, 0], [1]])
    with pytest.raises(ValueError, match="no free cell"):
        Maze([[1, 1], [1, 1]])
    with pytest.raises(ValueError, match="scaling"):
        Maze(ROOM, 0.0)
