"""Shared exact targets for the sampler tests."""

import pytest
import torch

import scorelab as sl
from scorelab.testing import GaussianMixture

F64 = torch.float64


@pytest.fixture(scope="session")
def gauss3() -> GaussianMixture:
    """An anisotropic, off-centre Gaussian in d = 3."""
    mean = torch.tensor([1.0, -0.5, 0.3], dtype=F64)
    a = torch.tensor([[0.7, 0.2, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.3]], dtype=F64)
    return GaussianMixture.gaussian(mean, a @ a.T + 0.05 * torch.eye(3, dtype=F64))


@pytest.fixture(scope="session")
def gmm2() -> GaussianMixture:
    """A 4-component mixture in d = 2."""
    return GaussianMixture.random(2, 4, seed=1)


PATHS = {
    "vp": sl.VP(),
    "subvp": sl.SubVP(),
    "ve": sl.VE(),
    "edm": sl.EDM(),
    "linear": sl.Interpolant("linear"),
    "trig": sl.Interpolant("trig"),
}
