"""Checkpoints: safetensors weights + JSON, written as a folder that appears atomically.

A checkpoint is ``<run>/checkpoints/step_00001000/`` holding

- ``model.safetensors`` and ``ema.safetensors``: the weights (state dicts);
- ``optimizer.safetensors`` + ``optimizer.json``: optimizer tensors and everything else;
- ``rng.safetensors``: each rank's torch CPU/CUDA generator states;
- ``config.json``: the run's full config;
- ``trainer.json``: step, data cursor, Python/NumPy RNG states, the model class, and the
  size and SHA-256 of every file above (written last).

The folder is assembled under a temporary name and renamed into place, so a kill mid-write
leaves no folder that looks complete; loading re-checks sizes and hashes and names
whatever does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..io import write_json_atomic

FORMAT = 1
PREFIX = "step_"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, or does not match what it is loaded into."""


def checkpoints_root(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / "checkpoints"


def _step_of(p: Path) -> int | None:
    if not p.name.startswith(PREFIX) or not (p / "trainer.json").is_file():
        return None
    try:
        return int(p.name[len(PREFIX) :])
    except ValueError:
        return None


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = checkpoints_root(run_dir)
    if not root.is_dir():
        return []
    found = [(s, p) for p in root.iterdir() if (s := _step_of(p)) is not None]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder from itself, its ``checkpoints/`` folder or its run folder."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no checkpoint at {p}")
    if (p / "trainer.json").is_file():
        return p
    for run in (p, p.parent):
        if (ck := latest_checkpoint(run)) is not None and (run == p or p == checkpoints_root(run)):
            return ck
    raise CheckpointError(f"{p} is neither a checkpoint folder nor a run folder with one")


def run_dir_of(checkpoint: str | os.PathLike) -> Path:
    """The run folder of a checkpoint, a run's ``checkpoints/`` folder or a run folder."""
    return resolve_checkpoint(checkpoint).parent.parent


def remove_stale(run_dir: str | os.PathLike) -> None:
    """Delete half-written checkpoint folders left by a killed run."""
    root = checkpoints_root(run_dir)
    if root.is_dir():
        for p in root.glob(f".{PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _plain_tensors(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Contiguous CPU tensors, with storage shared between entries (tied weights) copied."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for k, v in state.items():
        v = v.detach().to("cpu").contiguous()
        key = (v.untyped_storage().data_ptr(), v.storage_offset()) if v.numel() else None
        if key is not None and key in seen:
            v = v.clone()
        elif key is not None:
            seen.add(key)
        out[k] = v
    return out


def class_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _split_optimizer(sd: dict) -> tuple[dict[str, Tensor], dict]:
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            (tensors if isinstance(v, Tensor) else scalars)[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in list(tensors.items()) + list(meta["scalars"].items()):
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    *,
    model: nn.Module,
    ema: nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: dict[str, Any],
    rng_states: list[dict[str, Any]],
    config: dict[str, Any],
) -> Path:
    """Write a checkpoint of ``step`` atomically and return its folder."""
    root = checkpoints_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        save_file(_plain_tensors(model.state_dict()), tmp / "model.safetensors")
        if ema is not None:
            save_file(_plain_tensors(ema.state_dict()), tmp / "ema.safetensors")
        if optimizer is not None:
            tensors, meta = _split_optimizer(optimizer.state_dict())
            save_file(_plain_tensors(tensors), tmp / "optimizer.safetensors")
            write_json_atomic(tmp / "optimizer.json", meta)
        rng_tensors, rng_meta = {}, []
        for r, st in enumerate(rng_states):
            rng_tensors[f"rank{r}.torch"] = st["torch"]
            for i, c in enumerate(st.get("cuda", [])):
                rng_tensors[f"rank{r}.cuda{i}"] = c
            rng_meta.append({"numpy": st["numpy"], "python": st["python"]})
        save_file(_plain_tensors(rng_tensors), tmp / "rng.safetensors")
        write_json_atomic(tmp / "config.json", config)
        files = {
            p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())
        }
        manifest = {
            "format": FORMAT,
            "step": step,
            "model_class": class_name(model),
            "world_size": len(rng_states),
            "rng": rng_meta,
            "files": files,
            **trainer_state,
        }
        write_json_atomic(tmp / "trainer.json", manifest)
        if final.exists():  # re-saving a step: swap the old folder out first
            old = root / f".{final.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_manifest(ckpt: str | os.PathLike, verify: bool = True) -> dict[str, Any]:
    """``trainer.json`` of a checkpoint; with ``verify`` every listed file is checked."""
    ckpt = Path(ckpt)
    mpath = ckpt / "trainer.json"
    if not mpath.is_file():
        raise CheckpointError(f"{ckpt} is not a checkpoint: trainer.json is missing")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{mpath} is corrupt: {e}") from None
    if manifest.get("format") != FORMAT:
        raise CheckpointError(
            f"{ckpt}: checkpoint format {manifest.get('format')!r}, this version reads {FORMAT}"
        )
    if verify:
        for name, info in manifest["files"].items():
            p = ckpt / name
            if not p.is_file():
                raise CheckpointError(f"{ckpt}: {name} is missing")
            size = p.stat().st_size
            if size != info["bytes"]:
                raise CheckpointError(
                    f"{p} is truncated or altered: {size} bytes, the checkpoint recorded "
                    f"{info['bytes']}"
                )
            if _sha256(p) != info["sha256"]:
                raise CheckpointError(f"{p} is corrupt: its SHA-256 differs from the recorded one")
    return manifest


