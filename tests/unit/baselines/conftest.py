"""Fixtures of the baselines tests: toy images (blobs, noisy patterns) and the real mnist5k
digits; each fixture is the helper function itself (conftest files cannot be imported)."""

from __future__ import annotations

import numpy as np
import pytest


def _blobs(seed: int = 0, n_train: int = 100, n_test: int = 40, d: int = 32):
    """Normal images around pattern a, anomalies around a far-away pattern b."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=d), rng.normal(size=d)
    train = a + 0.3 * rng.normal(size=(n_train, d))
    normal = a + 0.3 * rng.normal(size=(n_test, d))
    anomalies = b + 0.3 * rng.normal(size=(n_test, d))
    labels = np.r_[np.zeros(n_test), np.ones(n_test)].astype(int)
    return train, np.vstack([normal, anomalies]), labels


def _images(seed: int, n: int, pattern_seed: int = 0) -> np.ndarray:
    """uint8 8x8 images: one fixed pattern plus noise."""
    rng = np.random.default_rng(seed)
    pattern = np.random.default_rng(pattern_seed).integers(0, 256, size=(8, 8, 1))
    return np.clip(pattern + rng.integers(-40, 41, size=(n, 8, 8, 1)), 0, 255).astype(np.uint8)


def _mnist5k():
    try:
        from benchmarks.data import load_dataset
    except ImportError:
        from benchmarks.datasets import load_dataset
    return load_dataset("mnist5k")


@pytest.fixture
def blobs():
    """:func:`_blobs`: ``blobs(seed, n_train, n_test, d)`` -> (train, test, labels)."""
    return _blobs


@pytest.fixture
def images():
    """:func:`_images`: ``images(seed, n, pattern_seed)`` -> uint8 (n, 8, 8, 1)."""
    return _images


@pytest.fixture
def mnist5k():
    """:func:`_mnist5k`: ``mnist5k()`` -> the suite's mnist5k dataset (real digits)."""
    return _mnist5k
