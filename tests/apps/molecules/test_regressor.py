"""PropertyRegressor: E(3) invariance, padding, pooling, and that it can fit an invariant."""

from __future__ import annotations

import pytest
import torch

from scorelab.apps.molecules.regressor import PropertyRegressor
from scorelab.testing.equivariance import check_e3

B, N, T, C = 4, 7, 5, 3


def _batch(b: int = B, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(3, N + 1, (b,), generator=g)
    mask = torch.arange(N)[None] < sizes[:, None]
    m = mask[..., None].to(dtype)
    types = torch.nn.functional.one_hot(torch.randint(0, T, (b, N), generator=g), T).to(dtype)
    charges = torch.nn.functional.one_hot(torch.randint(0, C, (b, N), generator=g), C).to(dtype)
    pos = torch.randn(b, N, 3, generator=g, dtype=dtype) * 1.5
    return pos * m, types * m, charges * m, mask


@pytest.mark.parametrize("backbone", ["egnn", "painn"])
@pytest.mark.parametrize("pool", ["sum", "mean"])
def test_regressor_is_e3_invariant(backbone, pool):
    torch.manual_seed(0)
    net = PropertyRegressor(T, C, hidden=16, layers=2, backbone=backbone, pool=pool).double()
    pos, types, charges, mask = _batch()

    def fn(x, node_mask):
        return {"y": net(x["pos"], x["atom_type"], x["charge"], node_mask)}

    x = {"pos": pos, "atom_type": types, "charge": charges}
    report = check_e3(fn, x, node_mask=mask, generator=torch.Generator().manual_seed(1))
    report.assert_ok(atol=1e-10)
    y = fn(x, mask)["y"]
    assert y.shape == (B,) and y.std() > 1e-4


def test_a_regressor_reading_raw_coordinates_fails_the_check():
    torch.manual_seed(0)
    net = PropertyRegressor(T, C, hidden=16, layers=1).double()
    pos, types, charges, mask = _batch()

    def fn(x, node_mask):
        y = net(x["pos"], x["atom_type"], x["charge"], node_mask)
        return {"y": y + x["pos"][:, 0, 0]}

    x = {"pos": pos, "atom_type": types, "charge": charges}
    with pytest.raises(AssertionError, match="'y' under rotation"):
        check_e3(fn, x, node_mask=mask, trials=1).assert_ok(atol=1e-6)


def test_padding_contents_do_not_change_predictions():
    torch.manual_seed(0)
    net = PropertyRegressor(T, C, hidden=16, layers=2).double()
    pos, types, charges, mask = _batch()
    y = net(pos, types, charges, mask)
    pos2, types2 = pos.clone(), types.clone()
    pos2[~mask] = float("nan")
    types2[~mask] = 1e6
    torch.testing.assert_close(net(pos2, types2, charges, mask), y, rtol=0, atol=0)


def test_regressor_fits_an_invariant_target():
    """Learn the radius of gyration of random point clouds: loss falls well below the variance."""
    torch.manual_seed(0)
    pos, types, charges, mask = _batch(b=64, seed=3, dtype=torch.float32)
    m = mask[..., None].float()
    com = (pos * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
    rg = (((pos - com) * m).pow(2).sum((1, 2)) / m.sum((1, 2))).sqrt()
    target = (rg - rg.mean()) / rg.std()
    net = PropertyRegressor(T, C, hidden=32, layers=2, pool="mean")
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = (net(pos, types, charges, mask) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.02  # the target has unit variance


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown pool 'max'"):
        PropertyRegressor(T, C, pool="max")
    with pytest.raises(ValueError, match="unknown regressor backbone"):
        PropertyRegressor(T, C, backbone="e3nn")
    net = PropertyRegressor(T, C, hidden=8, layers=1)
    pos, types, charges, mask = _batch(dtype=torch.float32)
    with pytest.raises(ValueError, match="one-hot types"):
        net(pos, types[..., :2], charges, mask)
