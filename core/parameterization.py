"""Parameterizations: what a network predicts, and exact conversions between the kinds.

For a Gaussian path x_t = alpha x0 + sigma eps, every prediction is a linear function of
the pair (x0, eps) given x_t, so each kind converts exactly to every other:

========== ===========================================================
``x0``     E[x0 | x_t] (the denoiser D)
``eps``    E[eps | x_t]
``score``  grad log p_t(x_t) = -eps / sigma
``v``      a eps - s x0 with (a, s) = (alpha, sigma) / sqrt(alpha^2 + sigma^2)
           (Salimans & Ho 2022; the same as theirs on VP paths)
``velocity`` dx_t/dt = alpha' x0 + sigma' eps, the PF-ODE drift and the
           flow-matching target
========== ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .broadcast import append_dims, batch_time
from .paths.base import GaussianPath
from .state import Spec, State, first

KINDS = ("x0", "eps", "score", "v", "velocity")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown prediction kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


def _coefs(path: GaussianPath, t: Tensor, ndim: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return tuple(append_dims(c, ndim) for c in path.schedule(t))


def to_x0_eps(
    pred: Tensor, kind: str, x: Tensor, t: Tensor, path: GaussianPath, coefs: tuple | None = None
) -> tuple[Tensor, Tensor]:
    """Turn a prediction of ``kind`` at (x_t, t) into the pair (x0, eps).

    ``coefs`` may carry the broadcast (alpha, sigma, alpha', sigma') at t, already computed.
    """
    a, s, da, ds = coefs or _coefs(path, t, x.ndim)
    kind = _check_kind(kind)
    if kind == "x0":
        return pred, (x - a * pred) / s
    if kind in ("eps", "score"):
        eps = pred if kind == "eps" else -s * pred
        return (x - s * eps) / a, eps
    if kind == "v":
        n = torch.sqrt(a * a + s * s)
        a, s, xn = a / n, s / n, x / n
        return a * xn - s * pred, s * xn + a * pred
    det = a * ds - s * da  # velocity: solve [a s; da ds] (x0, eps) = (x, u)
    return (ds * x - s * pred) / det, (a * pred - da * x) / det


def from_x0_eps(
    x0: Tensor,
    eps: Tensor,
    kind: str,
    x: Tensor,
    t: Tensor,
    path: GaussianPath,
    coefs: tuple | None = None,
) -> Tensor:
    """Express the pair (x0, eps) at (x_t, t) as a prediction of ``kind``."""
    a, s, da, ds = coefs or _coefs(path, t, x.ndim)
    kind = _check_kind(kind)
    if kind == "x0":
        return x0
    if kind == "eps":
        return eps
    if kind == "score":
        return -eps / s
    if kind == "v":
        n = torch.sqrt(a * a + s * s)
        return (a * eps - s * x0) / n
    return da * x0 + ds * eps


def convert(pred: Tensor, frm: str, to: str, x: Tensor, t: Tensor, path: GaussianPath) -> Tensor:
    """Convert a single-tensor prediction from kind ``frm`` to kind ``to`` (exact)."""
    if frm == to:
        _check_kind(frm)
        return pred
    coefs = _coefs(path, t, x.ndim)
    x0, eps = to_x0_eps(pred, frm, x, t, path, coefs)
    return from_x0_eps(x0, eps, to, x, t, path, coefs)


class Predictor(nn.Module):
    """A network ``net(x, t, **cond)`` whose output is a prediction of a stated kind.

    ``prediction`` is one kind for a tensor state or a dict of kinds per field.
    Samplers, losses and likelihood read it to convert outputs; the path is always
    passed to them separately.
    """

    def __init__(self, net: Callable[..., Any], prediction: str | Mapping[str, str]) -> None:
        super().__init__()
        kinds = prediction.values() if isinstance(prediction, Mapping) else [prediction]
        for k in kinds:
            _check_kind(k)
        self.net = net
        self.prediction = dict(prediction) if isinstance(prediction, Mapping) else prediction

    def forward(self, x: State, t: Tensor, **cond) -> State:
        return self.net(x, t, **cond)


def _kind_of(model: Any, name: str, structured: bool) -> str:
    kind = getattr(model, "prediction", None)
    if kind is None:
        raise TypeError(
            "the model has no `prediction` attribute; wrap the network as "
            "scorelab.Predictor(net, prediction='eps' | 'x0' | 'score' | 'v' | 'velocity')"
        )
    if isinstance(kind, Mapping):
        if name not in kind:
            raise ValueError(f"model.prediction has no kind for field {name!r}")
        return kind[name]
    return kind


def predict(model: Any, x: State, t: float | Tensor, spec: Spec, to: str, **cond) -> State:
    """Call ``model(x, t, **cond)`` once and return its prediction as kind ``to`` per field.

    ``to`` may be one kind or ``"x0,eps"`` for the pair, returned as a tuple of states.
    """
    tb = batch_time(t, spec.batch_size(x), first(x))
    out = model(x, tb, **cond)
    # one shared time: convert with the scalar (a step's coefficients once, not per sample)
    tc = tb[0] if torch.as_tensor(t).ndim == 0 else tb
    if isinstance(out, Mapping) != spec.structured:
        raise ValueError(
            "the model returned a different structure (tensor vs. dict) than the state"
        )

    def one(view, xf, of):
        if of.shape != xf.shape:
            raise ValueError(
                f"model output for {view.name!r} has shape {tuple(of.shape)}, "
                f"state has {tuple(xf.shape)}"
            )
        kind = _kind_of(model, view.name, spec.structured)
        if to == "x0,eps":
            return to_x0_eps(of, kind, xf, tc, view.path)
        return convert(of, kind, to, xf, tc, view.path)

    res = spec.map(one, x, out)
    if to == "x0,eps" and spec.structured:
        return {k: v[0] for k, v in res.items()}, {k: v[1] for k, v in res.items()}
    return res
