"""Batches in a reproducible, resumable order, sharded over ranks.

The order of epoch ``e`` is ``DistributedSampler``'s permutation for ``seed`` and ``e``
(the same on every rank, each rank taking its stride), so a run resumed from
``(epoch, batch)`` sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset
from torch.utils.data._utils.collate import default_collate


class TensorData(Dataset):
    """A dataset over the first axis of a tensor, fetched a whole batch at a time."""

    def __init__(self, data: Tensor) -> None:
        if not isinstance(data, Tensor) or data.ndim < 1:
            raise ValueError("TensorData needs a tensor with a leading sample axis")
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Tensor:
        return self.data[i]

    def __getitems__(self, idx: list[int]) -> Tensor:
        return self.data[torch.as_tensor(idx)]


def _as_is(batch: Any) -> Any:
    return batch


class BatchStream:
    """Endless batches of ``batch_size`` (per rank) from a map-style dataset, with a cursor.

    ``epoch`` and ``batch`` name the next batch; ``state()``/``load_state()`` save and restore
    them. An incomplete last batch of an epoch is dropped.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
    ) -> None:
        if isinstance(dataset, IterableDataset):
            raise TypeError("the training engine needs a map-style Dataset (len and indexing)")
        n = len(dataset)
        self.sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.per_epoch = len(self.sampler) // batch_size
        if self.per_epoch == 0:
            raise ValueError(
                f"dataset of {n} samples is too small for {world_size} process(es) x "
                f"{batch_size} samples per batch"
            )
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers
        if collate_fn is None:
            collate_fn = _as_is if hasattr(dataset, "__getitems__") else default_collate
        self.collate_fn = collate_fn
        self.epoch, self.batch = 0, 0

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])

    def _epoch_batches(self) -> list[list[int]]:
        self.sampler.set_epoch(self.epoch)
        idx = list(self.sampler)
        b = self.batch_size
        return [idx[k * b : (k + 1) * b] for k in range(self.batch, self.per_epoch)]

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.dataset, TensorData) and self.num_workers == 0:
            yield from self._tensor_batches()
            return
        while True:
            loader = DataLoader(
                self.dataset,
                batch_sampler=self._epoch_batches(),
                num_workers=self.num_workers,
                collate_fn=self.collate_fn,
                # its own generator: creating a loader must not draw from the global RNG
                generator=torch.Generator().manual_seed(self.sampler.seed + self.epoch),
            )
            for batch in loader:
                self.batch += 1
                yield batch
            self.epoch, self.batch = self.epoch + 1, 0

    def _tensor_batches(self) -> Iterator[Tensor]:
        """The same batches as the loader path, indexed straight from the tensor (no loader)."""
        data, b, smp = self.dataset.data, self.batch_size, self.sampler
        while True:
            # DistributedSampler's order (shuffle, drop_last), computed on tensors, not lists
            g = torch.Generator().manual_seed(smp.seed + self.epoch)
            idx = torch.randperm(len(data), generator=g)[: smp.total_size]
            idx = idx[smp.rank : smp.total_size : smp.num_replicas]
            for k in range(self.batch, self.per_epoch):
                self.batch = k + 1
                yield data[idx[k * b : (k + 1) * b]]
            self.epoch, self.batch = self.epoch + 1, 0
