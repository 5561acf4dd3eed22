"""The symmetric-matrix geometry (graph adjacency): projection, noise, norms, densities."""

from __future__ import annotations

import math

import pytest
import torch

import scorelab as sl
from scorelab import SYMMETRIC_MATRIX as SYM
from scorelab import samplers as S

F64 = torch.float64
N_REAL, N = [5, 3, 1, 6], 6


def adj_mask(n_real: list[int], n: int) -> torch.Tensor:
    """(B, N, N) mask: entries between real nodes."""
    m = (torch.arange(n)[None, :] < torch.tensor(n_real)[:, None]).to(F64)
    return m[:, :, None] * m[:, None, :]


def upper(v: torch.Tensor) -> torch.Tensor:
    i, j = torch.triu_indices(v.shape[-1], v.shape[-1], 1)
    return v[:, i, j]


def test_project_is_an_orthogonal_projection_onto_symmetric_zero_diagonal():
    g = torch.Generator().manual_seed(0)
    mask = adj_mask(N_REAL, N)
    v, w = torch.randn(2, 4, N, N, generator=g, dtype=F64)
    p = SYM.project(v, mask)
    torch.testing.assert_close(p, p.transpose(-1, -2))
    assert torch.diagonal(p, dim1=-2, dim2=-1).abs().max() == 0
    assert (p * (1 - mask)).abs().max() == 0
    torch.testing.assert_close(SYM.project(p, mask), p)  # idempotent
    # self-adjoint in the Frobenius inner product
    lhs = (SYM.project(v, mask) * w).sum()
    rhs = (v * SYM.project(w, mask)).sum()
    torch.testing.assert_close(lhs, rhs)


def test_noise_is_standard_on_the_upper_triangle_and_mirrored():
    mask = adj_mask(N_REAL, N)
    z = SYM.randn_like(torch.zeros(20_000, N, N, dtype=F64), generator=torch.Generator())
    torch.testing.assert_close(z, z.transpose(-1, -2))
    u = upper(z)
    assert abs(float(u.mean())) < 0.01
    assert abs(float(u.var()) - 1.0) < 0.02  # not 1/2, as symmetrising full noise would give
    zm = SYM.randn_like(torch.zeros(4, N, N, dtype=F64), mask)
    assert (zm * (1 - mask)).abs().max() == 0


def test_dims_and_sqnorm_count_free_coordinates():
    mask = adj_mask(N_REAL, N)
    x = torch.randn(4, N, N, dtype=F64)
    dims = SYM.dims(x, mask)
    torch.testing.assert_close(dims, torch.tensor([n * (n - 1) / 2 for n in N_REAL], dtype=F64))
    v = SYM.project(x, mask)
    torch.testing.assert_close(SYM.sqnorm(v, mask), upper(v).pow(2).sum(1))
    assert float(SYM.dims(x)[0]) == N * (N - 1) / 2


def test_prior_logp_is_the_density_of_the_upper_triangle():
    path = sl.VE(sigma_min=0.2, sigma_max=1.5)
    mask = adj_mask(N_REAL, N)
    x = SYM.project(torch.randn(4, N, N, dtype=F64), mask)
    spec = sl.Spec({"adj": sl.Field(path, SYM)}, {"adj": x}, {"adj": mask})
    s = path.prior_std()
    normal = torch.distributions.Normal(0.0, s)
    ref = torch.stack(
        [
            normal.log_prob(upper(x[b : b + 1])[0][upper(mask[b : b + 1])[0] > 0]).sum()
            for b in range(4)
        ]
    )
    torch.testing.assert_close(spec.prior_logp({"adj": x}), ref)


def test_wrong_shape_is_named():
    with pytest.raises(ValueError, match="SymmetricMatrix"):
        SYM.project(torch.zeros(2, 3, 4))


@pytest.mark.parametrize("sampler,opts", [("reverse_diffusion", {}), ("pc", {"snr": 0.05})])
def test_samplers_reach_an_exact_gaussian_on_symmetric_matrices(sampler, opts):
    """Upper entries iid N(m, s^2), exact eps on a VP path: samples keep symmetry, padding, law."""
    path = sl.VP(beta_min=0.1, beta_max=20.0)
    m, s = 0.7, 0.3

    def net(x, t):
        a, sig = path.alpha(t)[:, None, None], path.sigma(t)[:, None, None]
        return {"adj": sig * (x["adj"] - a * m) / (a * a * s * s + sig * sig)}

    model = sl.Predictor(net, {"adj": "eps"})
    mask = adj_mask([4] * 6000, 5)
    out = S.sample(
        model,
        {"adj": sl.Field(path, SYM)},
        {"adj": (6000, 5, 5)},
        sampler=sampler,
        steps=200,
        grid="uniform",
        mask={"adj": mask},
        generator=torch.Generator().manual_seed(0),
        dtype=F64,
        **opts,
    )["adj"]
    torch.testing.assert_close(out, out.transpose(-1, -2))
    assert (out * (1 - mask)).abs().max() == 0
    assert torch.diagonal(out, dim1=-2, dim2=-1).abs().max() == 0
    u = upper(out[:, :4, :4])  # the 4 real nodes' 6 pairs
    assert abs(float(u.mean()) - m) < 0.02
    assert abs(float(u.std()) - s) < 0.02, float(u.std())
    assert math.isfinite(float(u.sum()))
