"""Composed targets: annealing, products of experts and classifier-free guidance as model wrappers.

Each wrapper is the *naive* score model of a geometric combination of score models,

    target_t(x)  ∝  prod_i p_i,t(x) ** beta_i,    score = sum_i beta_i * score_i,

which every core sampler accepts (they are torch Modules with ``prediction = "eps"``;
since eps = -sigma * score on a Gaussian path, combining eps is combining scores). Run by a
plain sampler, this score does NOT sample the combination of the data laws
``prod_i p_i,0 ** beta_i``: the noised marginals of a product are not the product of the
noised marginals. ``scorelab.samplers.fkc`` corrects this with Feynman-Kac weights
(Skreta et al. 2025, "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and
Product of Experts"), reading each expert's prediction from ``expert_eps``.

* ``Annealed(model, path, beta)``: p ** beta, exponents (beta,);
* ``ProductOfExperts(models, path)``: p_1 * p_2 * ..., exponents (1, 1, ...) or given;
* ``ClassifierFreeGuidance(model, path, w)``: p(x) ** (1 - w) p(x | c) ** w, exponents
  (1 - w, w).

Classifier-free guidance (Ho & Salimans 2022) combines eps_uncond and eps_cond as
``(1 - w) eps_u + w eps_c``; the wrapper converts both to eps with the core's exact
conversions first, so any prediction kind works. It makes two model calls per evaluation,
or one call on a batch of 2B with ``batched=True`` (NFE 1, twice the batch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .broadcast import batch_time
from .parameterization import predict
from .state import PathLike, Spec, State, first, tree_map


def _check_finite_number(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


class GeometricTarget(nn.Module):
    """Base of the naive composed models: eps = sum_i beta_i eps_i over the experts' eps.

    Subclasses set ``exponents`` and implement ``expert_eps(x, t, **cond)``, which returns
    the list of the experts' eps predictions (one per exponent). ``calls`` counts the
    underlying model calls (what an NFE counts).
    """

    prediction = "eps"

    def __init__(self, path: PathLike, exponents: Sequence[float]) -> None:
        super().__init__()
        exps = tuple(_check_finite_number(b, "every exponent") for b in exponents)
        if not exps:
            raise ValueError("a composed target needs at least one expert")
        if sum(exps) <= 0:
            raise ValueError(
                f"the exponents must have a positive sum (a normalizable target), got {exps}"
            )
        self.path, self.exponents, self.calls = path, exps, 0

    @property
    def total(self) -> float:
        """sum_i beta_i: the target's prior is the path's prior to this power."""
        return sum(self.exponents)

    def _eps(self, model: Any, x: State, t: Tensor, **cond: Any) -> State:
        """One model call at (x, t), its prediction converted exactly to eps."""
        self.calls += 1
        return predict(model, x, t, Spec(self.path, x), "eps", **cond)

    def expert_eps(self, x: State, t: Tensor, **cond: Any) -> list[State]:
        """The experts' eps predictions at (x, t), in the order of ``exponents``."""
        raise NotImplementedError

    def combine(self, eps: Sequence[State]) -> State:
        """sum_i beta_i eps_i (the naive composed eps)."""
        return tree_map(lambda *e: sum(b * ei for b, ei in zip(self.exponents, e)), *eps)

    def forward(self, x: State, t: Tensor, **cond: Any) -> State:
        return self.combine(self.expert_eps(x, t, **cond))


class Annealed(GeometricTarget):
    """p_t ** beta: the score of ``model`` scaled by ``beta > 0`` (1 call per evaluation)."""

    def __init__(self, model: Any, path: PathLike, beta: float) -> None:
        beta = _check_finite_number(beta, "beta")
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        super().__init__(path, (beta,))
        self.model, self.beta = model, beta

    def expert_eps(self, x: State, t: Tensor, **cond: Any) -> list[State]:
        return [self._eps(self.model, x, t, **cond)]


