"""Baselines reproduce the statistics they are fitted to."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from scorelab.apps.graphs.baselines import (
    configuration_model,
    density,
    erdos_renyi,
    training_floor,
)


@pytest.fixture(scope="module")
def train() -> list[nx.Graph]:
    return [nx.gnp_random_graph(12 + i % 9, 0.15, seed=i) for i in range(36)]


def test_density_is_pooled_edges_over_pairs():
    g1, g2 = nx.complete_graph(4), nx.empty_graph(3)
    assert density([g1, g2]) == pytest.approx(6 / (6 + 3))
    with pytest.raises(ValueError, match="node pairs"):
        density([nx.empty_graph(1)])


def test_erdos_renyi_matches_sizes_and_density(train):
    gen = erdos_renyi(train, 400, seed=0)
    assert {g.number_of_nodes() for g in gen} <= {g.number_of_nodes() for g in train}
    assert density(gen) == pytest.approx(density(train), abs=0.01)
    assert [g.number_of_edges() for g in erdos_renyi(train, 5, seed=1)] == [
        g.number_of_edges() for g in erdos_renyi(train, 5, seed=1)
    ]


def test_configuration_model_keeps_degree_sequences_up_to_collisions():
    """On large sparse graphs collisions are rare: degrees match the sequence to ~1%."""
    train = [nx.random_regular_graph(3, 200, seed=i) for i in range(3)]
    gen = configuration_model(train, 20, seed=0)
    for g in gen:
        assert nx.number_of_selfloops(g) == 0 and g.number_of_nodes() == 200
        assert max(d for _, d in g.degree()) <= 3
    gen_mean = np.mean([d for g in gen for _, d in g.degree()])
    assert 0.98 * 3 <= gen_mean <= 3.0


def test_training_floor_draws_without_replacement(train):
    got = training_floor(train, 10, seed=0)
    assert len(got) == 10 and len({id(g) for g in got}) == 10
    assert len(training_floor(train[:3], 10)) == 3
