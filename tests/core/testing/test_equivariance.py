"""The E(3) checker: exact maps pass at 1e-12, broken ones fail naming field and transform."""

import math

import pytest
import torch

from scorelab.testing.equivariance import (
    EquivarianceReport,
    check_e3,
    random_orthogonal,
    random_permutation,
)

F64 = torch.float64
B, N, H = 6, 9, 4


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def molecules(seed: int = 0, dtype=F64):
    """Positions, features and a node mask with 4..N real atoms; garbage on the padding."""
    g = gen(seed)
    real = torch.randint(4, N + 1, (B,), generator=g)
    mask = (torch.arange(N)[None] < real[:, None]).to(dtype)
    pos = 1.5 * torch.randn(B, N, 3, generator=g, dtype=dtype) + 3.0
    h = torch.randn(B, N, H, generator=g, dtype=dtype)
    pad = (1 - mask)[..., None]
    return {"pos": pos + 50 * pad, "h": h - 7 * pad}, mask


def centred(pos, mask):
    m = mask[..., None]
    return (pos - (pos * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)) * m


def egnn_like(x, node_mask, t=None):
    """sum_j m_j (x_i - x_j) f(d_ij, h_i, h_j) and invariant feature updates: E(3) x S_N."""
    pos, h, m = x["pos"], x["h"], node_mask
    diff = pos[:, :, None] - pos[:, None, :]  # (B, N, N, 3)
    d2 = diff.pow(2).sum(-1)
    pair = m[:, :, None] * m[:, None, :]
    w = torch.exp(-0.1 * d2) * (1 + torch.tanh(h @ h.transpose(1, 2))) * pair
    if t is not None:
        w = w * (1 + t[:, None, None])
    vel = (w[..., None] * diff).sum(2) * m[..., None]
    feat = (h + (w[..., None] * h[:, None]).sum(2)) * m[..., None]
    return {"pos": vel, "h": feat, "energy": (w * d2).sum((1, 2))}


# --- random transforms ------------------------------------------------------------------
@pytest.mark.parametrize("reflect", [False, True])
def test_random_orthogonal_is_orthogonal_with_the_right_determinant(reflect):
    r = random_orthogonal(gen(1), reflect=reflect, batch_shape=(500,))
    eye = torch.eye(3, dtype=F64).expand(500, 3, 3)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye, atol=1e-12, rtol=0)
    det = torch.linalg.det(r)
    torch.testing.assert_close(det, torch.full_like(det, -1.0 if reflect else 1.0))
    one = random_orthogonal(gen(2), dim=5, dtype=torch.float32)
    assert one.shape == (5, 5) and one.dtype == torch.float32
    assert abs(float(torch.linalg.det(one)) - 1) < 1e-5


@pytest.mark.parametrize("reflect", [False, True])
def test_random_orthogonal_is_haar(reflect):
    n = 20_000
    r = random_orthogonal(gen(3), reflect=reflect, batch_shape=(n,))
    se = (1 / 3) ** 0.5 / math.sqrt(n)  # every entry has variance 1/3 under Haar
    assert float(r.mean(0).abs().max()) < 5 * se
    e1 = r[..., 0]  # R e1 is uniform on the sphere: mean 0, second moment I/3
    second = e1.T @ e1 / n
    assert float((second - torch.eye(3, dtype=F64) / 3).abs().max()) < 0.015
    # the character: E tr R = 0 and E (tr R)^2 = 1 for Haar SO(3) (and for -SO(3)); a rotation
    # angle drawn uniformly would give E (tr R)^2 = 3
    tr = torch.diagonal(r, dim1=1, dim2=2).sum(1)
    assert abs(float(tr.mean())) < 5 * float(tr.std()) / math.sqrt(n)
    assert abs(float(tr.pow(2).mean()) - 1) < 0.05


def test_random_permutation_permutes_every_node_uniformly():
    mask = torch.ones(4000, 5)
    mask[:, 3:] = 0
    p = random_permutation(mask, gen(4))
    assert torch.equal(p.sort(1).values, torch.arange(5).expand(4000, 5))
    where0 = (p == 0).float().argmax(1)  # padding moves too: node 0 lands anywhere
    freq = torch.bincount(where0, minlength=5).float() / 4000
    assert float((freq - 0.2).abs().max()) < 0.03


