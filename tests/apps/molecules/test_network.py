"""MoleculeFlowNet: E(3) equivariance per backbone, CoM-free and padded heads, conditioning."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from scorelab.apps.molecules.conditioning import PROPERTY_COMBINATIONS
from scorelab.apps.molecules.network import MoleculeFlowNet
from scorelab.testing.equivariance import check_e3

B, N, T, C = 3, 7, 5, 3
NAN = float("nan")
HAS_E3NN = importlib.util.find_spec("e3nn") is not None
BACKBONES = [
    "egnn",
    "painn",
    pytest.param("e3nn", marks=pytest.mark.skipif(not HAS_E3NN, reason="needs e3nn")),
]


def _state(seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(N)[None] < torch.tensor([7, 5, 2])[:, None]
    m = mask[..., None].to(dtype)
    x = {
        "pos": torch.randn(B, N, 3, generator=g, dtype=dtype) * 1.5 * m,
        "atom_type": torch.randn(B, N, T, generator=g, dtype=dtype) * m,
        "charge": torch.randn(B, N, C, generator=g, dtype=dtype) * m,
    }
    return x, mask, torch.rand(B, generator=g, dtype=dtype)


def _net(backbone: str, **kw) -> MoleculeFlowNet:
    torch.manual_seed(0)
    return MoleculeFlowNet(T, C, backbone=backbone, hidden=16, layers=2, **kw).double()


@pytest.mark.parametrize("backbone", BACKBONES)
def test_heads_are_e3_equivariant_and_invariant(backbone):
    net = _net(backbone, properties=("gap",))
    x, mask, t = _state()
    props = {"gap": torch.tensor([0.5, NAN, -1.0], dtype=torch.float64)}
    report = check_e3(
        lambda s, **kw: net(s, t, **kw),
        x,
        node_mask=mask,
        generator=torch.Generator().manual_seed(1),
        properties=props,
    )
    assert {f for f, _ in report.max_error} == {"pos", "atom_type", "charge"}
    report.assert_ok(atol=1e-8)
    out = net(x, t, node_mask=mask, properties=props)
    assert all(out[k].abs().max() > 1e-3 for k in out)  # nothing trivially zero


@pytest.mark.parametrize(
    "break_it, field, transform",
    [
        (
            lambda out, x: {**out, "atom_type": out["atom_type"] + x["pos"][..., :1]},
            "atom_type",
            "rotation",
        ),
        (lambda out, x: {**out, "pos": out["pos"] + 0.5 * x["pos"]}, "pos", "translation"),
        (
            lambda out, x: {**out, "pos": out["pos"] + torch.tensor([0.1, 0, 0]).to(x["pos"])},
            "pos",
            "rotation",
        ),
        (
            lambda out, x: {
                **out,
                "charge": out["charge"] + torch.arange(N)[None, :, None].to(x["pos"]),
            },
            "charge",
            "permutation",
        ),
    ],
)
def test_the_check_fails_for_broken_nets(break_it, field, transform):
    net = _net("egnn")
    x, mask, t = _state()
    report = check_e3(lambda s, **kw: break_it(net(s, t, **kw), s), x, node_mask=mask, trials=1)
    assert report.max_error[(field, transform)] > 1e-3
    with pytest.raises(AssertionError, match=f"'{field}' under {transform}"):
        report.assert_ok(atol=1e-8)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_pos_is_com_free_and_padding_is_zero_and_ignored(backbone):
    net = _net(backbone)
    x, mask, t = _state()
    out = net(x, t, node_mask=mask)
    assert {k: v.shape for k, v in out.items()} == {k: v.shape for k, v in x.items()}
    m = mask[..., None].double()
    torch.testing.assert_close(
        (out["pos"] * m).sum(1), torch.zeros(B, 3).double(), atol=1e-12, rtol=0
    )
    for v in out.values():
        assert v[~mask].abs().max() == 0
    garbage = {k: v.clone() for k, v in x.items()}
    for v in garbage.values():
        v[~mask] = 1e6 * torch.randn_like(v[~mask])
    garbage["pos"][1, -1] = NAN  # molecule 1 has 5 real atoms of 7
    out2 = net(garbage, t, node_mask=mask)
    for k in out:
        torch.testing.assert_close(out2[k], out[k], rtol=0, atol=0)


def test_mask_may_be_float_and_t_a_scalar():
    net = _net("egnn")
    x, mask, _ = _state()
    a = net(x, 0.3, node_mask=mask.double())
    b = net(x, torch.full((B,), 0.3, dtype=torch.float64), node_mask=mask)
    for k in a:
        torch.testing.assert_close(a[k], b[k])


@pytest.mark.parametrize("backbone", BACKBONES)
def test_property_conditioning_changes_outputs_and_nan_is_the_null(backbone):
    net = _net(backbone, properties=("gap", "mu"))
    x, mask, t = _state()
    d = torch.float64
    a = net(x, t, node_mask=mask, properties={"gap": torch.full((B,), 1.0, dtype=d)})
    b = net(x, t, node_mask=mask, properties={"gap": torch.full((B,), -1.0, dtype=d)})
    for k in a:
        assert (a[k] - b[k]).abs().max() > 1e-4, k
    uncond = net(x, t, node_mask=mask)
    nan = torch.full((B,), NAN, dtype=d)
    for other in (
        net(x, t, node_mask=mask, properties={"gap": nan, "mu": nan}),
        net(x, t, node_mask=mask, properties={}),
    ):
        for k in uncond:
            torch.testing.assert_close(other[k], uncond[k], rtol=0, atol=0)
    # per sample: a NaN row is that sample's unconditional output, the others conditional
    mixed = net(x, t, node_mask=mask, properties={"gap": torch.tensor([1.0, NAN, 1.0]).double()})
    for k in uncond:
        torch.testing.assert_close(mixed[k][1], uncond[k][1], rtol=0, atol=1e-12)
        torch.testing.assert_close(mixed[k][[0, 2]], a[k][[0, 2]], rtol=0, atol=1e-12)
        assert (mixed[k][0] - uncond[k][0]).abs().max() > 1e-4


@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("combination", PROPERTY_COMBINATIONS)
def test_every_combination_and_embedding_conditions_and_trains(combination, gaussian):
    net = MoleculeFlowNet(
        T,
        C,
        hidden=16,
        layers=1,
        properties=("alpha",),
        combination=combination,
        gaussian_expansion=gaussian,
        n_gaussians=12,
    )
    x, mask, t = _state(dtype=torch.float32)
    lo = net(x, t, node_mask=mask, properties={"alpha": torch.full((B,), -1.0)})
    hi = net(x, t, node_mask=mask, properties={"alpha": torch.tensor([1.0, NAN, 2.0])})
    assert (lo["atom_type"] - hi["atom_type"]).abs().max() > 1e-5
    loss = sum(v.square().sum() for v in hi.values())
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)
    assert net.condition.embeddings["alpha"].null.grad.abs().sum() > 0  # the NaN row used it


def test_property_names_are_checked():
    x, mask, t = _state()
    net = _net("egnn", properties=("gap",))
    assert net.properties == ("gap",)
    with pytest.raises(ValueError, match="'homo'.*conditions on: gap"):
        net(x, t, node_mask=mask, properties={"homo": torch.zeros(B).double()})
    plain = _net("egnn")
    assert plain.properties == ()
    with pytest.raises(ValueError, match="'gap'.*conditions on: none"):
        plain(x, t, node_mask=mask, properties={"gap": torch.zeros(B).double()})
    plain(x, t, node_mask=mask, properties=None)


def test_bad_arguments_raise():
    x, mask, t = _state()
    with pytest.raises(ValueError, match="unknown backbone 'gcn'; known: egnn, painn, e3nn"):
        MoleculeFlowNet(T, C, backbone="gcn")
    with pytest.raises(ValueError, match="unknown property combination"):
        MoleculeFlowNet(T, C, properties=("gap",), combination="add")
    net = _net("egnn")
    with pytest.raises(ValueError, match="missing fields"):
        net({"pos": x["pos"]}, t, node_mask=mask)
    with pytest.raises(ValueError, match="'atom_type' must be"):
        net({**x, "atom_type": x["atom_type"][..., :2]}, t, node_mask=mask)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_parameter_takes_part_even_unconditionally(backbone):
    """DDP needs a gradient for every parameter, also for properties=None batches."""
    torch.manual_seed(0)
    net = MoleculeFlowNet(T, C, backbone=backbone, hidden=8, layers=2, properties=("gap", "mu"))
    x, mask, t = _state(dtype=torch.float32)
    out = net(x, t, node_mask=mask, properties=None)
    sum(v.square().sum() for v in out.values()).backward()
    unused = [name for name, p in net.named_parameters() if p.grad is None]
    assert unused == []


def test_float64_property_values_meet_a_float32_network():
    net = MoleculeFlowNet(T, C, hidden=8, layers=1, properties=("gap",))
    x, mask, t = _state(dtype=torch.float32)
    out = net(x, t, node_mask=mask, properties={"gap": torch.zeros(B, dtype=torch.float64)})
    assert all(v.dtype == torch.float32 for v in out.values())
