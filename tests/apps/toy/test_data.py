"""Toy targets and the point-set loader, against exact moments and geometry."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from scorelab.apps.toy.data import TARGETS, gmm_target, load_points, make_target, splits

F64 = torch.float64


# --- every target -------------------------------------------------------------------------


@pytest.mark.parametrize("name", TARGETS)
def test_shape_dtype_and_determinism(name):
    x = make_target(name, 500, seed=3)
    assert x.shape == (500, 2) and x.dtype == torch.float32 and x.is_contiguous()
    assert torch.isfinite(x).all()
    assert torch.equal(x, make_target(name, 500, seed=3))
    assert not torch.equal(x, make_target(name, 500, seed=4))


@pytest.mark.parametrize("name", TARGETS)
def test_target_does_not_touch_the_global_rng(name):
    state = torch.get_rng_state()
    make_target(name, 100, seed=0)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", TARGETS)
def test_coordinates_are_of_order_one(name):
    x = make_target(name, 5000, seed=0)
    std = x.std(dim=0)
    assert (std > 0.3).all() and (std < 2.5).all(), std
    assert x.abs().max() < 6.0
    assert x.mean(dim=0).abs().max() < 0.6


def test_unknown_name_and_bad_n():
    with pytest.raises(ValueError, match="gmm, moons, checkerboard, swissroll"):
        make_target("spiral", 10, 0)
    with pytest.raises(ValueError, match="known"):
        splits("spiral", 10, 10)
    for n in (0, -5):
        with pytest.raises(ValueError, match="positive"):
            make_target("gmm", n, 0)


# --- gmm ------------------------------------------------------------------------------------


def test_gmm_target_is_the_8_mode_ring():
    gm = gmm_target()
    assert gm.means.dtype == F64 and gm.means.shape == (8, 2)
    assert torch.allclose(gm.weights, torch.full((8,), 1 / 8, dtype=F64))
    assert torch.allclose(gm.means.norm(dim=1), torch.full((8,), 2.0, dtype=F64))
    assert torch.allclose(gm.covs, 0.0625 * torch.eye(2, dtype=F64).expand(8, 2, 2))
    # neighbouring means are 45 degrees apart
    ang = torch.atan2(gm.means[:, 1], gm.means[:, 0]).sort().values
    assert torch.allclose(ang.diff(), torch.full((7,), math.pi / 4, dtype=F64))
    # exact moments of the ring: mean 0, cov (r^2 / 2 + s^2) I
    assert torch.allclose(gm.mean(), torch.zeros(2, dtype=F64), atol=1e-12)
    assert torch.allclose(gm.cov(), 2.0625 * torch.eye(2, dtype=F64), atol=1e-12)


def test_gmm_samples_match_the_mixture():
    n = 20000
    x = make_target("gmm", n, seed=1)
    gm = gmm_target()
    ref = gm.sample(n, torch.Generator().manual_seed(1)).float()
    assert torch.equal(x, ref)
    xd = x.double()
    assert torch.allclose(xd.mean(0), gm.mean(), atol=0.05)
    assert torch.allclose(torch.cov(xd.T), gm.cov(), atol=0.1)
    # each mode gets ~1/8 of the points (binomial sd ~ 47 of 2500)
    counts = torch.cdist(xd, gm.means).argmin(dim=1).bincount(minlength=8)
    assert ((counts - n / 8).abs() < 250).all(), counts
    # the points sit at distance ~0.25 sqrt(2) rms from their mode
    d2 = torch.cdist(xd, gm.means).min(dim=1).values.pow(2)
    assert float(d2.mean()) == pytest.approx(2 * 0.0625, rel=0.05)


# --- moons ----------------------------------------------------------------------------------


def moons_exact_moments() -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the raw moons by quadrature over t ~ U[0, pi], plus the noise."""
    t = (torch.arange(200000, dtype=F64) + 0.5) * math.pi / 200000  # midpoint rule
    outer = torch.stack([t.cos(), t.sin()], 1)
    inner = torch.stack([1 - t.cos(), 0.5 - t.sin()], 1)
    pts = torch.cat([outer, inner])
    mean = pts.mean(0)
    cov = (pts - mean).T @ (pts - mean) / len(pts) + 0.05**2 * torch.eye(2, dtype=F64)
    return mean, cov


def test_moons_are_standardised_by_their_exact_moments():
    mean, cov = moons_exact_moments()
    scale = math.sqrt(float(torch.trace(cov)) / 2)
    x = make_target("moons", 40000, seed=0).double()
    # zero mean, E|x|^2 = 2, and the exact covariance of the raw moons over scale^2
    assert torch.allclose(x.mean(0), torch.zeros(2, dtype=F64), atol=0.02)
    assert float(x.pow(2).sum(1).mean()) == pytest.approx(2.0, rel=0.02)
    assert torch.allclose(torch.cov(x.T), cov / scale**2, atol=0.03)
    # undo the standardisation: the points lie on the two arcs, up to noise 0.05
    raw = x * scale + mean
    d_outer, d_inner = arc_distance(raw, 0.0, 0.0, upper=True), arc_distance(raw, 1.0, 0.5, False)
    d = torch.minimum(d_outer, d_inner)
    # the normal component of the noise, |N(0, s^2)|, has mean s sqrt(2/pi) ~ 0.040
    assert float(d.mean()) == pytest.approx(0.05 * math.sqrt(2 / math.pi), rel=0.1)
    assert float(d.quantile(0.999)) < 0.25
    assert float((d_outer < d_inner).double().mean()) == pytest.approx(0.5, abs=0.02)


