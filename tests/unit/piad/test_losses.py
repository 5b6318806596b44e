"""Reconstruction distances (eq. 2-4) and WGAN-GP terms (eq. 5-6) on hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from piad.errors import PIADError
from piad.losses import (
    DISTANCES,
    adversarial_loss,
    critic_loss,
    get_distance,
    gradient_penalty,
    mse,
    perc,
    perc_l1,
    rel_perc_l1,
)
from piad.perceptual import PerceptualFeatures


def identity_transform(x: torch.Tensor) -> torch.Tensor:
    return x


def features_1x1() -> PerceptualFeatures:
    """f = fixed 1x1 conv 3 -> 2 channels: f0 = x0, f1 = x1 + x2; mu = (1, 2), sigma = (2, 4)."""
    conv = nn.Conv2d(3, 2, kernel_size=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 1]]).view(2, 3, 1, 1))
    mu = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    sigma = torch.tensor([2.0, 4.0]).view(1, 2, 1, 1)
    return PerceptualFeatures(conv, identity_transform, mu, sigma, {"weights": "test-1x1"})


def image(pixels: list[tuple[float, float, float]]) -> torch.Tensor:
    """One image (1, 3, 1, W) from a list of RGB pixels."""
    return torch.tensor(pixels, dtype=torch.float32).T.reshape(1, 3, 1, len(pixels))


# Hand computation shared by the distance tests (C = 2, H = 1, W = 2, so C*H*W = 4):
#   x pixels (1, 2, 3), (0, -1, 1) -> f(x): f0 = [1, 0], f1 = [5, 0]
#   y pixels (0, 1, 1), (1, 2, 0)  -> f(y): f0 = [0, 1], f1 = [2, 2]
#   normalised (eq. 3): n(x): f0 = [0, -0.5], f1 = [0.75, -0.5];  n(y): f0 = [-0.5, 0], f1 = [0, 0]
X = image([(1, 2, 3), (0, -1, 1)])
Y = image([(0, 1, 1), (1, 2, 0)])


def test_perc_is_eq2_on_raw_features():
    # (1-0)^2 + (0-1)^2 + (5-2)^2 + (0-2)^2 = 1 + 1 + 9 + 4 = 15, / 4 = 3.75
    assert perc(X, Y, features_1x1()).tolist() == pytest.approx([3.75])


def test_perc_l1_on_normalised_features():
    # |0.5| + |-0.5| + |0.75| + |-0.5| = 2.25, / 4 = 0.5625
    assert perc_l1(X, Y, features_1x1()).tolist() == pytest.approx([0.5625])


def test_rel_perc_l1_is_eq4_with_the_real_image_in_the_denominator():
    f = features_1x1()
    # numerator 0.5625; denominator mean|n(x)| = (0 + 0.5 + 0.75 + 0.5) / 4 = 0.4375 -> 9/7
    assert rel_perc_l1(X, Y, f).tolist() == pytest.approx([9 / 7])
    # swapped: denominator mean|n(y)| = 0.5 / 4 = 0.125 -> 0.5625 / 0.125 = 4.5 (asymmetric)
    assert rel_perc_l1(Y, X, f).tolist() == pytest.approx([4.5])


def test_mse_on_imagenet_normalised_images():
    x = torch.zeros(1, 3, 2, 2)  # [-1, 1] -> 0.5
    y = torch.ones(1, 3, 2, 2)  # -> 1.0
    # per channel ((0.5 - 1.0) / std_c)^2, mean over channels (and the identical pixels)
    expected = (0.25 / 0.229**2 + 0.25 / 0.224**2 + 0.25 / 0.225**2) / 3
    assert mse(x, y).tolist() == pytest.approx([expected], rel=1e-5)
    # grayscale is repeated to 3 channels, so it gives the same value
    assert mse(x[:, :1], y[:, :1]).tolist() == pytest.approx([expected], rel=1e-5)


def test_distances_are_per_sample_and_batch_independent():
    f = features_1x1()
    x, y = torch.cat([X, Y, X]), torch.cat([Y, X, X])
    for name, distance in DISTANCES.items():
        out = distance(x, y, f)
        assert out.shape == (3,), name
        assert out[2].item() == 0.0, name  # identical pair
        assert out[0].item() == pytest.approx(distance(X, Y, f).item()), name
    assert rel_perc_l1(x, y, f).tolist() == pytest.approx([9 / 7, 4.5, 0.0])


def test_rel_perc_l1_zero_for_identical_inputs_and_scale_invariant():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(1, 3, 1, 1, generator=g)
    sigma = torch.rand(1, 3, 1, 1, generator=g) + 0.5
    f = PerceptualFeatures(nn.Identity(), identity_transform, mu, sigma, {"weights": "id"})
    x = torch.randn(4, 3, 5, 5, generator=g)
    y = torch.randn(4, 3, 5, 5, generator=g)
    assert torch.equal(rel_perc_l1(x, x, f), torch.zeros(4))
    base = rel_perc_l1(x, y, f)
    assert (base > 0).all()
    for c in (0.3, 7.0):
        # identity body: n(mu + c (x - mu)) = c n(x); both normalised maps scaled by c
        scaled = rel_perc_l1(mu + c * (x - mu), mu + c * (y - mu), f)
        assert torch.allclose(scaled, base, rtol=1e-5)
        # the non-relative L1 is not invariant (it scales by c): the property is specific
        assert torch.allclose(
            perc_l1(mu + c * (x - mu), mu + c * (y - mu), f), c * perc_l1(x, y, f), rtol=1e-5
        )


def test_rel_perc_l1_denominator_is_detached():
    g = torch.Generator().manual_seed(1)
    mu, sigma = torch.zeros(1, 2, 1, 1), torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    f = PerceptualFeatures(nn.Identity(), identity_transform, mu, sigma, {"weights": "id"})
    x = torch.randn(1, 2, 3, 3, generator=g).requires_grad_(True)
    y = torch.randn(1, 2, 3, 3, generator=g)
    rel_perc_l1(x, y, f).sum().backward()
    nx, ny = x.detach() / sigma, y / sigma
    denominator = nx.abs().mean()
    # d/dx of mean|nx - ny| / const = sign(nx - ny) / sigma / (C H W) / const
    expected = torch.sign(nx - ny) / sigma / nx.numel() / denominator
    assert torch.allclose(x.grad, expected, atol=1e-7)
    # with a live denominator the gradient would differ: the check above can fail
    x2 = x.detach().clone().requires_grad_(True)
    n2 = x2 / sigma
    ((n2 - ny).abs().mean() / n2.abs().mean()).backward()
    assert not torch.allclose(x2.grad, expected, atol=1e-4)


def test_precomputed_fx_is_reused():
    f = features_1x1()
    fx = f(X)
    assert rel_perc_l1(X, Y, f, fx=fx).tolist() == pytest.approx([9 / 7])
    # fx is trusted as f(x): a different fx changes the value (it is really used)
    assert rel_perc_l1(X, Y, f, fx=f(Y)).item() == 0.0
    with pytest.raises(PIADError, match="precomputed fx"):
        perc(X, Y, f, fx=torch.zeros(1, 2, 1, 3))


def test_bad_inputs_give_clear_errors():
    f = features_1x1()
    with pytest.raises(PIADError, match="differ in shape"):
        rel_perc_l1(X, torch.cat([Y, Y]), f)
    with pytest.raises(PIADError, match="needs the perceptual network"):
        perc(X, Y, None)
    with pytest.raises(PIADError, match="known: mse, perc, perc_l1, rel_perc_l1"):
        get_distance("rel_perc")
    assert get_distance("rel_perc_l1") is rel_perc_l1
    assert set(DISTANCES) == {"mse", "perc", "perc_l1", "rel_perc_l1"}


# ------------------------------------------------------------------------------------------
# WGAN-GP
# ------------------------------------------------------------------------------------------
def linear_critic(weight: list[float], bias: float = 0.0) -> nn.Module:
    """D(x) = w . flatten(x) + b."""
    lin = nn.Linear(len(weight), 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([weight]))
        lin.bias.fill_(bias)
    return nn.Sequential(nn.Flatten(), lin)


class HalfSquaredNorm(nn.Module):
    """D(x) = 0.5 ||x||^2 per sample, so grad D(x) = x and the GP depends on the interpolate."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).pow(2).sum(dim=1)


