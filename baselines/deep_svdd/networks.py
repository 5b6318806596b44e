"""Deep SVDD's LeNet-type networks (Ruff et al. 2018, section 4.1) for MNIST and CIFAR-10.

Written from the paper's description and the layer facts of the authors' PyTorch code
(lukasruff/Deep-SVDD-PyTorch, ``src/networks/``): no bias terms anywhere and batch
normalisation without affine parameters (a bias would let the network map every input to the
centre c, the "hypersphere collapse" of section 3.3), leaky ReLU (slope 0.01), 5x5 kernels with
padding 2, 2x2 max-pooling, a linear output layer of ``rep_dim`` units.

- MNIST (1 x 28 x 28): conv 8 -> pool -> conv 4 -> pool -> dense 32.
- CIFAR-10 (3 x 32 x 32): conv 32 -> pool -> conv 64 -> pool -> conv 128 -> pool -> dense 128.

The autoencoders used for pre-training hold the same encoder (``.encoder``), so its weights
and batch-norm statistics move to the Deep SVDD network with one ``load_state_dict``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-4  # the authors' batch-norm epsilon

#: family -> (channels, image size, representation size)
FAMILIES: dict[str, tuple[int, int, int]] = {"mnist": (1, 28, 32), "cifar10": (3, 32, 128)}


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 5, padding=2, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, affine=False)


class LeNetEncoder(nn.Module):
    """Conv(5x5, no bias) -> BN(no affine) -> leaky ReLU -> 2x2 max-pool, per width; dense out.

    >>> LeNetEncoder("mnist")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 32])
    """

    def __init__(self, family: str) -> None:
        super().__init__()
        channels, size, rep_dim = FAMILIES[family]
        widths = (8, 4) if family == "mnist" else (32, 64, 128)
        self.family, self.rep_dim = family, rep_dim
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for width in widths:
            self.convs.append(_conv(channels, width))
            self.bns.append(_bn(width))
            channels = width
        side = size // 2 ** len(widths)  # 28 -> 7, 32 -> 4
        self.fc = nn.Linear(channels * side * side, rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns, strict=True):
            x = F.max_pool2d(F.leaky_relu(bn(conv(x))), 2)
        return self.fc(x.flatten(1))


class LeNetAutoencoder(nn.Module):
    """The encoder above and a mirrored decoder (nearest-neighbour upsampling, transposed
    convolutions without bias, sigmoid output), as in the authors' pre-training networks.

    MNIST: code (32) -> 2 x 4 x 4 -> up 8 -> deconv 4 -> up 16 -> deconv 8 (padding 3: 16 -> 14)
    -> up 28 -> deconv 1. CIFAR-10: code (128, batch-normed) -> 8 x 4 x 4 -> deconv 128 -> up 8
    -> deconv 64 -> up 16 -> deconv 32 -> up 32 -> deconv 3; its convolutions start from Xavier
    uniform weights with the leaky-ReLU gain, as the authors' CIFAR-10 autoencoder does.

    >>> LeNetAutoencoder("cifar10")(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, family: str) -> None:
        super().__init__()
        channels, _, rep_dim = FAMILIES[family]
        self.family = family
        self.encoder = LeNetEncoder(family)
        if family == "mnist":
            plan = [(2, 4, 2), (4, 8, 3), (8, channels, 2)]  # (in, out, padding)
            self.code_bn: nn.Module = nn.Identity()
        else:
            plan = [(rep_dim // 16, 128, 2), (128, 64, 2), (64, 32, 2), (32, channels, 2)]
            self.code_bn = nn.BatchNorm1d(rep_dim, eps=BN_EPS, affine=False)
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(i, o, 5, padding=p, bias=False) for i, o, p in plan
        )
        self.debns = nn.ModuleList(_bn(o) for _, o, _ in plan[:-1])
        if family == "cifar10":
            gain = nn.init.calculate_gain("leaky_relu")
            for m in [*self.encoder.convs, *self.deconvs]:
                nn.init.xavier_uniform_(m.weight, gain=gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.code_bn(self.encoder(x))
        h = F.leaky_relu(code.view(len(code), -1, 4, 4))
        if self.family == "mnist":
            h = F.interpolate(h, scale_factor=2)  # 4 -> 8 before the first deconvolution
        for deconv, bn in zip(self.deconvs[:-1], self.debns, strict=True):
            h = F.interpolate(F.leaky_relu(bn(deconv(h))), scale_factor=2)
        return torch.sigmoid(self.deconvs[-1](h))
