"""Image grids of samples G(z) and reconstructions G(E(x)), written atomically as PNG.

>>> import torch, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.png"
>>> save_grid(torch.zeros(4, 1, 8, 8), path, nrow=2).name
'grid.png'
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from piad.errors import PIADError
from piad.io import atomic_write_bytes


def to_unit_range(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped (G's output is linear and may overshoot)."""
    return ((images.detach().float().cpu() + 1) / 2).clamp_(0, 1)


def grid_image(images: Tensor, nrow: int = 8, padding: int = 2) -> Tensor:
    """One (3, H, W) image in [0, 1] tiling a batch (N, 1 or 3, h, w) of [-1, 1] images."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise PIADError(f"expected images shaped (N, 1 or 3, H, W), got {tuple(images.shape)}")
    # torchvision.utils.make_grid's layout (white padding), tiled here so that training never
    # imports torchvision: it adds ~165 MB of resident memory (issue 8's 1 GB MNIST target)
    x = to_unit_range(images).expand(-1, 3, -1, -1)
    n, _, h, w = x.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = torch.ones(3, rows * (h + padding) + padding, cols * (w + padding) + padding)
    for i in range(n):
        top, left = (padding + k * (size + padding) for k, size in zip(divmod(i, cols), (h, w)))
        grid[:, top : top + h, left : left + w] = x[i]
    return grid


def save_grid(
    images: Tensor, path: str | os.PathLike[str], nrow: int = 8, padding: int = 2
) -> Path:
    """Write a batch of [-1, 1] images as one PNG grid at ``path`` (atomic)."""
    grid = grid_image(images, nrow, padding)
    pixels = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def samples_and_reconstructions(samples: Tensor, real: Tensor, reconstructions: Tensor) -> Tensor:
    """Rows: samples G(z), then real images x, then their reconstructions G(E(x))."""
    n = real.shape[0]
    return torch.cat([samples[:n], real, reconstructions], dim=0)


__all__ = ["grid_image", "samples_and_reconstructions", "save_grid", "to_unit_range"]
