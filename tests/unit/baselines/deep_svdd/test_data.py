"""baselines.deep_svdd.data: uint8 images to the network's input (28 x 28 MNIST, also from
the suite's 32 x 32), GCN with the L1 scale, and min-max with the training range."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.deep_svdd.data import DeepSVDDPreprocessor, as_tensor, gcn_l1
from piad.errors import PIADError


def test_preprocessing_gcn_then_training_range(toy):
    x = toy(3, 10, "normal")
    pre = DeepSVDDPreprocessor("mnist")
    out = pre.fit(x)
    g = gcn_l1(torch.from_numpy(x).float()[:, None] / 255.0)
    assert (pre.min_, pre.max_) == (float(g.min()), float(g.max()))
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0
    # GCN-L1 by hand: mean 0, mean |.| 1 per image
    flat = g.flatten(1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.abs().mean(1), torch.ones(10))


def test_the_suites_32x32_mnist_is_resized_to_the_networks_28x28(toy):
    x = toy(4, 5, "normal", size=32)
    t = as_tensor(x[..., None], "mnist")
    assert t.shape == (5, 1, 28, 28)
    assert as_tensor(toy(4, 5, "normal"), "mnist").shape == (5, 1, 28, 28)
    with pytest.raises(PIADError, match=r"takes 28 x 28 images"):
        as_tensor(toy(4, 5, "normal", size=20), "mnist")


def test_pixels_become_floats_in_0_1_in_channels_first_layout():
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    t = as_tensor(x.astype(np.uint8), "mnist")
    assert t.dtype == torch.float32 and t.shape == (2, 1, 28, 28)
    torch.testing.assert_close(t[:, 0], torch.from_numpy(x).float() / 255.0, rtol=0, atol=0)
    rgb = np.zeros((1, 32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 255, 51  # red full, blue 0.2
    c = as_tensor(rgb, "cifar10")
    assert c.shape == (1, 3, 32, 32)
    assert c[0, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
    assert as_tensor(rgb[..., :1], "mnist").shape == (1, 1, 28, 28)  # (N, H, W, 1) as well


def test_the_32_px_resize_is_torchs_antialiased_bilinear():
    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    want = F.interpolate(torch.from_numpy(x).float()[:, None] / 255.0, size=(28, 28),
                         mode="bilinear", antialias=True)  # fmt: skip
    torch.testing.assert_close(as_tensor(x, "mnist"), want, rtol=0, atol=0)


def test_gcn_l1_by_hand_and_constant_images():
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]]).view(2, 1, 2, 2)
    # image 0: mean 3, centred (-2, -1, 0, 3), mean |.| 1.5; image 1: constant -> zeros
    want = torch.tensor([[-4 / 3, -2 / 3, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]]).view(2, 1, 2, 2)
    torch.testing.assert_close(gcn_l1(x), want)


def test_test_images_use_the_training_range(toy):
    train, test = toy(5, 20, "normal"), toy(6, 4, "anomaly")
    pre = DeepSVDDPreprocessor("mnist")
    pre.fit(train)
    g = gcn_l1(torch.from_numpy(test).float()[:, None] / 255.0)
    want = (g - pre.min_) / (pre.max_ - pre.min_)
    torch.testing.assert_close(pre.transform(test), want)
    refit = DeepSVDDPreprocessor("mnist")
    refit.fit(test)
    assert (refit.min_, refit.max_) != (pre.min_, pre.max_)  # a test set's own range differs


def test_bad_images_and_an_unfitted_preprocessor_are_refused(toy):
    pre = DeepSVDDPreprocessor("mnist")
    with pytest.raises(PIADError, match=r"not fitted; call fit\(\) first"):
        pre.transform(toy(0, 2, "normal"))
    with pytest.raises(PIADError, match="all training images are constant"):
        pre.fit(np.full((3, 28, 28), 7, np.uint8))
    with pytest.raises(PIADError, match=r"takes uint8 images .* got dtype float64"):
        as_tensor(np.zeros((2, 28, 28)), "mnist")
    with pytest.raises(PIADError, match=r"needs a non-empty batch of shape \(N, H, W, 3\)"):
        as_tensor(np.zeros((2, 32, 32), np.uint8), "cifar10")
    with pytest.raises(PIADError, match="non-empty batch"):
        as_tensor(np.zeros((0, 28, 28), np.uint8), "mnist")
    with pytest.raises(PIADError, match=r"\(cifar10\) takes 32 x 32 images"):
        as_tensor(np.zeros((1, 28, 28, 3), np.uint8), "cifar10")
