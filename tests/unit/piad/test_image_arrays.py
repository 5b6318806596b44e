"""piad.image_arrays: uint8 <-> [-1, 1], layouts and resizing, checked against PIL/torchvision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from piad.errors import PIADError
from piad.image_arrays import (
    as_batch,
    float_batch,
    nhwc_to_nchw,
    resize,
    resize_uint8,
    to_float,
    to_uint8,
)
from piad.image_arrays import to_float as to_float_images


def test_uint8_and_unit_range_round_trip_exactly():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_float(x)
    assert f.dtype == torch.float32 and float(f.min()) == -1.0 and float(f.max()) == 1.0
    assert torch.equal(to_uint8(f), x)
    assert torch.equal(to_uint8(torch.tensor([-3.0, 0.0, 3.0])), torch.tensor([0, 128, 255]).byte())


@pytest.mark.parametrize(("shape", "size"), [((3, 28, 28), 32), ((2, 128, 128, 3), 32)])
def test_uint8_resize_equals_pil_bilinear(shape, size):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    ours = resize_uint8(images, size)
    mode = "L" if images.ndim == 3 else "RGB"
    for i, image in enumerate(images):
        pil = np.asarray(Image.fromarray(image, mode).resize((size, size), Image.BILINEAR))
        assert np.array_equal(ours[i].reshape(pil.shape), pil)


def test_tensor_resize_equals_torchvision_resize():
    from torchvision.transforms.v2.functional import resize as tv_resize

    x = torch.randint(
        0, 256, (2, 3, 50, 70), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(resize(x, 32), tv_resize(x, [32, 32], antialias=True))
    same = x[:, :, :32, :32]
    assert resize(same, 32) is same  # already the size: no copy


def test_as_batch_layouts_channels_and_errors():
    gray = np.zeros((2, 28, 28), np.uint8)
    assert as_batch(gray, channels=1, size=32).shape == (2, 1, 32, 32)
    assert as_batch(gray).dtype == torch.uint8  # uint8 stays uint8
    rgb = np.zeros((2, 8, 8, 3), np.uint8)
    assert torch.equal(nhwc_to_nchw(rgb), torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(PIADError, match="channel"):
        as_batch(rgb, channels=1)
    with pytest.raises(PIADError, match="must be uint8"):
        as_batch(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(PIADError, match=r"lie in \[-1, 1\]"):
        as_batch(torch.full((1, 1, 4, 4), 2.0))
    with pytest.raises(PIADError, match="no images"):
        as_batch(np.zeros((0, 8, 8), np.uint8))


def test_float_batch_converts_then_resizes_as_floats():
    images = np.full((1, 4, 4), 255, np.uint8)
    assert torch.equal(float_batch(images), torch.ones(1, 1, 4, 4))
    assert float_batch(images, size=8).shape == (1, 1, 8, 8)
    with pytest.raises(PIADError, match="images must be"):
        float_batch(torch.zeros(1, 2, 4, 4))


def test_uint8_to_minus_one_one() -> None:
    x = torch.tensor([0, 255, 128], dtype=torch.uint8)
    assert torch.allclose(to_float_images(x), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6)


def test_float_batch_ranges_shapes_and_channel_error():
    gray = np.array([[[0, 255]]], dtype=np.uint8)  # (1, 1, 2)
    assert float_batch(gray).tolist() == [[[[-1.0, 1.0]]]]
    assert float_batch(np.zeros((2, 8, 8, 3), np.uint8), size=4).shape == (2, 3, 4, 4)
    with pytest.raises(PIADError, match="uint8"):
        float_batch(np.zeros((2, 8, 8, 2), np.uint8))
