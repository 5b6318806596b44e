"""The perceptual network as a module: input transforms and f(.) with its statistics (eq. 3).

>>> f = PerceptualFeatures(nn.Identity(), lambda x: x, torch.zeros(1, 3, 1, 1),
...                        torch.full((1, 3, 1, 1), 2.0), {"weights": "identity"})
>>> f.normalize(f(torch.ones(1, 3, 1, 1))).flatten().tolist()
[0.5, 0.5, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from piad.errors import PIADError

# VGG-19 weights in channels_last on CPU: measured 12% faster forward and 5% faster forward +
# input-backward at batch 32 (32 px, 2 threads; the max-pooling layers gain most). Values move
# by float rounding only (about 2e-6 relative). Not applied on CUDA (unmeasured there).
CPU_CHANNELS_LAST = True
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, torchvision weights
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # original VGG (Caffe): BGR, 0-255, mean pixel


def to_three_channels(x: Tensor) -> Tensor:
    """Repeat a grayscale batch to 3 channels (supplement Sec. 1.1); 3-channel input unchanged."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise PIADError(
            f"expected images shaped (N, 1 or 3, H, W), got {tuple(x.shape)}; "
            "convert to channels-first grayscale or RGB"
        )
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class ImageNetInput(nn.Module):
    """[-1, 1] -> [0, 1] -> ImageNet mean/std normalisation (torchvision's VGG-19 input)."""

    mean: Tensor
    std: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = to_three_channels(x)
        return ((x + 1) / 2 - self.mean) / self.std


class CaffeInput(nn.Module):
    """[-1, 1] RGB -> [0, 255] BGR minus the mean pixel (the original VGG-19's input)."""

    mean: Tensor

    def __init__(self) -> None:
        super().__init__()
        mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = to_three_channels(x)
        return (x.flip(1) + 1) * 127.5 - self.mean  # RGB -> BGR, [-1, 1] -> [0, 255]


class PerceptualFeatures(nn.Module):
    """Frozen feature extractor f(.) of eq. 2-4 with per-filter statistics (mu, sigma) of eq. 3.

    ``forward`` gives the raw features f(x) of images in [-1, 1]; ``normalize`` applies eq. 3.
    Parameters never require gradients and the module stays in eval mode, but gradients flow
    to the input (the generator is trained through it).

    """

    mu: Tensor
    sigma: Tensor

    def __init__(
        self,
        body: nn.Module,
        input_transform: Callable[[Tensor], Tensor],
        mu: Tensor,
        sigma: Tensor,
        provenance: dict[str, Any],
    ) -> None:
        super().__init__()
        mu, sigma = torch.as_tensor(mu).float(), torch.as_tensor(sigma).float()
        if mu.dim() != 4 or mu.shape[0] != 1 or mu.shape[2:] != (1, 1) or sigma.shape != mu.shape:
            raise PIADError(
                f"per-filter statistics must both be shaped (1, C, 1, 1), got mu "
                f"{tuple(mu.shape)} and sigma {tuple(sigma.shape)}"
            )
        if not bool(torch.isfinite(mu).all()) or not bool((sigma > 0).all()):
            raise PIADError("per-filter statistics must be finite with sigma > 0 for every filter")
        self.body = body
        self.input_transform = input_transform
        self.register_buffer("mu", mu)
        self.register_buffer("sigma", sigma)
        self.provenance = dict(provenance)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> PerceptualFeatures:
        """Always eval mode: the network is a fixed measuring device."""
        return super().train(False)

    @property
    def channels(self) -> int:
        """Number of filters C of the feature map (512 for relu4_2)."""
        return int(self.mu.shape[1])

    def forward(self, x: Tensor) -> Tensor:
        """Raw features f(x), shape (N, C, h, w), of images x in [-1, 1] (N, 1 or 3, H, W)."""
        f = self.body(self.input_transform(x))
        if f.dim() != 4 or f.shape[1] != self.channels:
            raise PIADError(
                f"feature map shaped {tuple(f.shape)} does not match the {self.channels} "
                "per-filter statistics; use statistics computed for this layer"
            )
        return f

    def normalize(self, f: Tensor) -> Tensor:
        """Eq. 3: (f - mu) / sigma, per filter."""
        return (f - self.mu) / self.sigma


__all__ = [
    "CAFFE_MEAN_BGR",
    "CPU_CHANNELS_LAST",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CaffeInput",
    "ImageNetInput",
    "PerceptualFeatures",
    "to_three_channels",
]
