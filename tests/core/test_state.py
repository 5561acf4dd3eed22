"""Structured state: ``Spec`` over tensors and dicts of fields, masks, checks and priors."""

from __future__ import annotations

import math

import pytest
import torch

from scorelab import EDM, VE, VP, ZERO_COM, Field, Interpolant, Spec
from scorelab.state import first, tree_map

F64 = torch.float64
N_REAL, N, D = [5, 2, 7], 7, 3


def node_mask(n_real: list[int], n: int) -> torch.Tensor:
    """(B, N) mask with the first n_real[b] nodes real."""
    return (torch.arange(n)[None, :] < torch.tensor(n_real)[:, None]).to(F64)


def molecule(batch: int = 3):
    x = {"pos": torch.randn(batch, N, D, dtype=F64), "h": torch.randn(batch, N, 4, dtype=F64)}
    paths = {"pos": Field(VE(sigma_max=3.0), ZERO_COM), "h": Field(EDM(sigma_max=2.0))}
    mask = node_mask(N_REAL, N)
    return x, paths, {"pos": mask, "h": mask}


# --- construction -----------------------------------------------------------------------


def test_spec_on_a_tensor():
    x = torch.randn(4, 2, 3, dtype=F64)
    spec = Spec(VP(), x)
    assert not spec.structured
    assert list(spec.views) == ["x"]
    assert spec.views["x"].mask is None and isinstance(spec.views["x"].path, VP)
    assert spec.batch_size(x) == 4
    torch.testing.assert_close(spec.dims(x), torch.full((4,), 6.0, dtype=F64))
    assert spec.check(x) is x
    torch.testing.assert_close(spec.map(lambda v, a, b: a + b, x, x), 2 * x)


def test_spec_on_a_dict_with_one_path_for_all_fields():
    x = {"a": torch.randn(2, 3), "b": torch.randn(2, 4, 5)}
    spec = Spec(VP(), x)
    assert spec.structured and set(spec.views) == {"a", "b"}
    assert all(isinstance(v.path, VP) for v in spec.views.values())
    assert spec.views["b"].name == "b"
    torch.testing.assert_close(spec.dims(x), torch.full((2,), 23.0))
    out = spec.map(lambda v, t: t * 0 + len(v.name), x)
    assert set(out) == {"a", "b"} and float(out["b"].max()) == 1.0


def test_spec_on_a_dict_with_per_field_paths_and_masks():
    x, paths, masks = molecule()
    spec = Spec(paths, x, masks)
    assert spec.views["pos"].geometry is ZERO_COM
    assert isinstance(spec.views["h"].path, EDM)
    assert spec.views["pos"].mask.shape == (3, N, 1)  # appended trailing dims
    assert spec.views["pos"].mask.dtype == F64
    n = torch.tensor(N_REAL, dtype=F64)
    torch.testing.assert_close(spec.dims(x), (n - 1) * D + n * 4)
    sq = spec.views["h"].sqnorm(x["h"])
    ref = torch.stack([x["h"][b, :k].pow(2).sum() for b, k in enumerate(N_REAL)])
    torch.testing.assert_close(sq, ref)


def test_bool_mask_is_accepted():
    x = torch.randn(3, N, 2, dtype=F64)
    spec = Spec(VP(), x, node_mask(N_REAL, N).bool())
    assert spec.views["x"].mask.dtype == F64
    torch.testing.assert_close(spec.dims(x), torch.tensor(N_REAL, dtype=F64) * 2)


# --- errors name the field --------------------------------------------------------------


def test_mismatched_field_names_raise():
    x = {"pos": torch.randn(2, 3, 3), "h": torch.randn(2, 3)}
    with pytest.raises(ValueError, match=r"\['h', 'pos'\].*\['charge', 'pos'\]"):
        Spec({"pos": VP(), "charge": VP()}, x)
    with pytest.raises(ValueError, match="unknown fields.*'charge'"):
        Spec(VP(), x, {"charge": torch.ones(2)})


def test_structure_mismatches_raise():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="per-field paths"):
        Spec({"x": VP()}, x)
    with pytest.raises(ValueError, match="per-field masks"):
        Spec(VP(), x, {"x": torch.ones(2)})
    with pytest.raises(ValueError, match="dict of per-field masks"):
        Spec(VP(), {"x": x}, torch.ones(2))
    with pytest.raises(TypeError, match="'x'"):
        Spec({"x": "vp"}, {"x": x})


def test_mismatched_batch_sizes_raise_with_field_names():
    x = {"pos": torch.randn(3, 4, 3), "h": torch.randn(2, 4)}
    with pytest.raises(ValueError, match="batch size.*'pos': 3.*'h': 2"):
        Spec(VP(), x)


