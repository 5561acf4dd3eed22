"""The training loop every app uses: AdamW, warm-up, EMA, clipping, bf16, DDP, checkpoints.

    trainer = Trainer(model, loss_fn, dataset, TrainConfig(steps=2000), "runs/toy")
    result = trainer.fit()          # resumes from runs/toy/checkpoints when present
    model_for_sampling = trainer.sampling_model   # the EMA weights by default

``loss_fn(model, batch)`` returns a scalar loss, or a dict with ``"loss"`` and other scalars
to log. Under ``torchrun --nproc_per_node N`` the same call trains with DDP: each rank draws
its share of every global batch, rank 0 keeps the EMA, evaluates and writes checkpoints.
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from ..config import dict_diff, to_dict
from ..io import write_json_atomic
from . import checkpoint as ck
from . import distributed as D
from . import rng
from .config import RUN_CONTROL_FIELDS, TrainConfig
from .data import BatchStream
from .ema import EMA
from .metrics_log import MetricsLog
from .schedule import lr_at

LossFn = Callable[[nn.Module, Any], "Tensor | Mapping[str, Tensor]"]
Evaluator = Callable[[nn.Module, int], Mapping[str, float]]


@dataclass
class TrainResult:
    """What a finished ``fit`` leaves: where, how far, and the last numbers."""

    run_dir: Path
    checkpoint: Path | None
    step: int
    skipped_steps: int
    last_log: dict[str, Any] = field(default_factory=dict)
    evals: dict[int, dict[str, float]] = field(default_factory=dict)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested dict/list/tuple) batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def _train_prefix(run_config: Any, cfg: TrainConfig) -> str | None:
    """Dotted prefix of the TrainConfig inside the run's config (``""`` if it is the config)."""
    if run_config is cfg:
        return ""
    if is_dataclass(run_config):
        for f in fields(run_config):
            if getattr(run_config, f.name) is cfg:
                return f.name + "."
    return None


