"""A reusable E(n) equivariance checker for networks over point sets (molecules, proteins).

``check_e3(fn, x, node_mask=...)`` applies random rotations, reflections, translations and
node permutations to the inputs of ``fn`` and compares its outputs with the transformed
outputs of the untransformed call, on real nodes only. Each transform is checked on its own,
so a failure names the output field and the symmetry it breaks.

Conventions:

- ``x`` is a dict of (B, ...) tensors. ``vector_fields`` (B, N, ..., D) are positions: they
  rotate (``x_i -> R x_i``) and, for translations, move by one random vector per sample on real
  nodes (padding stays where it is). Every other field is an invariant input.
- A tensor whose first two dims are (B, N) has a node axis: permutations reorder it (inputs,
  the ``node_kwargs`` and outputs alike). Other tensors (times, per-molecule properties,
  molecule-level outputs of shape (B,)) pass through and must be invariant.
- ``vector_outputs`` rotate with the input and are translation-invariant (velocities, noise,
  CoM-free displacements); every other output must be invariant.
- Errors are relative to the output's scale: ``max |got - want| / max(1, max |want|)`` over
  real nodes, so ``atol`` reads as an absolute error for outputs of order one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..checks import check_int

TRANSFORMS = ("rotation", "reflection", "translation", "permutation")


def random_orthogonal(
    generator: torch.Generator | None = None,
    *,
    reflect: bool = False,
    dim: int = 3,
    dtype: torch.dtype = torch.float64,
    batch_shape: tuple[int, ...] = (),
) -> Tensor:
    """A Haar-random rotation (det +1), or a uniform improper one (det -1) when ``reflect``.

    Returns (*batch_shape, dim, dim). QR of a Gaussian matrix with the signs of R's diagonal
    moved into Q is Haar on O(dim); flipping the first column where the determinant has the
    wrong sign commutes with left multiplication, so it stays Haar on the chosen coset.
    """
    g = torch.randn((*batch_shape, dim, dim), generator=generator, dtype=dtype)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    want = -1.0 if reflect else 1.0
    flip = torch.ones((*batch_shape, dim), dtype=dtype)
    flip[..., 0] = torch.where(torch.linalg.det(q) * want < 0, -1.0, 1.0)
    return q * flip.unsqueeze(-2)


def random_permutation(node_mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A uniform per-sample permutation of all N nodes (padding moves too): index (B, N)."""
    b, n = node_mask.shape[:2]
    keys = torch.rand((b, n), generator=generator)
    return keys.argsort(dim=1).to(node_mask.device)


@dataclass
class EquivarianceReport:
    """Worst relative error per (output field, transform) over the trials."""

    max_error: dict[tuple[str, str], float] = field(default_factory=dict)

    def failures(self, atol: float = 1e-5) -> dict[tuple[str, str], float]:
        """The (field, transform) pairs whose error exceeds ``atol`` (NaN counts as failing)."""
        return {k: e for k, e in self.max_error.items() if not e <= atol}

    def assert_ok(self, atol: float = 1e-5) -> None:
        """Raise an AssertionError naming every failing (field, transform) and its error."""
        bad = self.failures(atol)
        if bad:
            lines = ", ".join(f"{f!r} under {t}: {e:.3g}" for (f, t), e in sorted(bad.items()))
            raise AssertionError(f"not equivariant (atol={atol:g}): {lines}")

    def __str__(self) -> str:
        rows = (f"{f:>12} {t:<12} {e:.3g}" for (f, t), e in sorted(self.max_error.items()))
        return "\n".join(rows)


# --- transforms of one tensor ---------------------------------------------------------------
def _has_node_axis(t: object, b: int, n: int) -> bool:
    return isinstance(t, Tensor) and t.ndim >= 2 and t.shape[0] == b and t.shape[1] == n


def _rotate(v: Tensor, rot: Tensor) -> Tensor:
    return torch.einsum("bij,b...j->b...i", rot.to(v), v)


def _permute(t: object, perm: Tensor) -> object:
    """Reorder the node axis of ``t`` by ``perm`` (B, N); anything without one passes through."""
    if not _has_node_axis(t, *perm.shape):
        return t
    index = perm.view(*perm.shape, *([1] * (t.ndim - 2))).expand_as(t)
    return torch.gather(t, 1, index)


def _translate(v: Tensor, shift: Tensor, mask: Tensor) -> Tensor:
    extra = [1] * (v.ndim - 3)
    m = mask.to(v.dtype).view(*mask.shape, *extra, 1)
    return v + m * shift.to(v).view(shift.shape[0], 1, *extra, shift.shape[-1])


def _as_outputs(out: object) -> dict[str, Tensor]:
    if isinstance(out, Tensor):
        return {"out": out}
    if isinstance(out, Mapping):
        return dict(out)
    raise TypeError(f"fn must return a tensor or a dict of tensors, got {type(out).__name__}")


def _error(got: Tensor, want: Tensor, mask: Tensor) -> float:
    if got.shape != want.shape:
        return float("inf")
    diff, ref = (got - want).abs(), want.abs()
    if _has_node_axis(want, *mask.shape):
        keep = mask.view(*mask.shape, *([1] * (want.ndim - 2))).expand_as(want)
        diff, ref = diff[keep], ref[keep]
    if diff.numel() == 0:
        return 0.0
    return float(diff.max() / ref.max().clamp(min=1.0))


