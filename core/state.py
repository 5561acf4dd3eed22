"""Structured state: a sample is one tensor or named fields, each with its own path and geometry.

``Spec`` binds the per-field paths and geometries and the per-call masks to a state,
checks it once at the entry of a sampler, loss or likelihood, and maps per-field math
over it, so that the same code serves images (one tensor) and graphs or molecules
(``{"x": ..., "adj": ...}`` or ``{"pos": ..., "atom_type": ...}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .broadcast import append_dims
from .checks import check_finite, check_rank
from .geometry import EUCLIDEAN, Euclidean
from .paths.base import GaussianPath

State = Tensor | dict[str, Tensor]
MaskLike = Tensor | Mapping[str, Tensor] | None


@dataclass(frozen=True)
class Field:
    """How one field is noised: its path and its geometry."""

    path: GaussianPath
    geometry: Euclidean = EUCLIDEAN


PathLike = GaussianPath | Field | Mapping[str, GaussianPath | Field]


@dataclass(frozen=True)
class FieldView:
    """A field bound to this call's mask: what per-field math receives."""

    name: str
    path: GaussianPath
    geometry: Euclidean
    mask: Tensor | None

    def project(self, v: Tensor) -> Tensor:
        """Project ``v`` onto the field's geometry; zero on padding."""
        return self.geometry.project(v, self.mask)

    def move_to(self, x: Tensor, new: Tensor) -> Tensor:
        """``x`` moved to ``new`` within the geometry: padding stays, CoM stays zero."""
        if self.mask is None and type(self.geometry) is Euclidean:
            return new  # the projection is the identity: skip two full-size ops
        return x + self.project(new - x)

    def randn_like(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Projected standard noise shaped like ``x``."""
        return self.geometry.randn_like(x, self.mask, generator)

    def dims(self, x: Tensor) -> Tensor:
        """Free dimensions per sample, shape (B,)."""
        return self.geometry.dims(x, self.mask)

    def sqnorm(self, v: Tensor) -> Tensor:
        """Squared norm per sample over the free coordinates of real entries, shape (B,)."""
        return self.geometry.sqnorm(v, self.mask)


def _as_field(p: GaussianPath | Field, name: str) -> Field:
    if isinstance(p, Field):
        return p
    if isinstance(p, GaussianPath):
        return Field(p)
    raise TypeError(f"field {name!r}: expected a GaussianPath or Field, got {type(p).__name__}")


class Spec:
    """Per-field paths, geometries and masks bound to the structure of a state ``x``."""

    def __init__(self, path: PathLike, x: State, mask: MaskLike = None) -> None:
        self.structured = isinstance(x, Mapping)
        if not self.structured:
            if isinstance(path, Mapping):
                raise ValueError("got per-field paths but a single-tensor state")
            if isinstance(mask, Mapping):
                raise ValueError("got per-field masks but a single-tensor state")
            check_rank(x, 1, "x")
            self.views = {"x": self._view("x", _as_field(path, "x"), mask, x)}
            return
        keys = list(x)
        if isinstance(path, Mapping):
            if set(path) != set(keys):
                raise ValueError(
                    f"state fields {sorted(keys)} do not match path fields {sorted(path)}"
                )
            fields = {k: _as_field(path[k], k) for k in keys}
        else:
            fields = {k: _as_field(path, k) for k in keys}
        masks = dict(mask) if isinstance(mask, Mapping) else {}
        if mask is not None and not isinstance(mask, Mapping):
            raise ValueError("a structured state takes a dict of per-field masks")
        unknown = set(masks) - set(keys)
        if unknown:
            raise ValueError(
                f"masks given for unknown fields {sorted(unknown)}; fields: {sorted(keys)}"
            )
        batch = {k: x[k].shape[0] if x[k].ndim else None for k in keys}
        if len(set(batch.values())) > 1:
            raise ValueError(f"fields disagree on the batch size: {batch}")
        self.views = {k: self._view(k, fields[k], masks.get(k), x[k]) for k in keys}

    @staticmethod
    def _view(name: str, field: Field, mask: Tensor | None, x: Tensor) -> FieldView:
        check_rank(x, 1, f"field {name!r}")
        if mask is not None:
            if mask.ndim > x.ndim:
                raise ValueError(f"mask of field {name!r} has more dims than the field")
            mask = append_dims(mask, x.ndim).to(x.dtype)
            try:
                torch.broadcast_shapes(mask.shape, x.shape)
            except RuntimeError:
                raise ValueError(
                    f"mask of shape {tuple(mask.shape)} does not broadcast to field "
                    f"{name!r} of shape {tuple(x.shape)}"
                ) from None
        return FieldView(name, field.path, field.geometry, mask)

    # --- structure ---------------------------------------------------------------------
    def map(self, fn: Callable[..., Tensor], *states: State) -> State:
        """Apply ``fn(view, *field_tensors)`` per field and rebuild the state's structure."""
        if not self.structured:
            return fn(self.views["x"], *states)
        return {k: fn(v, *(s[k] for s in states)) for k, v in self.views.items()}

    def reduce(self, fn: Callable[..., Tensor], *states: State) -> Tensor:
        """Sum the per-sample values ``fn(view, *field_tensors)`` over fields."""
        parts = self.map(fn, *states)
        return parts if not self.structured else sum(parts.values())

    def check(self, x: State, name: str = "x") -> State:
        """Check that ``x`` has this spec's fields and only finite values."""
        if isinstance(x, Mapping) != self.structured:
            raise ValueError(
                f"{name} is {'a dict' if isinstance(x, Mapping) else 'a tensor'}, "
                f"but the spec is {'structured' if self.structured else 'a tensor'}"
            )
        if self.structured and set(x) != set(self.views):
            raise ValueError(f"{name} has fields {sorted(x)}, expected {sorted(self.views)}")
        self.map(
            lambda v, t: check_finite(t, f"{name}[{v.name!r}]" if self.structured else name), x
        )
        return x

    def batch_size(self, x: State) -> int:
        """Leading (batch) dimension of the state."""
        return first(x).shape[0]

    # --- per-field math used by samplers, losses and likelihood ------------------------
    def randn_like(self, x: State, generator: torch.Generator | None = None) -> State:
        """Geometry-aware standard noise shaped like ``x``; zero on padding."""
        return self.map(lambda v, t: v.randn_like(t, generator), x)

    def project(self, x: State) -> State:
        """Project every field onto its geometry (CoM removal, padding zeroed)."""
        return self.map(lambda v, t: v.project(t), x)

    def prior_sample(self, x: State, generator: torch.Generator | None = None) -> State:
        """Draw from each field's prior, shaped like ``x`` (a template)."""
        return self.map(lambda v, t: v.path.prior_std() * v.randn_like(t, generator), x)

    def prior_logp(self, x: State) -> Tensor:
        """Log-density of ``x`` under the product of the fields' priors, shape (B,)."""

        def one(v: FieldView, t: Tensor) -> Tensor:
            p = v.project(t)
            return v.path.prior_logp(p, v.dims(t), sqnorm=v.sqnorm(p))

        return self.reduce(one, x)

    def dims(self, x: State) -> Tensor:
        """Total free dimensions per sample, shape (B,)."""
        return self.reduce(lambda v, t: v.dims(t), x)


def first(x: State) -> Tensor:
    """The first tensor of a state (for batch size, device and dtype)."""
    return next(iter(x.values())) if isinstance(x, Mapping) else x


def tree_map(fn: Callable[..., Tensor], *states: State) -> State:
    """Apply ``fn`` to matching tensors of states that share one structure."""
    if isinstance(states[0], Mapping):
        return {k: fn(*(s[k] for s in states)) for k in states[0]}
    return fn(*states)


def flatten(x: State) -> tuple[Tensor, Callable[[Tensor], State]]:
    """Flatten a state to (B, D) and return the inverse map (for ODE solvers)."""
    if not isinstance(x, Mapping):
        shape = x.shape
        return x.reshape(shape[0], -1), lambda f: f.reshape(shape)
    keys = list(x)
    shapes = [x[k].shape for k in keys]
    sizes = [x[k][0].numel() for k in keys]
    flat = torch.cat([x[k].reshape(x[k].shape[0], -1) for k in keys], dim=1)

    def unflatten(f: Tensor) -> State:
        parts = torch.split(f, sizes, dim=1)
        return {k: p.reshape(s) for k, p, s in zip(keys, parts, shapes)}

    return flat, unflatten


__all__ = ["Field", "FieldView", "Spec", "State", "first", "flatten", "tree_map"]
