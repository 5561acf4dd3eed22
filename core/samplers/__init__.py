"""Samplers: stateless functions over (model, state, time grid, path).

Every sampler is called as ``sampler(model, x, ts, path, *, mask=None, cond=None,
generator=None, noise_fn=None, callback=None, progress=False, **options)`` where ``x`` is
the prior sample at ``ts[0]`` and ``ts`` a decreasing grid (see ``grids``). ``sample``
draws the prior and builds the grid by name.

The seed methods' samplers take more than that call and are exported here, not registered in
``SAMPLERS``: ``sample_fkc`` (a composed target from ``scorelab.guidance``), ``sample_mrs`` (the
condition ``mu`` of a mean-reverting path) and ``sample_dmcmc`` (a chain, a noise-level
estimator and an inner solver) and ``sample_interpolant`` (velocity and score of a two-sided
stochastic interpolant, whose base need not be Gaussian).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..registry import Registry
from ..state import MaskLike, PathLike, Spec, State
from .adaptive import sample_adaptive
from .base import CountNFE, check_grid
from .ddim import sample_ancestral, sample_ddim
from .dmcmc import DMCMCInfo, sample_dmcmc
from .dpm_solver import sample_dpmpp_2m
from .fkc import sample_fkc
from .grids import GRIDS, get_grid, karras_grid, log_snr_grid, uniform_grid
from .interpolant_sde import sample_interpolant
from .mrs import sample_mrs, sample_shifted
from .ode import sample_euler, sample_heun
from .sde import (
    langevin_step,
    sample_euler_maruyama,
    sample_pc,
    sample_reverse_diffusion,
    sample_s4,
)

SAMPLERS: Registry = Registry("sampler")
for _name, _fn in {
    "euler": sample_euler,
    "heun": sample_heun,
    "euler_maruyama": sample_euler_maruyama,
    "reverse_diffusion": sample_reverse_diffusion,
    "pc": sample_pc,
    "s4": sample_s4,
    "ddim": sample_ddim,
    "ancestral": sample_ancestral,
    "dpmpp_2m": sample_dpmpp_2m,
    "adaptive": sample_adaptive,
}.items():
    SAMPLERS.register(_name)(_fn)

#: NFE per step for each fixed-step sampler (Heun: 1 on a final noise-free step).
NFE_PER_STEP = {
    "euler": 1,
    "heun": 2,
    "euler_maruyama": 1,
    "reverse_diffusion": 1,
    "pc": 2,
    "s4": 1,
    "ddim": 1,
    "ancestral": 1,
    "dpmpp_2m": 1,
}


#: Samplers that inject noise. They suit a uniform grid, and on a flow path (singular SDE at
#: t = 1) they start just below 1.
STOCHASTIC = frozenset({"euler_maruyama", "reverse_diffusion", "pc", "s4", "ancestral"})


def default_grid(sampler: str) -> str:
    """The grid a sampler is usually run on: uniform for stochastic ones, else Karras."""
    return "uniform" if sampler in STOCHASTIC else "karras"


def get_sampler(name: str):
    """The sampler function registered as ``name``."""
    return SAMPLERS.get(name)


def _template(path: PathLike, shape: Any, dtype: torch.dtype, device: Any) -> State:
    if isinstance(shape, Mapping):
        return {k: torch.zeros(tuple(s), dtype=dtype, device=device) for k, s in shape.items()}
    return torch.zeros(tuple(shape), dtype=dtype, device=device)


def sample(
    model: Any,
    path: PathLike,
    shape: tuple[int, ...] | Mapping[str, tuple[int, ...]],
    *,
    sampler: str = "heun",
    steps: int = 50,
    grid: str = "karras",
    grid_path: Any = None,
    grid_options: Mapping[str, Any] | None = None,
    mask: MaskLike = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: Any = "cpu",
    **options: Any,
) -> State:
    """Draw the prior for ``shape`` and run sampler ``sampler`` over grid ``grid`` of ``steps``.

    For per-field paths the grid is built on ``grid_path`` (default: the first field's path);
    ``grid_options`` go to the grid (e.g. ``{"t_max": 0.999}``, ``{"rho": 5}``).
    """
    fn = get_sampler(sampler)
    template = _template(path, shape, dtype, device)
    spec = Spec(path, template, mask)
    x = spec.prior_sample(template, generator)
    gpath = grid_path or next(iter(spec.views.values())).path
    ts = get_grid(grid, gpath, steps, **dict(grid_options or {}))
    return fn(model, x, ts, path, mask=mask, generator=generator, **options)


__all__ = [
    "DMCMCInfo",
    "STOCHASTIC",
    "default_grid",
    "GRIDS",
    "NFE_PER_STEP",
    "SAMPLERS",
    "CountNFE",
    "check_grid",
    "get_grid",
    "get_sampler",
    "karras_grid",
    "langevin_step",
    "log_snr_grid",
    "sample",
    "sample_adaptive",
    "sample_ancestral",
    "sample_ddim",
    "sample_dmcmc",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_euler_maruyama",
    "sample_fkc",
    "sample_heun",
    "sample_interpolant",
    "sample_mrs",
    "sample_pc",
    "sample_reverse_diffusion",
    "sample_s4",
    "sample_shifted",
    "uniform_grid",
]