# --- the checker ----------------------------------------------------------------------------
def check_e3(
    fn: Callable[..., Tensor | Mapping[str, Tensor]],
    x: Mapping[str, Tensor],
    *,
    node_mask: Tensor,
    vector_fields: Iterable[str] = ("pos",),
    invariant_fields: Iterable[str] | None = None,
    generator: torch.Generator | None = None,
    trials: int = 3,
    reflections: bool = True,
    translations: bool = True,
    permutations: bool = True,
    node_kwargs: Iterable[str] = ("node_mask",),
    vector_outputs: Iterable[str] | None = None,
    **kwargs,
) -> EquivarianceReport:
    """Check ``fn(x, **kwargs)`` for E(n) and permutation equivariance on real nodes.

    x: dict of (B, ...) inputs; node_mask: (B, N), nonzero on real nodes. ``node_kwargs`` name
    the keyword arguments with a node axis that are permuted with the nodes: ``"node_mask"``
    (the default) passes ``node_mask`` itself to ``fn``; other names are taken from ``kwargs``.
    ``invariant_fields`` (default: every non-vector input) must cover the remaining inputs.
    Returns the worst error per (output field, transform); call ``.assert_ok(atol)``.
    """
    vector_fields = tuple(vector_fields)
    missing = [k for k in vector_fields if k not in x]
    if missing:
        raise ValueError(f"vector fields {missing} are not inputs; inputs: {sorted(x)}")
    others = [k for k in x if k not in vector_fields]
    if invariant_fields is not None and set(invariant_fields) != set(others):
        raise ValueError(
            f"invariant_fields {sorted(invariant_fields)} must be the non-vector inputs {others}"
        )
    if node_mask.ndim != 2:
        raise ValueError(f"node_mask must be (B, N), got shape {tuple(node_mask.shape)}")
    b, n = node_mask.shape
    real = node_mask > 0
    dims = {x[k].shape[-1] for k in vector_fields}
    for k in vector_fields:
        if not _has_node_axis(x[k], b, n) or x[k].ndim < 3:
            raise ValueError(f"vector field {k!r} must be (B, N, ..., D), got {tuple(x[k].shape)}")
    if len(dims) > 1:
        raise ValueError(f"vector fields disagree on the dimension: {sorted(dims)}")
    dim = dims.pop() if dims else 3
    dtype = x[vector_fields[0]].dtype if vector_fields else torch.float64

    node_kwargs = tuple(node_kwargs)
    call_kwargs = dict(kwargs)
    if "node_mask" in node_kwargs:
        call_kwargs["node_mask"] = node_mask
    unknown = [k for k in node_kwargs if k not in call_kwargs]
    if unknown:
        raise ValueError(f"node_kwargs {unknown} were not passed as keyword arguments")

    def call(inputs: Mapping[str, Tensor], kw: Mapping[str, object]) -> dict[str, Tensor]:
        return {k: v.detach() for k, v in _as_outputs(fn(dict(inputs), **kw)).items()}

    check_int(trials, "trials")
    base = call(x, call_kwargs)
    vec_out = (
        tuple(k for k in vector_fields if k in base)
        if vector_outputs is None
        else tuple(vector_outputs)
    )
    missing = [k for k in vec_out if k not in base]
    if missing:
        raise ValueError(f"vector_outputs {missing} are not outputs; outputs: {sorted(base)}")

    report = EquivarianceReport()

    def record(name: str, got: dict[str, Tensor], want: dict[str, Tensor], mask: Tensor) -> None:
        if set(got) != set(want):
            raise ValueError(f"{name} changed the output fields: {sorted(got)} vs {sorted(want)}")
        for k in want:
            e = _error(got[k], want[k], mask)
            report.max_error[(k, name)] = max(report.max_error.get((k, name), 0.0), e)

    transforms = ["rotation"] + ["reflection"] * reflections + ["translation"] * translations
    for _, name in itertools.product(range(trials), transforms + ["permutation"] * permutations):
        if name in ("rotation", "reflection"):
            rot = random_orthogonal(
                generator, reflect=name == "reflection", dim=dim, dtype=dtype, batch_shape=(b,)
            ).to(node_mask.device)
            inputs = {k: _rotate(v, rot) if k in vector_fields else v for k, v in x.items()}
            want = {k: _rotate(v, rot) if k in vec_out else v for k, v in base.items()}
            record(name, call(inputs, call_kwargs), want, real)
        elif name == "translation":
            scale = max([1.0] + [float(x[k][real].pow(2).mean().sqrt()) for k in vector_fields])
            shift = scale * torch.randn((b, dim), generator=generator, dtype=dtype)
            inputs = {
                k: _translate(v, shift, real) if k in vector_fields else v for k, v in x.items()
            }
            record(name, call(inputs, call_kwargs), base, real)
        else:
            perm = random_permutation(node_mask, generator)
            inputs = {k: _permute(v, perm) for k, v in x.items()}
            kw = {k: _permute(v, perm) if k in node_kwargs else v for k, v in call_kwargs.items()}
            want = {k: _permute(v, perm) for k, v in base.items()}
            record(name, call(inputs, kw), want, _permute(real, perm))
    return report


__all__ = [
    "TRANSFORMS",
    "EquivarianceReport",
    "check_e3",
    "random_orthogonal",
    "random_permutation",
]
