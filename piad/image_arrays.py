"""The one place where images change representation: uint8 <-> [-1, 1], layouts, resizing.

The suite's images are uint8 arrays ``(N, H, W[, C])`` (datasets, files, user arrays); the
networks see float tensors ``(N, C, S, S)`` in [-1, 1] (supplement sec. 1: "images were rescaled
to range [-1, 1]"). Every module converts through these functions.

Resizing is bilinear with antialiasing (``torch.nn.functional.interpolate(..., antialias=True)``),
which on uint8 gives exactly the pixels of PIL's ``Image.resize(BILINEAR)`` and of
``torchvision.transforms.v2.functional.resize`` (tested).

>>> x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
>>> to_float(x).tolist()
[[[[-1.0, 1.0]]]]
>>> to_uint8(to_float(x)).tolist()
[[[[0, 255]]]]
>>> as_batch(np.zeros((2, 28, 28), np.uint8), channels=1, size=32).shape
torch.Size([2, 1, 32, 32])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from piad.errors import PIADError


def to_float(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]; float images pass through as float32."""
    if x.dtype == torch.uint8:
        return x.float().div_(127.5).sub_(1.0)
    return x.float()


def to_uint8(x: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clamped (G's output may overshoot)."""
    return ((x.detach().float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def resize(x: Tensor, size: int) -> Tensor:
    """(N, C, H, W) uint8 or float -> (N, C, size, size), bilinear with antialiasing."""
    if tuple(x.shape[2:]) == (size, size):
        return x
    return torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


def resize_uint8(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, H, W[, C])`` -> uint8 ``(N, size, size, C)`` (datasets' bulk preprocessing).

    Pixel-identical to PIL ``Image.resize((size, size), BILINEAR)`` image by image.
    """
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    if x.shape[1:3] == (size, size):
        return x.numpy()
    out = resize(x.permute(0, 3, 1, 2), size)
    return out.permute(0, 2, 3, 1).contiguous().numpy()


def nhwc_to_nchw(images: np.ndarray) -> Tensor:
    """uint8 ``(N, H, W)`` or ``(N, H, W, C)`` numpy -> uint8 tensor ``(N, C, H, W)`` (a copy)."""
    if images.ndim == 3:
        images = images[..., None]
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def as_batch(images: Any, channels: int | None = None, size: int | None = None) -> Tensor:
    """Images as a CPU tensor (N, C, S, S): uint8 stays uint8, float stays in [-1, 1].

    Accepts numpy uint8 (N, H, W) or (N, H, W, C), or a torch float tensor (N, C, H, W) in
    [-1, 1]. Checks the number of channels against ``channels`` and resizes to ``size``.
    """
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise PIADError(
                f"numpy images must be uint8 (N, H, W[, C]), got {images.dtype}; pass floats "
                "as a torch tensor (N, C, H, W) in [-1, 1]"
            )
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
            raise PIADError(
                f"numpy images must be shaped (N, H, W) or (N, H, W, 1|3), got {images.shape}"
            )
        x = nhwc_to_nchw(images)
    elif isinstance(images, Tensor) and images.is_floating_point():
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise PIADError(
                f"float images must be a tensor (N, 1|3, H, W), got {tuple(images.shape)}"
            )
        x = images.detach().cpu().float()
        if x.numel() and (x.min() < -1.001 or x.max() > 1.001 or not torch.isfinite(x).all()):
            raise PIADError(
                f"float images must lie in [-1, 1], got [{float(x.min()):.3g}, "
                f"{float(x.max()):.3g}]; rescale with x / 127.5 - 1"
            )
    else:
        raise PIADError(
            f"images must be a numpy uint8 array (N, H, W[, C]) or a float tensor (N, C, H, W) "
            f"in [-1, 1], got {type(images).__name__}"
        )
    if x.shape[0] == 0:
        raise PIADError("no images given")
    if channels is not None and x.shape[1] != channels:
        raise PIADError(
            f"images have {x.shape[1]} channel(s) but the model expects {channels}; "
            f"convert them or use a config with in_channels={x.shape[1]}"
        )
    return resize(x, size) if size is not None else x


def float_batch(images: np.ndarray | Tensor, size: int | None = None) -> Tensor:
    """uint8 (N, H, W[, C]) or float [-1, 1] (N, C, H, W) -> float (N, C, H, W) in [-1, 1].

    A float input is resized as floats (no rounding to uint8 on the way).
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        x = to_float(nhwc_to_nchw(images))
    else:
        x = torch.as_tensor(images, dtype=torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise PIADError(
            f"images must be uint8 (N, H, W[, 1|3]) or float (N, 1|3, H, W), got {tuple(x.shape)}"
        )
    return resize(x, size) if size is not None else x


__all__ = [
    "as_batch",
    "float_batch",
    "nhwc_to_nchw",
    "resize",
    "resize_uint8",
    "to_float",
    "to_uint8",
]
