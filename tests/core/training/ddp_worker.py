"""Worker of the DDP test: ``torchrun --nproc_per_node 2 -m tests.core.training.ddp_worker OUT``.

Trains the tiny model, then writes this rank's final parameters to ``OUT/rank{r}.pt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from scorelab.training import Trainer

from .helpers import config, loss_fn, tiny_data, tiny_model


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    # different initial weights per rank: DDP must broadcast rank 0's at the start
    model = tiny_model(seed=rank)
    cfg = config(steps=30, batch_size=64, checkpoint_every=10, keep_checkpoints=0)
    trainer = Trainer(model, loss_fn, tiny_data(), cfg, out / "run")
    result = trainer.fit()
    torch.save(
        {
            "params": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            "has_ema": trainer.ema is not None,
            "step": result.step,
            "world": trainer.info.world_size,
        },
        out / f"rank{rank}.pt",
    )


if __name__ == "__main__":
    main()
