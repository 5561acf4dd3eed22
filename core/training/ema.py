"""Exponential moving average of a model's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``ema <- d * ema + (1 - d) * param`` after every optimizer step.

    ``d = decay``, or with ``warmup`` ``d = min(decay, (1 + n) / (10 + n))`` at the n-th
    update (n = 0, 1, ...), so that early in a run the average is not dominated by the
    random initial weights. Floating-point buffers follow the same average; other buffers
    (counters, masks) are copied. ``module`` is a frozen copy in eval mode.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: bool = False) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0
        self._cache: tuple[int, tuple[list, list, list, list]] | None = None

    def _pairs(self, model: nn.Module) -> tuple[list, list, list, list]:
        # the tensors of a model keep their identity across steps: match them up once
        if self._cache is not None and self._cache[0] == id(model):
            return self._cache[1]
        ema_f, src_f, ema_o, src_o = [], [], [], []
        ema_state = dict(self.module.named_parameters()) | dict(self.module.named_buffers())
        for name, src in list(model.named_parameters()) + list(model.named_buffers()):
            dst = ema_state[name]
            if dst.is_floating_point():
                ema_f.append(dst)
                src_f.append(src.detach())
            else:
                ema_o.append(dst)
                src_o.append(src.detach())
        self._cache = (id(model), (ema_f, src_f, ema_o, src_o))
        return ema_f, src_f, ema_o, src_o

    def current_decay(self) -> float:
        """The decay the next update uses."""
        if self.warmup:
            return min(self.decay, (1 + self.updates) / (10 + self.updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step toward ``model``'s current weights."""
        ema_f, src_f, ema_o, src_o = self._pairs(model)
        if ema_f:
            torch._foreach_lerp_(ema_f, src_f, 1.0 - self.current_decay())
        for dst, src in zip(ema_o, src_o):
            dst.copy_(src)
        self.updates += 1
