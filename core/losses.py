"""Training losses: denoising score matching and flow matching, as EDM-style callables.

Both draw one time per sample (shared by all fields of a structured state), geometry-aware
noise (``Spec.randn_like``: centre-of-mass-free for ``ZeroCoM`` fields, zero on padding)
and x_t = alpha(t) x0 + sigma(t) eps per field, then compare the model's prediction,
converted with ``predict``, to the regression target.

Normalisation: the per-sample loss is the weighted squared error summed over fields and
entries, after projecting the error onto each field's geometry (padding and, for
``ZeroCoM``, the centre-of-mass direction drop out), divided by the sample's number of
free dimensions ``Spec.dims`` (real entries; (n - 1) * D for a ZeroCoM field of n real
points). An exact model therefore has the same per-dimension loss whatever the padding.
x0 is first projected onto each field's geometry (padding zeroed, ZeroCoM fields centred
over their real points), as ``log_likelihood`` does, so the model never sees padding values.

Coupling: by default each data point is paired with an independent noise draw. A
``coupling(x0, eps, spec) -> eps`` (``Coupling``) may re-pair them, e.g. equivariant optimal
transport (``scorelab.alignment.equivariant_ot_coupling``: the noise rotated and permuted
towards its data point), so that paths cross less. It receives the projected data and the
drawn noise and its output is projected again. It must keep the noise's marginal law for
the loss to stay a valid flow-matching objective: rotations and permutations of iid noise
do, under a rotation- and permutation-invariant data law (or an equivariant model).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .parameterization import from_x0_eps, predict
from .paths.base import GaussianPath
from .registry import Registry
from .state import Field, MaskLike, PathLike, Spec, State, first
from .time_proposals import TIME_PROPOSALS, UniformTime

Weighting = Callable[[GaussianPath, Tensor], Tensor]
TimeProposal = Callable[..., Tensor]
Coupling = Callable[[State, State, Spec], State]


# --- weightings: lambda(t) as a weight on the eps-MSE ---------------------------------------
def sigma2_weight(path: GaussianPath, t: Tensor) -> Tensor:
    """Song et al.'s lambda = sigma^2 on the score MSE: the plain eps-MSE (weight 1)."""
    return torch.ones_like(t)


def likelihood_weight(path: GaussianPath, t: Tensor) -> Tensor:
    """lambda = g(t)^2 on the score MSE (Song et al. 2021, an NLL bound): g^2 / sigma^2 on eps."""
    return path.diffusion(t) ** 2 / path.sigma(t) ** 2


def edm_weight(path: GaussianPath, t: Tensor) -> Tensor:
    """EDM's (s^2 + sd^2) / (s sd)^2 on the x0-MSE (s = sigma/alpha): (s^2 + sd^2) / sd^2 on eps.

    ``sd`` is ``path.sigma_data`` when the path has one (``EDM``), else 0.5.
    """
    sd = getattr(path, "sigma_data", 0.5)
    s = path.sigma(t) / path.alpha(t)
    return (s * s + sd * sd) / (sd * sd)


def x0_weight(path: GaussianPath, t: Tensor) -> Tensor:
    """(sigma/alpha)^2 on the eps-MSE: the plain x0-MSE, the endpoint loss of FlowMol and
    SemlaFlow. alpha is floored at 1e-4, so a time at the pure-noise end stays finite."""
    return (path.sigma(t) / path.alpha(t).clamp(min=1e-4)) ** 2


WEIGHTINGS: Registry[Weighting] = Registry("weighting")
WEIGHTINGS.register("sigma2")(sigma2_weight)
WEIGHTINGS.register("likelihood")(likelihood_weight)
WEIGHTINGS.register("edm")(edm_weight)
WEIGHTINGS.register("x0")(x0_weight)


# --- the shared part: draw t, draw noise, build x_t -----------------------------------------
@dataclass(frozen=True)
class PathSample:
    """One draw from the path for a batch: times (B,), noise and x_t shaped like x0."""

    spec: Spec
    x0: State
    t: Tensor
    eps: State
    xt: State


def reference_path(path: PathLike) -> GaussianPath:
    """The path the time proposal sees: the path itself, or the first field's for a dict."""
    if isinstance(path, Mapping):
        if not path:
            raise ValueError("got an empty dict of per-field paths")
        path = next(iter(path.values()))
    return path.path if isinstance(path, Field) else path


def sample_path(
    path: PathLike,
    x0: State,
    time_proposal: TimeProposal,
    generator: torch.Generator | None = None,
    mask: MaskLike = None,
    coupling: Coupling | None = None,
) -> PathSample:
    """Project x0, draw one time per sample and geometry-aware noise, build x_t per field.

    ``coupling(x0, eps, spec)``, when given, re-pairs the noise with the (projected) data.
    """
    spec = Spec(path, x0, mask)
    spec.check(x0, "x0")
    x0 = spec.project(x0)
    ref = first(x0)
    t = time_proposal(
        spec.batch_size(x0),
        reference_path(path),
        generator=generator,
        dtype=ref.dtype,
        device=ref.device,
    )
    eps = spec.randn_like(x0, generator)
    if coupling is not None:
        eps = spec.project(coupling(x0, eps, spec))
    xt = spec.map(lambda v, a, e: v.path.marginal(a, t, e), x0, eps)
    return PathSample(spec, x0, t, eps, xt)


