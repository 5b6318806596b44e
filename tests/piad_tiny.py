"""A tiny PIAD configuration (8 px, 4 channels) for tests that train or score a real PIAD."""

from __future__ import annotations

from typing import Any

from piad.config import PIADConfig


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