def test_rank_zero_field_raises_with_field_name():
    with pytest.raises(ValueError, match="field 'h'"):
        Spec(VP(), {"h": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="x must have at least 1 dims"):
        Spec(VP(), torch.tensor(1.0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_raise_with_field_name(bad):
    x, paths, masks = molecule()
    spec = Spec(paths, x, masks)
    x["h"][1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"x\['h'\] has"):
        spec.check(x)
    y = torch.randn(2, 3)
    y[0, 0] = bad
    with pytest.raises(ValueError, match="^x0 has"):
        Spec(VP(), y).check(y, name="x0")


def test_check_rejects_other_structures():
    x, paths, masks = molecule()
    spec = Spec(paths, x, masks)
    with pytest.raises(ValueError, match="expected"):
        spec.check({"pos": x["pos"]})
    with pytest.raises(ValueError, match="is a tensor"):
        spec.check(x["pos"])
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        spec.check({"pos": x["pos"], "h": [1.0]})


def test_masks_that_do_not_broadcast_raise_with_field_name():
    x, paths, _ = molecule()
    with pytest.raises(ValueError, match="field 'pos'"):
        Spec(paths, x, {"pos": torch.ones(3, N + 1)})
    with pytest.raises(ValueError, match="field 'h'"):
        Spec(paths, x, {"h": torch.ones(3, N, 4, 1)})  # more dims than the field
    with pytest.raises(ValueError, match="field 'x'"):
        Spec(VP(), torch.randn(3, 4), torch.ones(2))


# --- per-field math ---------------------------------------------------------------------


def test_project_and_randn_like_respect_masks_and_com():
    x, paths, masks = molecule()
    spec = Spec(paths, x, masks)
    m = masks["pos"][..., None]
    for s in (spec.project(x), spec.randn_like(x, generator=torch.Generator().manual_seed(0))):
        torch.testing.assert_close(
            s["pos"].sum(1), torch.zeros(3, D, dtype=F64), rtol=0, atol=1e-12
        )
        assert (s["pos"] * (1 - m) == 0).all()
        assert (s["h"] * (1 - m) == 0).all()
        assert (s["h"][m.expand_as(s["h"]) == 1] != 0).all()


def test_prior_sample_std_and_constraints():
    b = 4000
    x = {"pos": torch.zeros(b, 4, D, dtype=F64), "h": torch.zeros(b, 4, dtype=F64)}
    mask = {"pos": torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=F64).expand(b, 4)}
    paths = {"pos": Field(VE(sigma_max=3.0), ZERO_COM), "h": EDM(sigma_max=2.0)}
    spec = Spec(paths, x, mask)
    s = spec.prior_sample(x, generator=torch.Generator().manual_seed(1))
    pos = s["pos"]
    torch.testing.assert_close(pos.sum(1), torch.zeros(b, D, dtype=F64), rtol=0, atol=1e-12)
    assert (pos[:, 3] == 0).all()
    # projected N(0, 9 I) over 3 real nodes: per-coordinate variance 9 (1 - 1/3)
    var = pos[:, :3].reshape(-1).var()
    n_free = b * (3 - 1) * D  # independent coordinates
    assert abs(float(var) / 6.0 - 1) < 5 * math.sqrt(2 / n_free)
    assert abs(float(s["h"].std()) / 2.0 - 1) < 5 / math.sqrt(2 * b * 4)


def _subspace_basis(n_real: int, n: int, d: int) -> torch.Tensor:
    """Orthonormal basis (n d, (n_real - 1) d) of {v: zero on padding, zero mean over the real}."""
    m = torch.zeros(n, dtype=F64)
    m[:n_real] = 1
    p_nodes = torch.diag(m) - torch.outer(m, m) / n_real
    p = torch.kron(p_nodes, torch.eye(d, dtype=F64))
    lam, u = torch.linalg.eigh(p)
    return u[:, lam > 0.5]


def test_prior_logp_of_a_zero_com_field_is_the_subspace_gaussian():
    std = 3.0
    x = torch.randn(3, N, D, dtype=F64)
    mask = node_mask(N_REAL, N)
    spec = Spec(Field(VE(sigma_max=std), ZERO_COM), x, mask)
    got = spec.prior_logp(x)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=F64), std)
    for b, k in enumerate(N_REAL):
        q = _subspace_basis(k, N, D)
        assert q.shape[1] == (k - 1) * D
        y = q.T @ x[b].reshape(-1)  # coordinates of the projection of x in the subspace
        ref = normal.log_prob(y).sum()
        assert float(got[b]) == pytest.approx(float(ref), rel=1e-12, abs=1e-10)


def test_prior_logp_of_a_structured_state_sums_the_fields():
    x, paths, masks = molecule()
    spec = Spec(paths, x, masks)
    got = spec.prior_logp(x)
    pos_only = Spec(paths["pos"], x["pos"], masks["pos"]).prior_logp(x["pos"])
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=F64), 2.0)
    h_ref = torch.stack([normal.log_prob(x["h"][b, :k]).sum() for b, k in enumerate(N_REAL)])
    torch.testing.assert_close(got, pos_only + h_ref)


def test_prior_logp_of_an_unmasked_tensor_is_the_path_prior():
    path = Interpolant("trig")
    x = torch.randn(5, 2, 3, dtype=F64)
    torch.testing.assert_close(Spec(path, x).prior_logp(x), path.prior_logp(x))


def test_tree_map_and_first():
    a = {"p": torch.ones(2, 3), "q": torch.zeros(2)}
    b = tree_map(lambda u, v: u + v, a, a)
    assert set(b) == {"p", "q"} and float(b["p"].sum()) == 12.0
    assert first(a) is a["p"]
    t = torch.ones(3)
    assert first(t) is t
    torch.testing.assert_close(tree_map(torch.neg, t), -t)
