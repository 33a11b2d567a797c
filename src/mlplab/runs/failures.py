"""What can stop a run midway, and the one clear message for each: Ctrl-C and a batch too big for memory.

A non-finite loss is ``fit.NonFiniteLoss``; bad names and values are ValueError/TypeError from the config.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message names the run folder and the command that resumes it."""


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt; a no-op off the main thread.

    Wraps a checkpoint save, so that Ctrl-C never leaves the last completed epoch unsaved.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocator failure (CUDA OOM, or the CPU allocator refusing a request)."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        s in text for s in ("out of memory", "not enough memory", "can't allocate memory"))


@contextmanager
def out_of_memory_hint(config, model_only: bool = False) -> Iterator[None]:
    """Turn an allocator failure inside the block into a ValueError that suggests a smaller batch or model."""
    try:
        yield
    except (RuntimeError, MemoryError) as e:
        if not is_out_of_memory(e):
            raise
        if model_only:
            raise ValueError(f"the model with hidden widths {list(config.hidden)} does not fit in memory; use "
                             f"smaller --hidden widths; {str(e).splitlines()[0]}") from None
        smaller = max(1, config.batch_size // 2)
        raise ValueError(f"out of memory on device {config.device!r} with batch size {config.batch_size} and "
                         f"hidden widths {list(config.hidden)}: try --batch-size {smaller} (or smaller "
                         f"--hidden widths); {str(e).splitlines()[0]}") from None
