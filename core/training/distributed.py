"""``torch.distributed`` set-up for runs launched with ``torchrun`` (DDP).

A plain ``python`` launch is the one-process case of the same code path: nothing is
initialised, rank 0 of 1. Under ``torchrun`` the process group comes from the launcher's
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``); the
backend is NCCL on GPUs and gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: its rank, local rank and the number of processes."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    owns_group: bool = False
    """whether this process created the process group (and so destroys it)"""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: this process's CUDA device when there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return dev


def setup(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the ``torchrun`` process group if launched by it; return (info, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if world <= 1:
        return DistInfo(), dev
    owns = False
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        owns = True
    info = DistInfo(dist.get_rank(), local, dist.get_world_size(), owns)
    return info, dev


def teardown(info: DistInfo) -> None:
    """Destroy the process group if ``setup`` created it."""
    if info.owns_group and dist.is_initialized():
        dist.barrier()  # no rank tears down while a peer still talks to it (gloo aborts)
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op on one process)."""
    if info.distributed:
        dist.barrier()


def gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def any_true(info: DistInfo, flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds on any rank (so every rank takes the same decision)."""
    if not info.distributed:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(info: DistInfo, values: dict[str, float], device: torch.device) -> dict:
    """Average scalar metrics over ranks (one all-reduce)."""
    if not info.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / info.world_size for k, v in zip(keys, t.tolist())}