def _resolve_proposal(p: TimeProposal | str) -> TimeProposal:
    return TIME_PROPOSALS.get(p)() if isinstance(p, str) else p


def _sqerr(view, pred: Tensor, target: Tensor) -> Tensor:
    return view.sqnorm(view.project(pred - target))


class _PathLoss:
    """Shared call protocol: ``loss(model, x0, generator=None, mask=None, **cond)``."""

    def __init__(
        self,
        path: PathLike,
        time_proposal: TimeProposal | str | None,
        coupling: Coupling | None = None,
    ) -> None:
        self.path = path
        self.time_proposal = _resolve_proposal(time_proposal or UniformTime())
        self.coupling = coupling
        reference_path(path)  # fail early on an empty dict

    def _coupling_repr(self) -> str:
        return "" if self.coupling is None else f", coupling={self.coupling!r}"

    def _error(self, s: PathSample, model: Callable[..., State], cond: dict) -> Tensor:
        raise NotImplementedError

    def per_sample(
        self,
        model: Callable[..., State],
        x0: State,
        generator: torch.Generator | None = None,
        mask: MaskLike = None,
        **cond,
    ) -> Tensor:
        """Per-sample loss, shape (B,): the summed error over free dimensions, per dimension."""
        s = sample_path(self.path, x0, self.time_proposal, generator, mask, self.coupling)
        return self._error(s, model, cond) / s.spec.dims(x0).clamp(min=1)

    def __call__(
        self,
        model: Callable[..., State],
        x0: State,
        generator: torch.Generator | None = None,
        mask: MaskLike = None,
        **cond,
    ) -> Tensor:
        """Mean loss over the batch (a scalar)."""
        return self.per_sample(model, x0, generator, mask, **cond).mean()


class DSMLoss(_PathLoss):
    """Denoising score matching as a weighted eps-MSE: weight(t) ||eps_hat - eps||^2 / dims.

    ``weighting`` is a name in ``WEIGHTINGS`` (sigma2, likelihood, edm, x0) or a callable
    ``(path, t) -> (B,)`` giving the weight on the eps-MSE; ``time_proposal`` is a name in
    ``TIME_PROPOSALS`` or a proposal object. Any model kind works: the prediction is
    converted to eps exactly with ``predict``. ``coupling`` re-pairs noise with data (above).
    """

    def __init__(
        self,
        path: PathLike,
        weighting: str | Weighting = "sigma2",
        time_proposal: TimeProposal | str | None = None,
        coupling: Coupling | None = None,
    ) -> None:
        self.weighting = weighting
        self.weight_fn = WEIGHTINGS.get(weighting) if isinstance(weighting, str) else weighting
        super().__init__(path, time_proposal, coupling)

    def _error(self, s: PathSample, model: Callable[..., State], cond: dict) -> Tensor:
        eps_hat = predict(model, s.xt, s.t, s.spec, to="eps", **cond)
        return s.spec.reduce(
            lambda v, e_hat, e: self.weight_fn(v.path, s.t) * _sqerr(v, e_hat, e), eps_hat, s.eps
        )

    def __repr__(self) -> str:
        w = (
            self.weighting
            if isinstance(self.weighting, str)
            else getattr(self.weighting, "__name__", "custom")
        )
        return (
            f"DSMLoss(path={self.path!r}, weighting={w!r}, "
            f"time_proposal={self.time_proposal!r}{self._coupling_repr()})"
        )


class FlowMatchingLoss(_PathLoss):
    """Flow matching / interpolant velocity loss ||u_hat - u||^2 / dims, u = alpha' x0 + sigma' eps.

    Works on any Gaussian path (for the linear interpolant u = eps - x0, rectified flow).
    ``coupling`` re-pairs noise with data, e.g. ``equivariant_ot_coupling("pos")`` (above).
    """

    def __init__(
        self,
        path: PathLike,
        time_proposal: TimeProposal | str | None = None,
        coupling: Coupling | None = None,
    ) -> None:
        super().__init__(path, time_proposal, coupling)

    def _error(self, s: PathSample, model: Callable[..., State], cond: dict) -> Tensor:
        u_hat = predict(model, s.xt, s.t, s.spec, to="velocity", **cond)

        def err(v, uh, a, e, xt):
            return _sqerr(v, uh, from_x0_eps(a, e, "velocity", xt, s.t, v.path))

        return s.spec.reduce(err, u_hat, s.x0, s.eps, s.xt)

    def __repr__(self) -> str:
        return (
            f"FlowMatchingLoss(path={self.path!r}, "
            f"time_proposal={self.time_proposal!r}{self._coupling_repr()})"
        )


__all__ = [
    "WEIGHTINGS",
    "Coupling",
    "DSMLoss",
    "FlowMatchingLoss",
    "PathSample",
    "edm_weight",
    "likelihood_weight",
    "reference_path",
    "sample_path",
    "sigma2_weight",
    "x0_weight",
]
