"""Fixtures of the Deep SVDD tests: toy digits-like images (a vertical bar is normal, a
horizontal bar an anomaly)."""

from __future__ import annotations

import numpy as np
import pytest


def _toy(seed: int, n: int, kind: str, size: int = 28) -> np.ndarray:
    """uint8 (n, size, size): normal = a bright vertical bar, anomaly = a horizontal bar."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, size=(n, size, size)).astype(np.int64)
    lo, hi = size // 2 - 3, size // 2 + 3
    for i in range(n):
        shift = int(rng.integers(-4, 5))
        if kind == "normal":
            img[i, :, lo + shift : hi + shift] += 200
        else:
            img[i, lo + shift : hi + shift, :] += 200
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def toy():
    """:func:`_toy`: ``toy(seed, n, kind, size=28)`` -> uint8 (n, size, size)."""
    return _toy
