"""DataLoaders whose shuffling depends only on (seed, epoch): the same order on resume and across ranks.

A plain `DataLoader(shuffle=True)` draws its permutation from the global RNG, so anything that touches the
RNG (a figure, a validation pass with dropout) changes the next epoch's order, and a resumed run diverges.
Here the order is a pure function of the seed and the epoch, which the Trainer sets via `set_epoch`; under
DDP the same holds through `DistributedSampler`, which shards it across ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from sigzoo_shared.device import loader_defaults, seed_worker
from sigzoo_shared.distributed import is_distributed


class EpochShuffleSampler(Sampler[int]):
    """A random permutation of `range(n)` drawn from `seed + epoch`."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
    device: torch.device | None = None,
    num_workers: int | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """A DataLoader with an epoch-seeded (and, under DDP, sharded) sampler and machine-suited defaults."""
    n = len(dataset)  # type: ignore[arg-type]
    sampler: Sampler[int]
    if is_distributed():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    else:
        sampler = EpochShuffleSampler(n, seed=seed, shuffle=shuffle)
    opts = loader_defaults(device or torch.device("cpu"), num_workers)
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        collate_fn=collate_fn,
        worker_init_fn=seed_worker,
        generator=g,
        **opts,
    )


def set_epoch(loader: Any, epoch: int) -> None:
    """Tell a loader's sampler (ours or DistributedSampler) which epoch it is, if it cares."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    batch_sampler = getattr(loader, "batch_sampler", None)
    inner = getattr(batch_sampler, "sampler", None)
    if inner is not sampler and hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)
