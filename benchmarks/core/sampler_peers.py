"""Peer samplers for ``benchmarks.core.samplers``: diffusers schedulers and k-diffusion functions.

Both are optional (installed only in ``.venv-bench`` from ``benchmarks/requirements-peers*.txt``);
``load_peers`` returns, per peer, either a loaded handle or the reason it is unavailable.

diffusers (VP, discrete DDPM schedule): the schedulers keep their own 1000-step linear-beta
schedule (beta 1e-4 .. 0.02, i.e. Song et al.'s discretisation of our ``VP(0.1, 20)``:
beta_i = beta_min / N + (i - 1) / (N - 1) (beta_max - beta_min) / N). Rather than matching
that discretisation to our continuous schedule, each scheduler level is mapped onto our VP
time with the same noise level: alpha(t)^2 = alphas_cumprod[timestep], i.e.
t = VP.t_from_log_snr(0.5 log(ac / (1 - ac))), so both sides step through identical
(alpha, sigma) pairs. The exact model is called at that t and returns eps
(``prediction_type='epsilon'``).

k-diffusion (EDM, sigma(t) = t): the functions take a denoiser D(x, sigma), which is our exact
x0 model on ``EDM()`` called at t = sigma. Both sides get the same sigmas: our Karras grid
from 80 to 0.002 *without* k-diffusion's appended 0 (``get_sigmas_karras`` appends it), so the
last step ends at sigma_min for both.

k-diffusion's package ``__init__`` imports its training stack (torchvision, clean-fid, CLIP,
wandb, ...), none of which is installable here without a CPU torchvision wheel. It is
installed with ``pip install --no-deps k-diffusion`` plus the modules ``sampling.py`` needs
(scipy, torchdiffeq, torchsde, tqdm), and only ``k_diffusion/sampling.py`` is executed, from
its installed location, as ``_kdiff_peer.sampling`` under a private package name (the real
``k_diffusion`` package is never imported). ``sampling.py`` does ``from . import utils`` and
uses only ``utils.append_dims``; ``utils.py`` imports torchvision, so when it fails to import,
``_kdiff_peer.utils`` is a stub holding a verbatim copy of ``append_dims``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

#: Runner signature shared with the benchmark: (model, x, generator, noise_fn) -> output.
Runner = Callable[..., Tensor]

TRAIN_STEPS = 1000
BETA_START, BETA_END = 1e-4, 0.02  # diffusers' defaults = VP(beta_min=0.1, beta_max=20) / 1000
_KD = "_kdiff_peer"


@dataclass
class Peer:
    """A loaded peer library: its version, its module handle and notes on how it was loaded."""

    name: str
    version: str
    module: Any
    notes: list[str] = field(default_factory=list)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _exec_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _append_dims(x, target_dims):
    """Appends dimensions to the end of a tensor until it has target_dims dimensions."""
    # verbatim from k_diffusion/utils.py (0.1.1.post1)
    dims_to_append = target_dims - x.ndim
    if dims_to_append < 0:
        raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}, which is less")
    return x[(...,) + (None,) * dims_to_append]


def load_k_diffusion() -> Peer:
    """Execute only ``k_diffusion/sampling.py`` (see the module docstring)."""
    if f"{_KD}.sampling" in sys.modules:
        return sys.modules[_KD].peer
    spec = importlib.util.find_spec("k_diffusion")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'k_diffusion'")
    root = Path(list(spec.submodule_search_locations)[0])
    pkg = types.ModuleType(_KD)
    pkg.__path__ = [str(root)]
    sys.modules[_KD] = pkg
    notes = [f"only k_diffusion/sampling.py executed (installed copy), as {_KD}.sampling"]
    try:
        pkg.utils = _exec_file(f"{_KD}.utils", root / "utils.py")
        notes.append("k_diffusion/utils.py imported")
    except ImportError as exc:
        stub = types.ModuleType(f"{_KD}.utils")
        stub.append_dims = _append_dims
        sys.modules[stub.__name__] = pkg.utils = stub
        notes.append(f"utils.py not importable ({_reason(exc)}): stubbed with append_dims only")
    try:
        pkg.sampling = _exec_file(f"{_KD}.sampling", root / "sampling.py")
    except BaseException:
        for name in (f"{_KD}.utils", _KD):
            sys.modules.pop(name, None)
        raise
    pkg.peer = Peer("k-diffusion", importlib.metadata.version("k-diffusion"), pkg.sampling, notes)
    return pkg.peer


def load_diffusers() -> Peer:
    import diffusers
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler  # noqa: F401

    return Peer("diffusers", diffusers.__version__, diffusers)


def load_peers(enabled: bool = True) -> dict[str, Peer | str]:
    """Each peer's handle, or the reason it is unavailable (a string)."""
    out: dict[str, Peer | str] = {}
    for name, loader in (("diffusers", load_diffusers), ("k-diffusion", load_k_diffusion)):
        if not enabled:
            out[name] = "disabled (--no-peers)"
            continue
        try:
            out[name] = loader()
        except Exception as exc:  # any import failure makes the peer unavailable, not the run
            out[name] = _reason(exc)
    return out