def arc_distance(p: torch.Tensor, cx: float, cy: float, upper: bool) -> torch.Tensor:
    """Distance from points p (n, 2) to the upper or lower half of a unit circle at (cx, cy)."""
    q = p - torch.tensor([cx, cy], dtype=p.dtype)
    on_side = q[:, 1] >= 0 if upper else q[:, 1] <= 0
    radial = (q.norm(dim=1) - 1).abs()
    ends = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=p.dtype)
    to_ends = torch.cdist(q, ends).min(dim=1).values
    return torch.where(on_side, radial, to_ends)


# --- checkerboard ---------------------------------------------------------------------------


def test_checkerboard_points_lie_in_the_8_filled_squares_equally_often():
    n = 16000
    x = make_target("checkerboard", n, seed=2).double()
    assert (x >= -2).all() and (x < 2).all()
    fl = torch.floor(x).long()
    assert ((fl[:, 0] + fl[:, 1]) % 2 == 0).all()
    cell = (fl[:, 0] + 2) * 4 + (fl[:, 1] + 2)
    counts = cell.bincount(minlength=16)
    filled = [4 * (i + 2) + (j + 2) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0]
    assert len(filled) == 8
    assert (counts[filled] - n / 8).abs().max() < 200, counts  # binomial sd ~ 42
    assert counts.sum() == counts[filled].sum()
    # uniform within each square, uniform on [-2, 2] per coordinate, E[xy] = 1/4 exactly
    frac = x - torch.floor(x)
    assert torch.allclose(frac.mean(0), torch.full((2,), 0.5, dtype=F64), atol=0.01)
    assert torch.allclose(x.mean(0), torch.zeros(2, dtype=F64), atol=0.03)
    assert torch.allclose(x.var(0), torch.full((2,), 4 / 3, dtype=F64), atol=0.04)
    assert float((x[:, 0] * x[:, 1]).mean()) == pytest.approx(0.25, abs=0.03)


# --- swiss roll -----------------------------------------------------------------------------


def test_swissroll_moments_are_exact():
    """t ~ U[a, b], a = 1.5 pi, b = 4.5 pi; points (t cos t, t sin t) + N(0, I), over 5.

    E[t cos t] = [t sin t + cos t]_a^b / (b - a) = 2, E[t sin t] = [sin t - t cos t]_a^b /
    (b - a) = 2 / (3 pi), E|5x|^2 = E[t^2] + 2 = (a^2 + ab + b^2) / 3 + 2.
    """
    a, b = 1.5 * math.pi, 4.5 * math.pi
    x = make_target("swissroll", 40000, seed=5).double()
    mean = torch.tensor([2.0, 2 / (3 * math.pi)], dtype=F64) / 5
    assert torch.allclose(x.mean(0), mean, atol=0.04)
    sq = (a * a + a * b + b * b) / 3 + 2.0
    assert float((5 * x).pow(2).sum(1).mean()) == pytest.approx(sq, rel=0.02)
    assert x.abs().max() < 4.5
    # the radius 5|x| is roughly t: uniform on [a, b] up to the unit noise
    r = 5 * x.norm(dim=1)
    assert float(r.quantile(0.02)) > a - 1.0 and float(r.quantile(0.98)) < b + 1.0


# --- splits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TARGETS)
def test_splits_are_independent_and_disjoint(name):
    tr, te = splits(name, 300, 200, seed=7)
    assert tr.shape == (300, 2) and te.shape == (200, 2)
    assert tr.dtype == te.dtype == torch.float32
    assert torch.cdist(tr.double(), te.double()).min() > 0  # no shared point
    tr2, te2 = splits(name, 300, 200, seed=7)
    assert torch.equal(tr, tr2) and torch.equal(te, te2)
    tr3, te3 = splits(name, 300, 200, seed=8)
    assert not torch.equal(tr, tr3) and not torch.equal(te, te3)
    # train streams are even seeds and test streams odd ones: never the same draw
    for s in range(4):
        other_te = splits(name, 200, 300, seed=s)[1]
        assert not torch.equal(tr, other_te)


# --- load_points ----------------------------------------------------------------------------


def data(n: int = 6, d: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d))