# --- equivariant maps pass ----------------------------------------------------------------
def test_exact_maps_pass_at_1e_12():
    x, mask = molecules()
    t = torch.rand(B, generator=gen(5), dtype=F64)

    def fn(inp, node_mask, t):
        out = egnn_like(inp, node_mask, t)
        out["centred"] = centred(inp["pos"], node_mask)
        return out

    rep = check_e3(fn, x, node_mask=mask, generator=gen(6), t=t, vector_outputs=("pos", "centred"))
    assert set(rep.max_error) == {
        (f, tr)
        for f in ("pos", "h", "energy", "centred")
        for tr in ("rotation", "reflection", "translation", "permutation")
    }
    rep.assert_ok(1e-12)
    assert max(rep.max_error.values()) > 0  # the transforms really changed the inputs


def test_molecule_level_scalar_output_and_float32():
    x, mask = molecules(dtype=torch.float32)
    rep = check_e3(lambda inp, node_mask: egnn_like(inp, node_mask)["energy"], x, node_mask=mask)
    assert {f for f, _ in rep.max_error} == {"out"}
    rep.assert_ok(1e-5)


# --- broken maps fail, naming the field and the transform -----------------------------------
def failing(rep: EquivarianceReport, atol: float = 1e-6) -> set:
    return set(rep.failures(atol))


def test_a_constant_vector_breaks_rotations_only():
    x, mask = molecules()
    c = torch.tensor([0.3, -0.2, 0.5], dtype=F64)

    def fn(inp, node_mask):
        return {"pos": centred(inp["pos"], node_mask) + c, "h": inp["h"]}

    rep = check_e3(fn, x, node_mask=mask, generator=gen(7))
    assert failing(rep) == {("pos", "rotation"), ("pos", "reflection")}
    with pytest.raises(AssertionError, match="'pos' under reflection: .*'pos' under rotation"):
        rep.assert_ok()


def test_an_anisotropic_scaling_breaks_rotations():
    x, mask = molecules()

    def fn(inp, node_mask):
        return {"pos": centred(inp["pos"], node_mask) * torch.tensor([1.0, 2.0, 3.0], dtype=F64)}

    assert failing(check_e3(fn, x, node_mask=mask, generator=gen(8))) == {
        ("pos", "rotation"),
        ("pos", "reflection"),
    }


def test_absolute_coordinates_break_translations():
    x, mask = molecules()

    def fn(inp, node_mask):
        return {"pos": centred(inp["pos"], node_mask), "h": inp["pos"].pow(2).sum(-1)}

    assert failing(check_e3(fn, x, node_mask=mask, generator=gen(9))) == {("h", "translation")}


def test_reading_the_padding_breaks_translations():
    """The translation moves real atoms only, so a centre taken over padding too is caught."""
    x, mask = molecules()

    def fn(inp, node_mask):
        return {"pos": (inp["pos"] - inp["pos"].mean(1, keepdim=True)) * node_mask[..., None]}

    assert failing(check_e3(fn, x, node_mask=mask, generator=gen(10))) == {("pos", "translation")}


def test_node_order_breaks_permutations():
    x, mask = molecules()

    def fn(inp, node_mask):
        r2 = centred(inp["pos"], node_mask).pow(2).sum(-1)
        return {"h": torch.cumsum(r2 * node_mask, dim=1)}

    assert failing(check_e3(fn, x, node_mask=mask, generator=gen(11))) == {("h", "permutation")}


def test_chirality_breaks_reflections_only():
    x, mask = molecules()

    def signed_volume(inp, node_mask):
        p = inp["pos"]  # atoms 0..3 are real in every sample
        return torch.linalg.det(p[:, 1:4] - p[:, :1])

    rep = check_e3(signed_volume, x, node_mask=mask, generator=gen(12), permutations=False)
    assert failing(rep) == {("out", "reflection")}


def test_errors_name_the_problem():
    x, mask = molecules()
    with pytest.raises(ValueError, match="vector fields \\['coords'\\]"):
        check_e3(egnn_like, x, node_mask=mask, vector_fields=("coords",))
    with pytest.raises(ValueError, match="vector_outputs \\['vel'\\]"):
        check_e3(egnn_like, x, node_mask=mask, vector_outputs=("vel",))
    with pytest.raises(ValueError, match="non-vector inputs"):
        check_e3(egnn_like, x, node_mask=mask, invariant_fields=())
    with pytest.raises(ValueError, match="node_kwargs \\['edges'\\]"):
        check_e3(egnn_like, x, node_mask=mask, node_kwargs=("node_mask", "edges"))