# --- diffusers ------------------------------------------------------------------------------
def _t_of_alphas_cumprod(path: Any, ac: Tensor) -> Tensor:
    ac = ac.double()
    return path.t_from_log_snr(0.5 * torch.log(ac / (1 - ac)))


def _diffusers_runners(
    scheduler: Callable[[], Any], ts: Tensor, **step_kw: Any
) -> Callable[[], Runner]:
    """A factory of runners: each takes a fresh scheduler through its timesteps with an eps
    model evaluated at our times ``ts`` (``step_kw`` go to ``scheduler.step``)."""

    def make() -> Runner:
        sched = scheduler()

        def run(model, x, generator=None, noise_fn=None):
            tt = ts.to(x.dtype)
            for i, step_t in enumerate(sched.timesteps):
                eps = model(x, tt[i].expand(x.shape[0]))
                x = sched.step(eps, step_t, x, **step_kw).prev_sample
            return x

        return run

    return make


def diffusers_dpmpp_2m(peer: Peer, path: Any, steps: int) -> tuple[Tensor, Callable[[], Runner]]:
    """DPMSolverMultistepScheduler: 2M, dpmsolver++ (data prediction), midpoint, eps model.

    Its default timesteps (``linspace`` spacing) with ``final_sigmas_type='sigma_min'`` (the
    last step lands on timestep 0's noise level instead of 0); ``lower_order_final=True``
    (diffusers' default: first-order last step when there are fewer than 15 steps).
    Returns our time grid (steps + 1 times of ``path``) and a factory of fresh runners.
    """
    cls = peer.module.DPMSolverMultistepScheduler

    def scheduler():
        s = cls(
            num_train_timesteps=TRAIN_STEPS,
            beta_start=BETA_START,
            beta_end=BETA_END,
            beta_schedule="linear",
            solver_order=2,
            prediction_type="epsilon",
            algorithm_type="dpmsolver++",
            solver_type="midpoint",
            lower_order_final=True,
            final_sigmas_type="sigma_min",
        )
        s.set_timesteps(steps)
        return s

    # its sigmas are sqrt((1 - ac) / ac) at the timesteps, in float32: use them as they are
    ts = path.t_from_sigma_ratio(scheduler().sigmas.double())

    return ts, _diffusers_runners(scheduler, ts)


def diffusers_ddim(peer: Peer, path: Any, steps: int) -> tuple[Tensor, Callable[[], Runner]]:
    """DDIMScheduler with eta = 0, eps model, ``trailing`` spacing (starts at timestep 999).

    ``clip_sample=False`` (no clipping of x0) and ``set_alpha_to_one=False`` (the last step
    lands on timestep 0's noise level, as ours does on a grid ending at t > 0).
    """
    cls = peer.module.DDIMScheduler

    def scheduler():
        s = cls(
            num_train_timesteps=TRAIN_STEPS,
            beta_start=BETA_START,
            beta_end=BETA_END,
            beta_schedule="linear",
            clip_sample=False,
            set_alpha_to_one=False,
            timestep_spacing="trailing",
            prediction_type="epsilon",
        )
        s.set_timesteps(steps)
        return s

    sched = scheduler()
    stride = TRAIN_STEPS // steps
    levels = [int(t) for t in sched.timesteps]
    for i, t in enumerate(levels):  # DDIM steps t -> t - stride: must be the next listed level
        nxt = levels[i + 1] if i + 1 < len(levels) else None
        if (nxt is None and t - stride >= 0) or (nxt is not None and t - stride != nxt):
            raise ValueError(f"DDIM trailing timesteps are not evenly spaced for {steps} steps")
    ac = sched.alphas_cumprod.double()
    final = torch.as_tensor(sched.final_alpha_cumprod, dtype=torch.float64).reshape(1)
    ts = _t_of_alphas_cumprod(path, torch.cat([ac[levels], final]))

    return ts, _diffusers_runners(scheduler, ts, eta=0.0)


# --- k-diffusion ----------------------------------------------------------------------------
K_FUNCTIONS = {"dpmpp_2m": "sample_dpmpp_2m", "heun": "sample_heun", "euler": "sample_euler"}


def k_diffusion_sampler(peer: Peer, name: str, ts: Tensor) -> Callable[[], Runner]:
    """k-diffusion's ``sample_<name>`` over sigmas = ``ts`` (an EDM grid: sigma = t)."""
    fn = getattr(peer.module, K_FUNCTIONS[name])

    def make() -> Runner:
        def run(model, x, generator=None, noise_fn=None):
            return fn(model, x, ts.to(x.dtype), disable=True)

        return run

    return make


def karras_grid_difference(peer: Peer, ts: Tensor, sigma_min: float, sigma_max: float) -> float:
    """Max relative difference between our Karras grid and k-diffusion's (without its 0)."""
    theirs = peer.module.get_sigmas_karras(len(ts), sigma_min, sigma_max)[:-1].double()
    return float(((ts.double() - theirs) / ts.double()).abs().max())


__all__ = [
    "K_FUNCTIONS",
    "Peer",
    "diffusers_ddim",
    "diffusers_dpmpp_2m",
    "k_diffusion_sampler",
    "karras_grid_difference",
    "load_diffusers",
    "load_k_diffusion",
    "load_peers",
]