def test_load_npy_npz_roundtrip(tmp_path):
    a = data()
    np.save(tmp_path / "p.npy", a)
    got = load_points(tmp_path / "p.npy")
    assert got.dtype == torch.float32 and got.shape == (6, 3)
    assert np.array_equal(got.numpy(), a.astype(np.float32))
    np.savez(tmp_path / "k.npz", x=a, labels=np.arange(6))
    assert np.array_equal(load_points(str(tmp_path / "k.npz")).numpy(), a.astype(np.float32))
    np.savez(tmp_path / "one.npz", pts=a)
    assert np.array_equal(load_points(tmp_path / "one.npz").numpy(), a.astype(np.float32))
    np.save(tmp_path / "int.npy", np.arange(10).reshape(5, 2))
    assert load_points(tmp_path / "int.npy").tolist()[-1] == [8.0, 9.0]


def test_load_text_roundtrip(tmp_path):
    a = data(5, 2)
    np.savetxt(tmp_path / "p.csv", a, delimiter=",", header="x,y", comments="")
    got = load_points(tmp_path / "p.csv")
    assert got.dtype == torch.float32
    assert np.allclose(got.numpy(), a, rtol=1e-6)
    np.savetxt(tmp_path / "noheader.csv", a, delimiter=",")
    assert np.allclose(load_points(tmp_path / "noheader.csv").numpy(), a, rtol=1e-6)
    np.savetxt(tmp_path / "p.txt", a, header="a comment")  # whitespace, '#' comment line
    assert np.allclose(load_points(tmp_path / "p.txt").numpy(), a, rtol=1e-6)
    (tmp_path / "tabs.TXT").write_text("u\tv\n1\t2\n\n3   4\n")
    assert load_points(tmp_path / "tabs.TXT").tolist() == [[1.0, 2.0], [3.0, 4.0]]


def raises_naming(path, exc=ValueError, match=""):
    return pytest.raises(exc, match=re.escape(path.name) + ".*" + match)


def test_load_errors_name_the_file_and_the_problem(tmp_path):
    missing = tmp_path / "nope.npy"
    with raises_naming(missing, FileNotFoundError, "no such file"):
        load_points(missing)
    p = tmp_path / "pts.json"
    p.write_text("[]")
    with raises_naming(p, match=r"\.npy, \.npz, \.csv, \.txt"):
        load_points(p)
    p = tmp_path / "bad.npy"
    p.write_bytes(b"definitely not numpy")
    with raises_naming(p, match="corrupt"):
        load_points(p)
    p = tmp_path / "bad.npz"
    p.write_bytes(b"PK\x03\x04 truncated zip")
    with raises_naming(p, match="corrupt"):
        load_points(p)
    p = tmp_path / "two.npz"
    np.savez(p, a=data(), b=data())
    with raises_naming(p, match="'x'"):
        load_points(p)
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with raises_naming(p):
        load_points(p)
    p = tmp_path / "str.npy"
    np.save(p, np.array([["a", "b"], ["c", "d"]]))
    with raises_naming(p, match="numeric"):
        load_points(p)


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.zeros(5), r"2-D.*\(5,\)"),
        (np.zeros((2, 3, 4)), "2-D"),
        (np.zeros((1, 3)), "at least 2 rows"),
        (np.zeros((4, 0)), "1 column"),
    ],
)
def test_load_shape_errors(tmp_path, arr, match):
    p = tmp_path / "shape.npy"
    np.save(p, arr)
    with raises_naming(p, match=match):
        load_points(p)


def test_load_non_finite_rows_are_counted(tmp_path):
    a = data(5, 2)
    a[1, 0], a[3, 1], a[3, 0] = np.nan, np.inf, -np.inf
    p = tmp_path / "nan.npy"
    np.save(p, a)
    with raises_naming(p, match="2 of 5 rows contain NaN or inf.*row 1"):
        load_points(p)
    p = tmp_path / "nan.csv"
    p.write_text("1,2\nnan,3\n4,5\n")
    with raises_naming(p, match="1 of 3 rows"):
        load_points(p)
    p = tmp_path / "huge.npy"
    np.save(p, np.array([[1e300, 0.0], [0.0, 1.0]]))
    with raises_naming(p, match="float32"):
        load_points(p)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2\n3\n", "line 2 has 1 columns"),
        ("x,y\n1,2\n3,oops\n", "line 3: non-numeric"),
        ("x,y\n", "no numeric rows"),
        ("", "no numeric rows"),
        ("1,,2\n3,4,5\n", "non-numeric"),
        ("1,2\n", "at least 2 rows"),
    ],
)
def test_load_text_errors(tmp_path, text, match):
    p = tmp_path / "user points.csv"
    p.write_text(text)
    with raises_naming(p, match=match):
        load_points(p)


def test_load_non_utf8_text(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(b"\xff\xfe1 2\n")
    with raises_naming(p, match="UTF-8"):
        load_points(p)


def test_load_directory_is_an_error(tmp_path):
    d = tmp_path / "dir.npy"
    d.mkdir()
    with raises_naming(d, match="not a regular file"):
        load_points(d)