class ProductOfExperts(GeometricTarget):
    """prod_i p_i ** beta_i (default beta_i = 1): the sum of the experts' scores.

    ``models`` are called with the same ``cond``; one call each per evaluation.
    """

    def __init__(
        self, models: Sequence[Any], path: PathLike, exponents: Sequence[float] | None = None
    ) -> None:
        if isinstance(models, (nn.Module, Mapping)) or not isinstance(models, Sequence):
            raise TypeError("models must be a list of score models (the experts)")
        if len(models) < 2:
            raise ValueError(f"a product of experts needs at least 2 models, got {len(models)}")
        exponents = (1.0,) * len(models) if exponents is None else tuple(exponents)
        if len(exponents) != len(models):
            raise ValueError(f"got {len(models)} models but {len(exponents)} exponents")
        super().__init__(path, exponents)
        self.models = nn.ModuleList(m if isinstance(m, nn.Module) else _Callable(m) for m in models)

    def expert_eps(self, x: State, t: Tensor, **cond: Any) -> list[State]:
        return [self._eps(m, x, t, **cond) for m in self.models]


class ClassifierFreeGuidance(GeometricTarget):
    """p(x) ** (1 - w) p(x | c) ** w from one conditional model: (1 - w) eps_u + w eps_c.

    The condition is the keyword ``cond_key`` of the model call; the unconditional call
    passes ``null`` in its place, or leaves the keyword out when ``null`` is None.
    ``batched=True`` makes one call on the batch (x, x) with conditions (c, null) (``null``
    must then be a tensor broadcastable to c; other tensor keywords with batch B are
    repeated); otherwise two calls. Weights w >= 0; w = 0 and w = 1 give the unconditional
    and conditional predictions exactly.
    """

    def __init__(
        self,
        model: Any,
        path: PathLike,
        weight: float,
        *,
        cond_key: str = "cond",
        null: Any = None,
        batched: bool = False,
    ) -> None:
        weight = _check_finite_number(weight, "the guidance weight")
        if weight < 0:
            raise ValueError(f"the guidance weight must be >= 0, got {weight}")
        if batched and not isinstance(null, Tensor):
            raise ValueError("batched=True needs a tensor `null` condition to stack with c")
        super().__init__(path, (1.0 - weight, weight))
        self.model, self.weight = model, weight
        self.cond_key, self.null, self.batched = cond_key, null, batched

    def expert_eps(self, x: State, t: Tensor, **cond: Any) -> list[State]:
        if self.cond_key not in cond:
            raise ValueError(
                f"classifier-free guidance needs the condition {self.cond_key!r} in the "
                f"model call (pass cond={{{self.cond_key!r}: ...}} to the sampler)"
            )
        if self.batched:
            return self._batched(x, t, cond)
        uncond = {k: v for k, v in cond.items() if k != self.cond_key}
        if self.null is not None:
            uncond[self.cond_key] = self.null
        return [self._eps(self.model, x, t, **uncond), self._eps(self.model, x, t, **cond)]

    def _batched(self, x: State, t: Tensor, cond: dict[str, Any]) -> list[State]:
        b = Spec(self.path, x).batch_size(x)
        t = batch_time(t, b, first(x))
        c = torch.as_tensor(cond[self.cond_key])
        c = c.expand(b) if c.ndim == 0 else c  # one label for the whole batch
        if c.shape[0] != b:
            raise ValueError(
                f"batched guidance needs the condition with batch {b} first, got {tuple(c.shape)}"
            )
        both = {
            k: torch.cat([v, v]) if isinstance(v, Tensor) and v.ndim and v.shape[0] == b else v
            for k, v in cond.items()
        }
        null = self.null.to(device=c.device, dtype=c.dtype).expand_as(c)
        both[self.cond_key] = torch.cat([null, c])
        xx = tree_map(lambda v: torch.cat([v, v]), x)
        out = self._eps(self.model, xx, torch.cat([t, t]), **both)
        return [tree_map(lambda v: v[:b], out), tree_map(lambda v: v[b:], out)]


class _Callable(nn.Module):
    """A plain callable with a ``prediction`` attribute, held as a Module."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn, self.prediction = fn, getattr(fn, "prediction", None)

    def forward(self, x: State, t: Tensor, **cond: Any) -> State:
        return self.fn(x, t, **cond)


__all__ = ["Annealed", "ClassifierFreeGuidance", "GeometricTarget", "ProductOfExperts"]
