"""Time and property conditioning: Gaussian grid, null embeddings, the five combinations."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab.apps.molecules.conditioning import (
    PROPERTY_COMBINATIONS,
    PropertyCombination,
    PropertyConditioner,
    PropertyEmbedding,
    TimeEmbedding,
    gaussian_grid,
)

NAN = float("nan")


def test_time_embeddings():
    t = torch.tensor([0.0, 0.25, 1.0])
    torch.testing.assert_close(TimeEmbedding()(t), t[:, None])
    sin = TimeEmbedding("sinusoidal", dim=8)
    e = sin(t)
    assert e.shape == (3, 8) and sin.out_dim == 8
    torch.testing.assert_close(e[:, :4].square() + e[:, 4:].square(), torch.ones(3, 4))
    torch.testing.assert_close(e[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    with pytest.raises(ValueError, match="scalar, sinusoidal"):
        TimeEmbedding("fourier")


def test_gaussian_expansion_grid_and_width():
    emb = PropertyEmbedding(8, gaussian_expansion=True, n_gaussians=9)
    torch.testing.assert_close(emb.centres, torch.arange(-4.0, 5.0))
    assert emb.width == 1.0  # the grid spacing
    phi = gaussian_grid(torch.tensor([0.0, 1.5]), emb.centres, emb.width)
    assert phi.shape == (2, 9)
    torch.testing.assert_close(phi[0, 4], torch.tensor(1.0))  # its own centre
    torch.testing.assert_close(phi[0, 5], torch.tensor(math.exp(-0.5)))  # one spacing away
    torch.testing.assert_close(phi[1, 5], torch.tensor(math.exp(-0.125)))


@pytest.mark.parametrize("gaussian", [False, True])
def test_property_embedding_nan_takes_the_null_vector(gaussian):
    torch.manual_seed(0)
    emb = PropertyEmbedding(6, gaussian_expansion=gaussian, n_gaussians=16)
    e = emb(torch.tensor([0.5, NAN, -1.0, NAN]))
    torch.testing.assert_close(e[1], emb.null.detach())
    torch.testing.assert_close(e[3], emb.null.detach())
    assert not torch.allclose(e[0], e[2]) and not torch.allclose(e[0], e[1])
    if not gaussian:  # the linear embedding is an affine map of the value
        torch.testing.assert_close(e[0] - e[2], emb.embed.weight[:, 0] * 1.5)
    e.sum().backward()  # NaN values must not poison the gradient
    assert all(torch.isfinite(p.grad).all() for p in emb.parameters())


@pytest.mark.parametrize("method", PROPERTY_COMBINATIONS)
def test_each_combination_computes_its_formula(method):
    torch.manual_seed(0)
    comb = PropertyCombination(method, 5, 3)
    h, e = torch.randn(2, 4, 5), torch.randn(2, 3)
    eb = e[:, None].expand(-1, 4, -1)
    out = comb(h, e)
    assert out.shape == h.shape
    p = None if method == "concatenate" else comb.project(eb)
    if method == "concatenate":
        want = comb.out(torch.cat([h, eb], -1))
    elif method == "sum":
        want = h + p
    elif method == "multiply":
        want = h * p
    elif method == "concatenate_sum":
        want = comb.out(torch.cat([h, h + p], -1))
    else:
        want = comb.out(torch.cat([h, h * p], -1))
    torch.testing.assert_close(out, want)
    # the embedding is broadcast over nodes: same node features -> same outputs per molecule
    same = comb(h[:, :1].expand(-1, 4, -1), e)
    torch.testing.assert_close(same, same[:, :1].expand(-1, 4, -1))


def test_unknown_combination_lists_the_known_ones():
    with pytest.raises(ValueError, match=", ".join(PROPERTY_COMBINATIONS)):
        PropertyCombination("product", 4, 4)


def test_conditioner_sums_properties_and_uses_nulls_for_missing_ones():
    torch.manual_seed(0)
    cond = PropertyConditioner(("gap", "mu"), 5, embed_dim=4, combination="sum")
    gap, mu = torch.tensor([0.3, -0.7]), torch.tensor([1.0, NAN])
    e = cond.embed({"gap": gap, "mu": mu}, 2)
    torch.testing.assert_close(e, cond.embeddings["gap"](gap) + cond.embeddings["mu"](mu))
    null = cond.embeddings["gap"].null + cond.embeddings["mu"].null
    torch.testing.assert_close(cond.embed(None, 2), null.expand(2, -1))
    torch.testing.assert_close(cond.embed({}, 2), null.expand(2, -1))
    nan = torch.full((2,), NAN)
    torch.testing.assert_close(cond.embed({"gap": nan, "mu": nan}, 2), null.expand(2, -1))
    # a left-out property is unconditional for every sample
    torch.testing.assert_close(
        cond.embed({"gap": gap}, 2), cond.embeddings["gap"](gap) + cond.embeddings["mu"].null
    )


def test_conditioner_rejects_unknown_names_and_bad_shapes():
    cond = PropertyConditioner(("gap",), 5)
    h = torch.randn(2, 3, 5)
    with pytest.raises(ValueError, match="'alpha'.*conditions on: gap"):
        cond(h, {"alpha": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"'gap' must have shape \(2,\)"):
        cond(h, {"gap": torch.zeros(3)})
    with pytest.raises(ValueError, match="distinct"):
        PropertyConditioner(("gap", "gap"), 5)
