"""Where and when something ran: the facts a benchmark or a demo report records with its numbers."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from typing import Any


def machine_info(**extra: Any) -> dict[str, Any]:
    """Where and when a run happened: date, Python, torch/numpy versions, CPU count, threads."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    for mod in ("torch", "numpy", "scipy", "ot", "matplotlib"):
        module = sys.modules.get(mod)
        if module is not None:
            info[f"{mod}_version"] = getattr(module, "__version__", "?")
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = bool(torch.cuda.is_available())
    info.update(extra)
    return info


__all__ = ["machine_info"]