def _read_tensors(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file: {e}") from None


def _shapes(path: Path) -> dict[str, tuple[int, ...]]:
    try:
        with safe_open(path, "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file: {e}") from None


def check_weights(module: nn.Module, path: Path, saved_class: str | None = None) -> None:
    """Raise a CheckpointError naming every key and shape where ``path`` and ``module`` differ."""
    have = _shapes(path)
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    shapes = [
        f"{k}: checkpoint {have[k]} vs model {want[k]}"
        for k in want
        if k in have and have[k] != want[k]
    ]
    if not (missing or extra or shapes):
        return

    def few(xs: list[str]) -> str:
        return ", ".join(xs[:8]) + (f" (+{len(xs) - 8} more)" if len(xs) > 8 else "")

    parts = []
    if saved_class and saved_class != class_name(module):
        parts.append(f"it was saved from {saved_class}, not {class_name(module)}")
    if missing:
        parts.append(f"missing keys: {few(missing)}")
    if extra:
        parts.append(f"unexpected keys: {few(extra)}")
    if shapes:
        parts.append(f"shape mismatch: {few(shapes)}")
    raise CheckpointError(f"{path} does not match the model: " + "; ".join(parts))


def load_weights(
    module: nn.Module,
    ckpt: str | os.PathLike,
    which: str = "ema",
    verify: bool = True,
) -> nn.Module:
    """Load ``ema`` (falling back to ``model`` when a run kept no EMA) or ``model`` weights."""
    ckpt = resolve_checkpoint(ckpt)
    manifest = read_manifest(ckpt, verify=verify)
    if which not in ("ema", "model"):
        raise ValueError(f"which must be 'ema' or 'model', got {which!r}")
    name = f"{which}.safetensors"
    if which == "ema" and name not in manifest["files"]:
        name = "model.safetensors"
    path = ckpt / name
    check_weights(module, path, manifest.get("model_class"))
    module.load_state_dict(_read_tensors(path))
    return module


def load_optimizer(optimizer: torch.optim.Optimizer, ckpt: Path) -> None:
    """Restore an optimizer's state from a checkpoint folder."""
    meta = json.loads((ckpt / "optimizer.json").read_text())
    sd = _join_optimizer(_read_tensors(ckpt / "optimizer.safetensors"), meta)
    if len(sd["param_groups"]) != len(optimizer.param_groups) or any(
        len(a["params"]) != len(b["params"])
        for a, b in zip(sd["param_groups"], optimizer.param_groups)
    ):
        raise CheckpointError(f"{ckpt}: the optimizer state does not match the model's parameters")
    optimizer.load_state_dict(sd)


def load_rng(ckpt: Path, manifest: dict, rank: int) -> dict[str, Any]:
    """This rank's saved RNG states."""
    tensors = _read_tensors(ckpt / "rng.safetensors")
    if f"rank{rank}.torch" not in tensors:
        raise CheckpointError(f"{ckpt} holds no RNG state for rank {rank}")
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith(f"rank{rank}.cuda")]
    return {"torch": tensors[f"rank{rank}.torch"], "cuda": cuda, **manifest["rng"][rank]}


__all__ = [
    "CheckpointError",
    "check_weights",
    "latest_checkpoint",
    "list_checkpoints",
    "load_optimizer",
    "load_rng",
    "load_weights",
    "read_manifest",
    "remove_stale",
    "resolve_checkpoint",
    "save_checkpoint",
]