class Trainer:
    """Train ``model`` on ``dataset`` with ``loss_fn`` as ``cfg`` says, into ``run_dir``."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        dataset: Dataset,
        cfg: TrainConfig,
        run_dir: str | Path,
        *,
        run_config: Any = None,
        evaluators: Mapping[str, Evaluator] | None = None,
        collate_fn: Callable[[Any], Any] | None = None,
    ) -> None:
        self.cfg, self.loss_fn, self.run_dir = cfg, loss_fn, Path(run_dir)
        self.run_config = cfg if run_config is None else run_config
        self.evaluators = dict(evaluators or {})
        self.info, self.device = D.setup(cfg.device)
        if cfg.batch_size % self.info.world_size:
            raise ValueError(
                f"batch_size {cfg.batch_size} does not split over {self.info.world_size} processes"
            )
        self.model = model.to(self.device)
        self.ddp: nn.Module = model
        if self.info.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(
                model, device_ids=ids, find_unused_parameters=cfg.find_unused_parameters
            )
            if hasattr(model, "prediction"):  # the core's losses read the prediction kind
                self.ddp.prediction = model.prediction
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(
            self.params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        keep_ema = cfg.ema_decay > 0 and self.info.is_main
        self.ema = EMA(model, cfg.ema_decay, cfg.ema_warmup) if keep_ema else None
        self.stream = BatchStream(
            dataset,
            cfg.batch_size // self.info.world_size,
            seed=cfg.seed,
            rank=self.info.rank,
            world_size=self.info.world_size,
            num_workers=cfg.num_workers,
            collate_fn=collate_fn,
        )
        self.step = 0
        self.skipped = 0
        self.evals: dict[int, dict[str, float]] = {}
        rc = self.run_config
        self._config_dict = dict(rc) if isinstance(rc, Mapping) else to_dict(rc)

    # --- public -----------------------------------------------------------------------
    @property
    def sampling_model(self) -> nn.Module:
        """The weights to sample and evaluate with: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def fit(self) -> TrainResult:
        """Train up to ``cfg.steps`` (resuming when a checkpoint exists); returns the result."""
        cfg, main = self.cfg, self.info.is_main
        try:
            last_ckpt = self._start()
            start_step = self.step
            log = MetricsLog(
                self.run_dir / "metrics.jsonl",
                resume_step=self.step if last_ckpt is not None else None,
                tensorboard=cfg.tensorboard,
                enabled=main,
            )
            last_log = self._loop(log)
            if last_ckpt is None or self.step != start_step:
                last_ckpt = self._checkpoint()
            log.close()
            return TrainResult(
                self.run_dir, last_ckpt, self.step, self.skipped, last_log, self.evals
            )
        finally:
            if self.info.owns_group:
                # drop DDP's reducer (it holds gloo work) while the process group still
                # exists; left to interpreter shutdown it can abort the process
                self.ddp = self.model
                gc.collect()
            D.teardown(self.info)

    # --- internals --------------------------------------------------------------------
    def _start(self) -> Path | None:
        """Prepare the run folder; restore the newest checkpoint if there is one (returned)."""
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ck.remove_stale(self.run_dir)
        D.barrier(self.info)
        latest = ck.latest_checkpoint(self.run_dir)
        if latest is None:
            rng.seed_all(self.cfg.seed + self.info.rank)
            if self.info.is_main:
                write_json_atomic(self.run_dir / "config.json", self._config_dict)
            return None
        if not self.cfg.resume:
            raise ck.CheckpointError(
                f"{self.run_dir} already holds checkpoints (newest {latest.name}); resume is "
                "off: choose another run folder or turn resume on"
            )
        self._restore(latest)
        return latest

    def _restore(self, ckpt: Path) -> None:
        manifest = ck.read_manifest(ckpt)
        self._check_config(ckpt)
        ck.load_weights(self.model, ckpt, "model", verify=False)
        if self.ema is not None:
            if "ema.safetensors" in manifest["files"]:
                ck.load_weights(self.ema.module, ckpt, "ema", verify=False)
            else:
                self.ema.module.load_state_dict(self.model.state_dict())
            self.ema.updates = manifest.get("ema_updates", 0)
        ck.load_optimizer(self.optimizer, ckpt)
        self.step, self.skipped = manifest["step"], manifest.get("skipped_steps", 0)
        self.stream.load_state(manifest["data"])
        if manifest["world_size"] == self.info.world_size:
            rng.restore(ck.load_rng(ckpt, manifest, self.info.rank))
        else:  # a different process count cannot replay the same streams: reseed, say so
            rng.seed_all(self.cfg.seed + self.info.rank + 7919 * self.step)
            if self.info.is_main:
                print(
                    f"[scorelab] resuming a {manifest['world_size']}-process checkpoint on "
                    f"{self.info.world_size} process(es): random streams are reseeded"
                )

    def _check_config(self, ckpt: Path) -> None:
        saved = json.loads((ckpt / "config.json").read_text())
        prefix = _train_prefix(self.run_config, self.cfg)
        skip = {prefix + f for f in RUN_CONTROL_FIELDS} if prefix is not None else set()
        diff = [
            f"{k}: checkpoint {a!r} vs now {b!r}"
            for k, (a, b) in sorted(dict_diff(saved, self._config_dict).items())
            if k not in skip
        ]
        if diff:
            raise ck.CheckpointError(
                f"cannot resume from {ckpt}: the config differs in " + "; ".join(diff)
            )

    def _loop(self, log: MetricsLog) -> dict[str, Any]:
        cfg, info = self.cfg, self.info
        from tqdm.auto import tqdm

        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            unit="step",
            disable=not (cfg.progress and info.is_main),
            dynamic_ncols=True,
        )
        sums: dict[str, float] = {}
        good, bad_run = 0, 0
        last_log: dict[str, Any] = {}
        t_last, step_last = time.perf_counter(), self.step
        batches = iter(self.stream)
        self.ddp.train()
        while self.step < cfg.steps:
            lr = lr_at(self.step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.lr_decay)
            scalars = self._train_step(to_device(next(batches), self.device), lr)
            if scalars is None:
                bad_run += 1
                msg = f"step {self.step}: non-finite loss or gradient, step skipped"
                if info.is_main:
                    bar.write(f"[scorelab] {msg}")
                log.write({"step": self.step, "event": "skipped_nonfinite"})
                if bad_run >= cfg.max_bad_steps:
                    raise FloatingPointError(f"{bad_run} consecutive non-finite steps; stopping")
            else:
                bad_run, good = 0, good + 1
                for k, v in scalars.items():
                    sums[k] = sums.get(k, 0.0) + v
            self.step += 1
            bar.update(1)
            done = self.step == cfg.steps
            if self.step % cfg.log_every == 0 or done:
                now = time.perf_counter()
                rate = (self.step - step_last) / max(now - t_last, 1e-9)
                means = {k: v / max(good, 1) for k, v in sums.items()}
                means = D.mean_over_ranks(info, means, self.device)
                last_log = {
                    "step": self.step,
                    **means,
                    "lr": lr,
                    "steps_per_s": rate,
                    "samples_per_s": rate * cfg.batch_size,
                    "skipped_steps": self.skipped,
                }
                log.write(last_log)
                if "loss" in means:
                    bar.set_postfix(loss=f"{means['loss']:.4g}", sps=f"{rate:.1f}")
                sums, good, t_last, step_last = {}, 0, now, self.step
            if self.evaluators and ((cfg.eval_every and self.step % cfg.eval_every == 0) or done):
                self._evaluate(log)
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and not done:
                self._checkpoint()
        bar.close()
        return last_log

    def _train_step(self, batch: Any, lr: float) -> dict[str, float] | None:
        """One optimizer step; None when the loss or gradient was non-finite (step skipped)."""
        cfg, dev = self.cfg, self.device
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            out = self.loss_fn(self.ddp, batch)
        loss, extra = (out["loss"], out) if isinstance(out, Mapping) else (out, {})
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        gnorm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        loss_v, gnorm_v = float(loss.detach()), float(gnorm)
        finite = math.isfinite(loss_v) and math.isfinite(gnorm_v)
        # every rank must take the same decision, or the replicas drift apart
        if D.any_true(self.info, not finite, dev):
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            return None
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        scalars = {"loss": loss_v, "grad_norm": gnorm_v}
        scalars.update({k: float(v) for k, v in extra.items() if k != "loss"})
        return scalars

    def _evaluate(self, log: MetricsLog) -> None:
        if self.info.is_main:
            model = self.sampling_model
            was_training = model.training
            model.eval()
            results: dict[str, float] = {}
            with rng.preserved():
                for name, fn in self.evaluators.items():
                    for k, v in fn(model, self.step).items():
                        results[f"{name}/{k}"] = float(v)
            model.train(was_training)
            self.evals[self.step] = results
            log.write({"step": self.step, "eval": results})
        D.barrier(self.info)

    def _checkpoint(self) -> Path | None:
        states = D.gather_objects(self.info, rng.capture())
        path = None
        if self.info.is_main:
            path = ck.save_checkpoint(
                self.run_dir,
                self.step,
                model=self.model,
                ema=self.ema.module if self.ema is not None else None,
                optimizer=self.optimizer,
                trainer_state={
                    "skipped_steps": self.skipped,
                    "ema_updates": self.ema.updates if self.ema is not None else 0,
                    "data": self.stream.state(),
                },
                rng_states=states,
                config=self._config_dict,
            )
            keep = self.cfg.keep_checkpoints
            if keep:
                for old in ck.list_checkpoints(self.run_dir)[:-keep]:
                    shutil.rmtree(old, ignore_errors=True)
        D.barrier(self.info)
        return path if path is not None else ck.latest_checkpoint(self.run_dir)
