"""Shared test set-up: every test starts from fixed seeds and the default dtype."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

# The suite is many small tensor ops: one intra-op thread per process avoids thread
# contention (make test runs two pytest-xdist workers on the two cores instead).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    """Fix the seeds of torch, numpy and random; restore torch's default dtype afterwards."""
    dtype = torch.get_default_dtype()
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    yield
    torch.set_default_dtype(dtype)
