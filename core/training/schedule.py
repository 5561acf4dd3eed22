"""Learning-rate schedule: linear warm-up, then constant or cosine decay."""

from __future__ import annotations

import math


def lr_at(step: int, lr: float, warmup_steps: int, total_steps: int, decay: str) -> float:
    """Learning rate for optimizer step ``step`` (0-based)."""
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if decay == "constant":
        return lr
    if decay == "cosine":
        span = max(total_steps - warmup_steps, 1)
        frac = min(max(step - warmup_steps, 0) / span, 1.0)
        return 0.5 * lr * (1.0 + math.cos(math.pi * frac))
    raise ValueError(f"unknown lr decay {decay!r}; known: constant, cosine")
