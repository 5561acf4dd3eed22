"""Few-step distillation of a diffusion teacher: consistency trajectory models and SiD."""

from .common import TimeMLP
from .ctm import CTMLoss, CTMStudent, distill_ctm, heun_solve, sample_ctm
from .sid import (
    SiDGenerator,
    SiDTrainer,
    distill_sid,
    sid_fake_loss,
    sid_generator_loss,
    sid_init_from_teacher,
    sid_times,
)

__all__ = [
    "CTMLoss",
    "CTMStudent",
    "SiDGenerator",
    "SiDTrainer",
    "TimeMLP",
    "distill_ctm",
    "distill_sid",
    "heun_solve",
    "sample_ctm",
    "sid_fake_loss",
    "sid_generator_loss",
    "sid_init_from_teacher",
    "sid_times",
]