def test_gradient_penalty_zero_for_unit_gradient_norm():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, generator=g)
    critic = linear_critic((w / w.norm()).tolist())
    real, fake = torch.randn(5, 3, 2, 2, generator=g), torch.randn(5, 3, 2, 2, generator=g)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_known_value_for_weight_norm_3_images_and_latents():
    critic = linear_critic([3.0] + [0.0] * 11)  # ||grad|| = 3 -> (3 - 1)^2 = 4
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(4.0)
    latent_critic = linear_critic([0.0, 3.0, 0.0])  # latents shaped (N, d)
    gp = gradient_penalty(latent_critic, torch.randn(6, 3), torch.randn(6, 3))
    assert gp.item() == pytest.approx(4.0)
    # the penalty keeps its graph: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = (0, 4, 0)
    gp.backward()
    assert latent_critic[1].weight.grad.flatten().tolist() == pytest.approx([0.0, 4.0, 0.0])


def test_gradient_penalty_uses_per_sample_uniform_interpolates():
    real = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, -1.0], [4.0, 1.0]])
    gp = gradient_penalty(HalfSquaredNorm(), real, fake, torch.Generator().manual_seed(7))
    alpha = torch.rand((3, 1), generator=torch.Generator().manual_seed(7))  # one per sample
    mixed = alpha * real + (1 - alpha) * fake
    expected = ((mixed.norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-6)
    # real == fake: the interpolate is that point whatever alpha; ||(3, 4)|| = 5 -> 16
    same = torch.tensor([[3.0, 4.0]])
    assert gradient_penalty(HalfSquaredNorm(), same, same).item() == pytest.approx(16.0)


def test_critic_loss_on_hand_made_linear_critics():
    real = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    fake = torch.tensor([[0.0, 0.0], [-1.0, 0.0]])
    # w = (1, 0), b = 0.5: D(real) = 1.5, 3.5; D(fake) = 0.5, -0.5; GP = 0
    # 0 - 2.5 + 10 * 0 + 0.001 * ((2.25 + 12.25) / 2 + (0.25 + 0.25) / 2) = -2.4925
    assert critic_loss(linear_critic([1.0, 0.0], 0.5), real, fake).item() == pytest.approx(-2.4925)
    # w = (3, 0): D(real) = 3.5, 9.5; D(fake) = 0.5, -2.5; GP = 4
    # -1 - 6.5 + 10 * 4 + 0.001 * ((12.25 + 90.25) / 2 + (0.25 + 6.25) / 2) = 32.5545
    critic = linear_critic([3.0, 0.0], 0.5)
    assert critic_loss(critic, real, fake).item() == pytest.approx(32.5545)
    assert critic_loss(critic, real, fake, gp_weight=0.0, drift=0.0).item() == pytest.approx(-7.5)


def test_critic_loss_detaches_fake_and_adversarial_loss_is_minus_mean():
    gen = nn.Linear(2, 2)
    fake = gen(torch.randn(4, 2))
    critic = linear_critic([0.5, -1.0])
    critic_loss(critic, torch.randn(4, 2), fake).backward()
    assert gen.weight.grad is None  # only the critic learns from its loss
    assert critic[1].weight.grad is not None
    assert adversarial_loss(torch.tensor([1.0, -3.0, 5.0])).item() == pytest.approx(-1.0)


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(PIADError, match="differ in shape"):
        gradient_penalty(linear_critic([1.0, 0.0]), torch.zeros(2, 2), torch.zeros(3, 2))
