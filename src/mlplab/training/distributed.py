"""Data-parallel training across processes launched by torchrun (DistributedDataParallel).

``torchrun --nproc-per-node N -m mlplab train ...`` starts N processes with RANK, WORLD_SIZE and LOCAL_RANK in
their environment. Every rank draws the same permutation of the epoch (same seed) and takes its own slice of
every global batch, so the global batch is ``batch_size`` whatever N is; DDP averages the gradients, and
``fit`` scales each rank's summed loss so that the average equals the one-process mean over the global batch.
Only rank 0 writes the run folder and prints progress. gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor, nn


def launched() -> bool:
    """True in a process that torchrun started with more than one rank."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def process_group(device: str) -> Iterator[None]:
    """Join torchrun's process group for the duration (nothing to do when not launched by torchrun).

    ``device`` auto/cuda picks nccl and this process's GPU (LOCAL_RANK); cpu picks gloo.
    """
    if not launched() or dist.is_initialized():
        yield
        return
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda and device in ("auto", "cuda"):  # one GPU per process
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Only rank 0 writes files and prints."""
    return rank_and_world()[0] == 0


def shard(batch: Tensor, rank: int, world: int) -> Tensor:
    """This rank's contiguous share of a global batch of indices (sizes differ by at most one)."""
    return batch.tensor_split(world)[rank]


def all_sum_(*tensors: Tensor) -> None:
    """Sum each tensor over all ranks, in place (no-op in a single process)."""
    if rank_and_world()[1] > 1:
        for t in tensors:
            dist.all_reduce(t)


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped for gradient averaging across ranks (the parameters stay the model's own)."""
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" \
        else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
