"""Encoder E, generator G, discriminators D_X and D_Z (supplement Tables 1-4).

Widths come from :class:`piad.config.PIADConfig` (``gen_channels`` from 4x4 upwards,
``enc_channels`` / ``dx_channels`` from the image size down to 4x4). E and G have linear
outputs; all convolutions of E, G and D_X get Kaiming-normal weights (fan_out, LeakyReLU 0.2);
D_Z's dense layers get Xavier-uniform weights (facts note, authors' code).

>>> from piad.config import PIADConfig
>>> nets = build_networks(PIADConfig.preset("mnist"))
>>> nets.E(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 32, 1, 1])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from piad.blocks import (
    SLOPE,
    BlockDown,
    BlockUp,
    MinibatchStdDev,
    PreActBlock,
    ResidualBlock,
    conv3x3,
    lrelu_,
)
from piad.config import PIADConfig
from piad.errors import PIADError


def kaiming_init(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Kaiming-normal (fan_out, LeakyReLU 0.2) weights for every conv; biases keep torch's."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(
                m.weight, a=SLOPE, mode="fan_out", nonlinearity="leaky_relu", generator=generator
            )
    return module


class Encoder(nn.Module):
    """E: image (N, C, S, S) -> latent (N, latent_dim, r, r); linear output.

    r = 1: conv3x3, BlockDowns to 4x4, LeakyReLU, conv4x4 valid, LeakyReLU, conv1x1
    (supplement Tables 1, 2, 4). r = 4 (LSUN, Table 3): the 4x4 conv is replaced by a
    pre-activation block at 4x4, then LeakyReLU and the 1x1 conv.
    """

    def __init__(
        self, in_channels: int, channels: Sequence[int], latent_dim: int, latent_size: int = 1
    ) -> None:
        super().__init__()
        c = list(channels)
        self.stem = conv3x3(in_channels, c[0])
        self.blocks = nn.Sequential(*[BlockDown(a, b) for a, b in itertools.pairwise(c)])
        self.body: nn.Module
        if latent_size == 1:
            self.body = nn.Conv2d(c[-1], c[-1], 4)  # 4x4 -> 1x1, followed by LeakyReLU
            self.pre_act = True
        elif latent_size == 4:
            self.body = PreActBlock(c[-1], c[-1])
            self.pre_act = False
        else:
            raise PIADError(f"latent_size must be 1 or 4, got {latent_size}")
        self.out = nn.Conv2d(c[-1], latent_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks(self.stem(x))
        h = self.body(lrelu_(h)) if self.pre_act else self.body(h)
        return self.out(lrelu_(h))


class Generator(nn.Module):
    """G: latent (N, latent_dim, r, r) -> image (N, C, S, S); linear output (no tanh).

    r = 1: conv4x4 with padding 3 (1x1 -> 4x4); r = 4 (LSUN): conv-act-conv residual block
    at 4x4. Then BlockUps, a pre-activation block, LeakyReLU, conv1x1 (supplement Tables 1-4).
    """

    def __init__(
        self, latent_dim: int, latent_size: int, channels: Sequence[int], out_channels: int
    ) -> None:
        super().__init__()
        c = list(channels)
        if latent_size == 1:
            self.stem: nn.Module = nn.Conv2d(latent_dim, c[0], 4, padding=3)
        elif latent_size == 4:
            self.stem = ResidualBlock(latent_dim, c[0])
        else:
            raise PIADError(f"latent_size must be 1 or 4, got {latent_size}")
        self.blocks = nn.Sequential(*[BlockUp(a, b) for a, b in itertools.pairwise(c)])
        self.tail = PreActBlock(c[-1], c[-1])
        self.out = nn.Conv2d(c[-1], out_channels, 1)

    def forward(self, z: Tensor) -> Tensor:
        return self.out(lrelu_(self.tail(self.blocks(self.stem(z)))))


class ImageDiscriminator(nn.Module):
    """D_X: image -> one critic value per sample, shape (N,).

    conv3x3, BlockDowns to 4x4, minibatch stddev (+1 channel), LeakyReLU, conv4x4 valid,
    LeakyReLU, conv1x1 to 1 (supplement Tables 1-4).
    """

    def __init__(self, in_channels: int, channels: Sequence[int]) -> None:
        super().__init__()
        c = list(channels)
        self.stem = conv3x3(in_channels, c[0])
        self.blocks = nn.Sequential(*[BlockDown(a, b) for a, b in itertools.pairwise(c)])
        self.mbstd = MinibatchStdDev()
        self.body = nn.Conv2d(c[-1] + 1, c[-1], 4)
        self.out = nn.Conv2d(c[-1], 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.mbstd(self.blocks(self.stem(x)))
        h = lrelu_(self.body(lrelu_(h)))
        return self.out(h).reshape(-1)


class LatentDiscriminator(nn.Module):
    """D_Z: flattened latent -> one critic value per sample, shape (N,).

    Dense layers with LeakyReLU between them, the last one to 1 unit (supplement Tables 1-4).
    """

    def __init__(self, in_features: int, hidden: Sequence[int]) -> None:
        super().__init__()
        widths = [in_features, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.LeakyReLU(SLOPE)]
        layers.append(nn.Linear(widths[-1], 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.mlp(z.flatten(1)).reshape(-1)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-uniform weights, gain for LeakyReLU(0.2) on hidden layers, 1 on the output."""
        linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        hidden_gain = nn.init.calculate_gain("leaky_relu", SLOPE)
        for i, layer in enumerate(linears):
            gain = 1.0 if i == len(linears) - 1 else hidden_gain
            nn.init.xavier_uniform_(layer.weight, gain=gain, generator=generator)


class Networks(nn.Module):
    """The four networks of PIAD; ``state_dict()`` holds all of them."""

    def __init__(self, E: Encoder, G: Generator, DX: ImageDiscriminator, DZ: LatentDiscriminator):
        super().__init__()
        self.E = E
        self.G = G
        self.DX = DX
        self.DZ = DZ

    def param_counts(self) -> dict[str, int]:
        return {
            name: sum(p.numel() for p in net.parameters()) for name, net in self.named_children()
        }


def build_networks(config: PIADConfig, seed: int | None = None) -> Networks:
    """E, G, D_X, D_Z for ``config``, initialised on CPU from ``seed`` (default config.seed).

    The global torch RNG is left untouched, so the same seed gives the same weights.
    """
    seed = config.seed if seed is None else seed
    latent_numel = config.latent_dim * config.latent_size**2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # torch's default bias init draws from the global RNG
        E = Encoder(config.in_channels, config.enc_channels, config.latent_dim, config.latent_size)
        G = Generator(
            config.latent_dim, config.latent_size, config.gen_channels, config.in_channels
        )
        DX = ImageDiscriminator(config.in_channels, config.dx_channels)
        DZ = LatentDiscriminator(latent_numel, config.dz_hidden)
        gen = torch.Generator().manual_seed(seed)
        for net in (E, G, DX):
            kaiming_init(net, gen)
        DZ.reset_parameters(gen)
    return Networks(E, G, DX, DZ)


__all__ = [
    "Encoder",
    "Generator",
    "ImageDiscriminator",
    "LatentDiscriminator",
    "Networks",
    "build_networks",
    "kaiming_init",
]
