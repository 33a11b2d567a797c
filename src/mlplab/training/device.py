"""Which device a run trains on: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (and ``mps`` where present).

``parse_device`` checks the spelling only (a config naming ``cuda`` still loads on a CPU machine);
``check_device`` also checks that the device exists here and returns it. Both raise ValueError in one line.
"""

from __future__ import annotations

import torch

TRAINABLE = ("cpu", "cuda", "mps")  # device types mlplab trains on; meta, xla, ... hold no real numbers
HINT = "use auto, cpu, cuda or cuda:N"


def parse_device(device: str) -> str:
    """``device`` when it names a device type mlplab can train on; else ValueError saying what to use."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda:0'; got {device!r}")
    if device == "auto":
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}; {HINT}") from None
    if dev.type not in TRAINABLE:
        raise ValueError(f"device {device!r} cannot train a model (mlplab trains on {', '.join(TRAINABLE)}); {HINT}")
    return device


def check_device(device: str) -> torch.device:
    """The torch.device for ``device`` on this machine: ``auto`` is CUDA when available, else CPU.

    >>> check_device("cpu")
    device(type='cpu')
    """
    parse_device(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s): use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} asked for, but Apple's MPS is not available here; use --device cpu")
    return dev


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of ``model``'s parameters (float32 for a model without any): what its inputs are cast to."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
