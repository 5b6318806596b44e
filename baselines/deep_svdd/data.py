"""Deep SVDD's input pipeline: pixels / 255 -> GCN (L1) -> min-max with the training range.

The authors' PyTorch code (``src/datasets/mnist.py``, ``cifar10.py``) applies, per image,
global contrast normalisation with the L1 scale (subtract the image's mean, divide by its mean
absolute deviation) and then ``(x - min) / (max - min)`` with one minimum and one maximum per
normal class, precomputed from that class's GCN-normalised *training* images (the same pair for
all three CIFAR-10 channels). Here the pair is computed from the images given to ``fit``.

MNIST's network takes 28 x 28 images. The suite stores MNIST at 32 x 32 (resized from the
original 28 x 28); such images are resized back to 28 x 28 (bilinear, antialiased) before GCN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines.deep_svdd.networks import FAMILIES
from piad.errors import PIADError


def as_tensor(images: Any, family: str) -> torch.Tensor:
    """uint8 images (N, H, W[, C]) -> float32 (N, C, S, S) in [0, 1] at the network's size."""
    channels, size, _ = FAMILIES[family]
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise PIADError(f"Deep SVDD takes uint8 images (pixels 0..255), got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] != channels:
        raise PIADError(
            f"Deep SVDD ({family}) needs a non-empty batch of shape (N, H, W, {channels}), "
            f"got {arr.shape}; pass {family} images"
        )
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0
    side = x.shape[-1]
    if x.shape[-2] != side or side not in {size, 32}:
        raise PIADError(
            f"Deep SVDD ({family}) takes {size} x {size} images (MNIST also 32 x 32), got "
            f"{tuple(x.shape[-2:])}"
        )
    if side != size:  # the suite's 32 x 32 MNIST -> the network's 28 x 28
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
    return x


def gcn_l1(x: torch.Tensor) -> torch.Tensor:
    """Per image: subtract the mean, divide by the mean absolute deviation (constant -> 0).

    >>> gcn_l1(torch.tensor([[[[0.0, 2.0]]]])).flatten().tolist()
    [-1.0, 1.0]
    """
    flat = x.flatten(1)
    centred = flat - flat.mean(dim=1, keepdim=True)
    scale = centred.abs().mean(dim=1, keepdim=True)
    return (centred / torch.where(scale > 0, scale, torch.ones_like(scale))).view_as(x)


class DeepSVDDPreprocessor:
    """GCN-L1, then min-max with the training images' global minimum and maximum."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.min_: float | None = None
        self.max_: float | None = None

    def fit(self, images: Any) -> torch.Tensor:
        """Learn the range from training images; returns them preprocessed."""
        g = gcn_l1(as_tensor(images, self.family))
        lo, hi = float(g.min()), float(g.max())
        if hi <= lo:
            raise PIADError("all training images are constant; Deep SVDD cannot be fit")
        self.min_, self.max_ = lo, hi
        return (g - lo) / (hi - lo)

    def transform(self, images: Any) -> torch.Tensor:
        if self.min_ is None or self.max_ is None:
            raise PIADError("Deep SVDD preprocessing is not fitted; call fit() first")
        return (gcn_l1(as_tensor(images, self.family)) - self.min_) / (self.max_ - self.min_)
