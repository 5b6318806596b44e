"""benchmarks/data/imageset.py: lazily read images index like an array; an ImageSet checks its
lengths and fingerprints what it holds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.data.imageset import ImageSet, LazyImages, fingerprint
from benchmarks.data.info import DATASET_INFO
from piad.errors import PIADError


class Numbers(LazyImages):
    def __init__(self):
        super().__init__(4, (1, 1, 1))

    def _load(self, i):
        return np.full((1, 1, 1), i, np.uint8)


def test_lazy_images_index_like_an_array():
    images = Numbers()
    assert images.shape == (4, 1, 1, 1) and len(images) == 4
    assert images[2].shape == (1, 1, 1) and int(images[-1][0, 0, 0]) == 3
    assert images[1:3].ravel().tolist() == [1, 2]
    assert images[np.array([3, 0])].ravel().tolist() == [3, 0]
    assert images[np.array([True, False, False, True])].ravel().tolist() == [0, 3]
    assert np.asarray(images).ravel().tolist() == [0, 1, 2, 3]
    with pytest.raises(IndexError):
        images[4]
    with pytest.raises(IndexError):
        images[np.array([0, 9])]


def test_image_set_checks_lengths_and_fingerprints():
    info = DATASET_INFO["mnist5k"]
    images = np.zeros((3, 32, 32, 1), np.uint8)
    with pytest.raises(PIADError, match="3 images but 2 labels"):
        ImageSet(info, images, np.zeros(2), np.array(["train"] * 3))
    a = ImageSet(info, images, np.zeros(3), np.array(["train"] * 3))
    images2 = images.copy()
    images2[0, 0, 0, 0] = 1
    b = ImageSet(info, images2, np.zeros(3), np.array(["train"] * 3))
    assert a.fingerprint != b.fingerprint and len(a.fingerprint) == 64
    assert a.fingerprint == ImageSet(info, images.copy(), np.zeros(3), a.partition).fingerprint
    assert fingerprint("a", "bc") != fingerprint("ab", "c")  # parts are length-prefixed
    assert a.take(np.array([2, 0])).shape == (2, 32, 32, 1)
