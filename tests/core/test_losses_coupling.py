"""The coupling hook of the losses: identity coupling changes nothing, OT lowers transport cost."""

import pytest
import torch

from scorelab import VP, ZERO_COM, Field, Interpolant, Predictor
from scorelab.alignment import equivariant_ot_coupling
from scorelab.losses import DSMLoss, FlowMatchingLoss, sample_path
from scorelab.time_proposals import UniformTime

F64 = torch.float64
B, N = 512, 9


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def molecules(seed: int = 0):
    """A molecule-like state: pos (3..N real atoms, off-centre, garbage padding) and features."""
    g = gen(seed)
    real = torch.randint(3, N + 1, (B,), generator=g)
    mask = (torch.arange(N)[None] < real[:, None]).to(F64)
    pos = 1.5 * torch.randn(B, N, 3, generator=g, dtype=F64) + 2.0
    pos = pos + 30.0 * (1 - mask)[..., None]
    h = torch.randn(B, N, 5, generator=g, dtype=F64)
    return {"pos": pos, "h": h}, {"pos": mask, "h": mask[..., None]}


PATH = {"pos": Field(Interpolant("linear"), ZERO_COM), "h": Interpolant("linear")}


def model():
    return Predictor(lambda x, t, **_: {k: 0.5 * v for k, v in x.items()}, "velocity")


@pytest.mark.parametrize("cls", [DSMLoss, FlowMatchingLoss])
def test_identity_coupling_changes_nothing(cls):
    x0, mask = molecules()
    path = {"pos": Field(VP(), ZERO_COM), "h": VP()}
    seen = []

    def identity(data, eps, spec):
        seen.append(data)
        return eps

    loss, plain = cls(path, coupling=identity), cls(path)
    torch.testing.assert_close(
        loss.per_sample(model(), x0, gen(1), mask), plain.per_sample(model(), x0, gen(1), mask)
    )
    m = mask["pos"][..., None]
    com = (seen[0]["pos"] * m).sum(1) / m.sum(1)
    assert float(com.abs().max()) < 1e-12  # the coupling sees the projected data
    assert float((seen[0]["pos"] * (1 - m)).abs().max()) == 0


def test_ot_coupling_lowers_the_transport_cost():
    x0, mask = molecules(2)
    coupling = equivariant_ot_coupling("pos")
    plain = sample_path(PATH, x0, UniformTime(), gen(3), mask)
    ot = sample_path(PATH, x0, UniformTime(), gen(3), mask, coupling=coupling)
    torch.testing.assert_close(ot.t, plain.t)
    assert torch.equal(ot.eps["h"], plain.eps["h"])  # other fields' noise untouched
    m = mask["pos"][..., None]
    assert float(((ot.eps["pos"] * m).sum(1)).abs().max()) < 1e-12  # still CoM-free
    assert float((ot.eps["pos"] * (1 - m)).abs().max()) == 0  # and zero on padding

    def cost(s):
        return (s.x0["pos"] - s.eps["pos"]).pow(2).sum((1, 2))

    ratio = float(cost(ot).mean() / cost(plain).mean())
    assert bool((cost(ot) <= cost(plain) + 1e-9).all())
    assert ratio < 0.3  # measured 0.21 (48.8 -> 10.2): 3..9 atoms of std 1.5, unit noise
    # the loss runs end to end with the coupling and reports it
    loss = FlowMatchingLoss(PATH, coupling=coupling)
    assert float(loss(model(), x0, gen(4), mask)) > 0
    assert repr(loss).endswith(
        "coupling=EquivariantOTCoupling(field='pos', permute=True, rotate=True, iterations=2))"
    )


def test_single_tensor_state():
    x0, mask = molecules(5)
    types = []

    def record(data, eps, spec):
        types.append((type(data), type(eps)))
        return eps

    path = Field(Interpolant("linear"), ZERO_COM)
    sample_path(path, x0["pos"], UniformTime(), gen(6), mask["pos"], coupling=record)
    assert types == [(torch.Tensor, torch.Tensor)]
    plain = sample_path(path, x0["pos"], UniformTime(), gen(6), mask["pos"])
    ot = sample_path(path, x0["pos"], UniformTime(), gen(6), mask["pos"], equivariant_ot_coupling())
    assert float((ot.x0 - ot.eps).pow(2).sum() / (plain.x0 - plain.eps).pow(2).sum()) < 0.5


def test_reprs_show_only_a_given_coupling():
    assert "coupling" not in repr(DSMLoss(VP()))
    r = repr(DSMLoss(VP(), coupling=equivariant_ot_coupling(iterations=1)))
    assert r.endswith("iterations=1))") and "weighting='sigma2'" in r
