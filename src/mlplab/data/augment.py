"""Light augmentation of image batches on their device: random horizontal flips and small shifts.

Each function takes a batch ``(B, H, W)`` and a generator (the epoch's, so augmentation is seeded by
``(seed, epoch)`` like the shuffling) and returns a new batch of the same shape.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mlplab.registry import lookup


def identity(x: Tensor, g: torch.Generator) -> Tensor:
    return x


def flip(x: Tensor, g: torch.Generator) -> Tensor:
    """Mirror each image left-right with probability ½."""
    mask = torch.rand(len(x), generator=g, device=x.device) < 0.5     # (B,)
    return torch.where(mask[:, None, None], x.flip(-1), x)


def shift(x: Tensor, g: torch.Generator, pixels: int = 2) -> Tensor:
    """Translate each image by up to ``pixels`` in each direction, filling with zeros (pad, then crop)."""
    b, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pixels, pixels, pixels, pixels))  # (B, H+2p, W+2p)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, b), generator=g, device=x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)                  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)                  # (B, W)
    return padded[torch.arange(b, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def flip_shift(x: Tensor, g: torch.Generator) -> Tensor:
    return shift(flip(x, g), g)


AUGMENTS = {"none": identity, "flip": flip, "shift": shift, "flip-shift": flip_shift}


def get_augment(name: str, input_shape: tuple[int, ...]):
    """The augmentation called ``name``; anything but ``none`` needs images (``input_shape`` (H, W))."""
    fn = lookup(AUGMENTS, name, "augment")
    if name != "none" and len(input_shape) != 2:
        raise ValueError(f"augment {name!r} needs image data of shape (H, W); this dataset's samples have shape "
                         f"{tuple(input_shape)}; use augment 'none'")
    return fn
