"""A tiny PIAD (8 px, 4 channels), a tiny stand-in for VGG-19 and toy images, for tests that
train or score a real PIAD in milliseconds per iteration."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from piad.config import PIADConfig
from piad.perceptual import PerceptualFeatures, to_three_channels


def tiny_config(**changes: Any) -> PIADConfig:
    """An 8 px PIAD that trains in milliseconds per iteration; ``changes`` override fields."""
    base = PIADConfig(
        family="custom",
        image_size=8,
        latent_dim=4,
        gen_channels=(4, 4),
        enc_channels=(4, 4),
        dx_channels=(4, 4),
        dz_hidden=(8, 8),
        batch_size=8,
        n_weight=3,
        iterations=4,
        reconstruction="mse",
        device="cpu",
    )
    return base.replace(**changes)


def training_config(**changes: Any) -> PIADConfig:
    """:func:`tiny_config` with checkpoints every 4 and log rows every 2 iterations."""
    defaults = {"in_channels": 1, "checkpoint_every": 4, "log_every": 2, "sample_every": 1000}
    return tiny_config(**{**defaults, "seed": 0, **changes})


def tiny_features(seed: int = 0) -> PerceptualFeatures:
    """A fixed random conv net standing in for VGG-19 (8 filters, stride 2)."""
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1))
    mu, sigma = torch.full((1, 8, 1, 1), 0.1), torch.full((1, 8, 1, 1), 2.0)
    return PerceptualFeatures(body, to_three_channels, mu, sigma, {"weights": "tiny-test"})


def toy_images(n: int = 24, size: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` random uint8 grey images (n, 1, size, size), seeded."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
