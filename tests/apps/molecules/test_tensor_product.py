"""The depthwise e3nn tensor-product backbone: E(3) equivariance, depthwise paths, padding."""

from __future__ import annotations

import sys

import pytest
import torch

pytest.importorskip("e3nn")
from scorelab.apps.molecules.tensor_product import INSTALL_HINT, TensorProductNet  # noqa: E402

from .backbone_checks import B, D, N, inputs, vector_backbone_report  # noqa: E402


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {
        1: TensorProductNet(D, 8, 2, irreps="8x0e + 4x1o").double(),
        2: TensorProductNet(D, 8, 2, irreps="8x0e + 4x1o + 2x2e", lmax=2).double(),
    }


def test_tensor_products_are_depthwise(nets):
    """Every path is "uvu": one weight per input channel, none mixing channels."""
    for net in nets.values():
        for layer in net.layers:
            tp = layer.tp
            assert {ins.connection_mode for ins in tp.instructions} == {"uvu"}
            per_path = [tp.irreps_in1[ins.i_in1].mul for ins in tp.instructions]
            assert tp.weight_numel == sum(per_path)
    # l <= 1 edges on 0e + 1o nodes: 0e x 0e, 0e x 1o, 1o x 0e, 1o x 1o -> 0e (not 1e, 2e)
    assert len(nets[1].layers[0].tp.instructions) == 4


@pytest.mark.parametrize("lmax", [1, 2])
def test_tensor_product_net_is_e3_equivariant(nets, lmax):
    report, out = vector_backbone_report(nets[lmax])
    report.assert_ok(atol=1e-8)  # e3nn's l = 2 constants carry ~1e-10 error in float64
    assert out["s"].shape == (B, N, 8) and out["v"].abs().max() > 1e-3


def test_two_atoms_get_vectors_along_their_bond(nets):
    h, x, _ = inputs()
    mask = torch.zeros(B, N, dtype=torch.bool)
    mask[:, :2] = True
    _, v = nets[2](h, x, mask)
    bond = x[:, 0] - x[:, 1]
    assert torch.linalg.cross(v[:, 0], bond).abs().max() < 1e-8
    assert v[:, 0].abs().max() > 1e-4


def test_padding_contents_do_not_change_real_outputs(nets):
    net = nets[1]
    h, x, mask = inputs()
    s, v = net(h, x, mask)
    pad = ~mask
    h2, x2 = h.clone(), x.clone()
    h2[pad] = float("nan")
    x2[pad] = 1e6 * torch.randn_like(x2[pad])
    s2, v2 = net(h2, x2, mask)
    torch.testing.assert_close(s2, s, rtol=0, atol=0)
    torch.testing.assert_close(v2, v, rtol=0, atol=0)
    assert s[pad].abs().max() == 0 and v[pad].abs().max() == 0


def test_default_irreps_and_bad_irreps():
    net = TensorProductNet(D, 16, 1)
    assert str(net.irreps) == "16x0e+4x1o" and net.out_dim == 16
    with pytest.raises(ValueError, match="1o"):
        TensorProductNet(D, 8, 1, irreps="8x0e + 4x1e")
    with pytest.raises(ValueError, match="0o"):
        TensorProductNet(D, 8, 1, irreps="8x0e + 2x0o + 4x1o")


def test_missing_e3nn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "e3nn", None)
    with pytest.raises(ImportError, match=r"pip install 'scorelab\[molecules\]'"):
        TensorProductNet(D, 8, 1)
    assert "scorelab[molecules]" in INSTALL_HINT
