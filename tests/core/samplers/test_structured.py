"""Structured states through every sampler: CoM-free fields stay CoM-free, padding never moves."""

import pytest
import torch

import scorelab as sl
from scorelab import samplers as S

F64 = torch.float64
FIXED_STEP = [
    "euler",
    "heun",
    "euler_maruyama",
    "reverse_diffusion",
    "pc",
    "ddim",
    "ancestral",
    "dpmpp_2m",
]


class CloudModel(torch.nn.Module):
    """Exact x0 for pos ~ N(0, s_p^2) on the CoM-free subspace and h ~ N(m, s_h^2) per real entry.

    Reads only real nodes (node_mask), as a well-behaved network does.
    """

    prediction = {"pos": "x0", "h": "x0"}

    def __init__(self, path, node_mask, s_p=0.8, m=0.5, s_h=0.3):
        super().__init__()
        self.path, self.mask, self.s_p, self.m, self.s_h = (
            path,
            node_mask[..., None].to(F64),
            s_p,
            m,
            s_h,
        )

    def forward(self, x, t):
        a = self.path.alpha(t)[:, None, None]
        s = self.path.sigma(t)[:, None, None]
        pos = sl.ZERO_COM.project(x["pos"] * self.mask, self.mask)
        h = x["h"] * self.mask
        x0_pos = a * self.s_p**2 / (a * a * self.s_p**2 + s * s) * pos
        x0_h = self.m + a * self.s_h**2 / (a * a * self.s_h**2 + s * s) * (h - a * self.m)
        return {"pos": x0_pos, "h": x0_h * self.mask}


def _setup(batch=256, n_max=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(3, n_max + 1, (batch,), generator=g)
    node_mask = (torch.arange(n_max)[None] < sizes[:, None]).to(F64)
    path = sl.VP()
    paths = {"pos": sl.Field(path, sl.ZERO_COM), "h": path}
    masks = {"pos": node_mask, "h": node_mask}
    x = {
        "pos": torch.randn(batch, n_max, 3, generator=g, dtype=F64),
        "h": torch.randn(batch, n_max, 2, generator=g, dtype=F64),
    }
    x = sl.Spec(paths, x, masks).project(x)
    pad = (1 - node_mask)[..., None]
    x = {k: v + 7.0 * pad for k, v in x.items()}  # sentinel values on padding
    return path, paths, masks, node_mask, x


def _com(pos, node_mask):
    m = node_mask[..., None]
    return (pos * m).sum(1) / m.sum(1)


@pytest.mark.parametrize("name", FIXED_STEP + ["adaptive"])
def test_com_free_and_padding_fixed(name):
    path, paths, masks, node_mask, x = _setup()
    model = CloudModel(path, node_mask)
    coms = []
    cb = lambda d: coms.append(_com(d["x"]["pos"], node_mask).abs().max())  # noqa: E731
    out = S.get_sampler(name)(
        model,
        x,
        S.karras_grid(path, 12),
        paths,
        mask=masks,
        generator=torch.Generator().manual_seed(1),
        callback=cb,
    )
    pad = node_mask == 0
    for k in ("pos", "h"):
        assert torch.equal(out[k][pad], x[k][pad]), f"padding of {k} moved"
    assert _com(out["pos"], node_mask).abs().max() < 1e-12
    assert all(c < 1e-12 for c in coms)


@pytest.mark.parametrize("name", FIXED_STEP)
def test_padding_never_affects_real_entries(name):
    path, paths, masks, node_mask, x = _setup(batch=64)
    model = CloudModel(path, node_mask)
    pad = (1 - node_mask)[..., None]
    y = {k: v + 3.0 * pad * torch.randn_like(v) for k, v in x.items()}

    def run(state):
        gen = torch.Generator().manual_seed(2)
        return S.get_sampler(name)(
            model, state, S.karras_grid(path, 8), paths, mask=masks, generator=gen
        )

    a, b = run(x), run(y)
    real = node_mask == 1
    for k in ("pos", "h"):
        torch.testing.assert_close(a[k][real], b[k][real], rtol=1e-12, atol=1e-12)


def test_structured_output_law():
    """Heun on the cloud model: coordinates get variance s_p^2 (1 - 1/n), h gets N(m, s_h^2)."""
    path, paths, masks, node_mask, _ = _setup(batch=4000, n_max=4, seed=3)
    node_mask = torch.ones_like(node_mask)  # fixed size n = 4 for a clean closed form
    masks = {"pos": node_mask, "h": node_mask}
    model = CloudModel(path, node_mask)
    shape = {"pos": (4000, 4, 3), "h": (4000, 4, 2)}
    out = S.sample(
        model,
        paths,
        shape,
        sampler="heun",
        steps=40,
        mask=masks,
        generator=torch.Generator().manual_seed(4),
        dtype=F64,
    )
    var_pos = out["pos"].var(0).mean()
    assert abs(float(var_pos) - 0.8**2 * (1 - 1 / 4)) < 0.03
    assert abs(float(out["h"].mean()) - 0.5) < 0.01
    assert abs(float(out["h"].std()) - 0.3) < 0.01
