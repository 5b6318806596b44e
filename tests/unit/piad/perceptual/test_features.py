"""piad.perceptual.features: the ImageNet and Caffe input transforms, and the frozen
PerceptualFeatures with its per-filter statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from piad.errors import PIADError
from piad.perceptual import CaffeInput, ImageNetInput, PerceptualFeatures


# ------------------------------------------------------------------------------------------
# Input transforms
# ------------------------------------------------------------------------------------------
def test_caffe_input_is_bgr_0_255_minus_mean_pixel():
    x = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)  # R = 255, G = 0, B = 127.5
    out = CaffeInput()(x).flatten().tolist()
    assert out == pytest.approx([127.5 - 103.939, 0 - 116.779, 255 - 123.68])  # B, G, R
    gray = CaffeInput()(torch.zeros(1, 1, 1, 1)).flatten().tolist()
    assert gray == pytest.approx([127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68])


def test_imagenet_input_maps_minus1_1_to_normalised_rgb():
    out = ImageNetInput()(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)).flatten().tolist()
    assert out == pytest.approx([-0.485 / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    with pytest.raises(PIADError, match="1 or 3"):
        ImageNetInput()(torch.zeros(1, 2, 4, 4))


# ------------------------------------------------------------------------------------------
# PerceptualFeatures
# ------------------------------------------------------------------------------------------
def unit_features(body: nn.Module, channels: int) -> PerceptualFeatures:
    mu, sigma = torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1)
    return PerceptualFeatures(body, ImageNetInput(), mu, sigma, {"weights": "test"})


def test_features_are_frozen_in_eval_mode_but_pass_gradients_to_the_input():
    f = unit_features(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5)), 4)
    assert all(not p.requires_grad for p in f.parameters())
    f.train()
    assert not f.training and not f.body[1].training  # dropout stays off
    x = torch.randn(2, 1, 6, 6, requires_grad=True)
    out = f(x)
    assert torch.equal(out, f(x))  # deterministic: eval mode
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert set(f.state_dict()) == {"mu", "sigma", "body.0.weight", "body.0.bias"}


def test_features_reject_bad_statistics_and_mismatched_layers():
    with pytest.raises(PIADError, match=r"\(1, C, 1, 1\)"):
        PerceptualFeatures(nn.Identity(), ImageNetInput(), torch.zeros(3), torch.ones(3), {})
    with pytest.raises(PIADError, match="sigma > 0"):
        PerceptualFeatures(
            nn.Identity(), ImageNetInput(), torch.zeros(1, 3, 1, 1), torch.zeros(1, 3, 1, 1), {}
        )
    f = unit_features(nn.Conv2d(3, 4, 1), 5)
    with pytest.raises(PIADError, match="does not match the 5"):
        f(torch.zeros(1, 3, 2, 2))
