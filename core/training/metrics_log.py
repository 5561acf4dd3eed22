"""JSONL metrics in the run folder (one record per line), optionally mirrored to TensorBoard."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..io import jsonable, write_text_atomic


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl`` (a torn last line, from a kill, is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, records past the resumed step are dropped."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        resume_step: int | None = None,
        tensorboard: bool = False,
        enabled: bool = True,
    ) -> None:
        self.path, self.enabled, self.tb = Path(path), enabled, None
        if not enabled:
            return
        kept = [r for r in read_metrics(self.path) if resume_step and r["step"] <= resume_step]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "TrainConfig.tensorboard needs the `tensorboard` package: "
                    "pip install tensorboard"
                ) from e
            self.tb = SummaryWriter(self.path.parent / "tensorboard")

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record (must carry ``step``)."""
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(jsonable(dict(record)), allow_nan=False) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
