"""K PIAD models' E, G, D_X and D_Z run as one computation: stacked weights, grouped convolutions.

Every parameter of :class:`piad.networks.Networks` (name ``"E.stem.weight"`` etc.) is stacked over
the K members into one leaf tensor of shape (K, *shape): member k's weight is row k, exactly the
tensor a solo run holds. Activations keep the K members side by side in the channel dimension,
(B, K*C, H, W) ("fused layout"; group k = channels k*C .. (k+1)*C - 1), so every convolution of
the K models is ONE convolution with ``groups=K`` and block-diagonal weights: no arithmetic mixes
two members. D_Z's dense layers run as one batched matrix product over K. The functions mirror
:mod:`piad.networks` and :mod:`piad.blocks` line for line (same folded 4x4 kernels for the
resampling convs, same in-place LeakyReLUs, minibatch stddev per member's own batch).

>>> from piad.config import PIADConfig
>>> from piad.networks import build_networks
>>> cfg = PIADConfig.preset("mnist")
>>> nets = FusedNetworks(cfg, stack_parameters([build_networks(cfg, seed=s) for s in (0, 1)]))
>>> nets.DX(torch.zeros(4, 2, 32, 32)).shape  # (K, B): one critic value per member and sample
torch.Size([2, 4])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from piad.blocks import _POOL_TAPS, _UP_TAPS, SLOPE, MinibatchStdDev, _kernel4
from piad.config import PIADConfig
from piad.errors import PIADError
from piad.networks import Networks

MBSTD_EPS = MinibatchStdDev().eps


def stack_parameters(
    members: Sequence[Networks], memory_format: torch.memory_format = torch.contiguous_format
) -> dict[str, Tensor]:
    """{name: (K, *shape) leaf tensor requiring grad}, row k = member k's parameter (copied).

    With ``memory_format=torch.channels_last`` a conv weight (K, out, in, kh, kw) is laid out so
    that its (K*out, in, kh, kw) view, the grouped conv's weight, is channels_last.
    """
    if not members:
        raise PIADError("no networks to fuse: give at least one member")
    names = [n for n, _ in members[0].named_parameters()]
    out: dict[str, Tensor] = {}
    for name in names:
        rows = torch.stack([m.get_parameter(name).detach() for m in members])
        if rows.dim() == 5 and memory_format == torch.channels_last:
            _k, o, i, h, w = rows.shape
            strides = (o * i * h * w, i * h * w, 1, w * i, i)
            stacked = torch.empty_strided(rows.shape, strides, dtype=rows.dtype, device=rows.device)
            rows = stacked.copy_(rows)
        out[name] = rows.requires_grad_(True)
    return out


def to_fused(xs: Sequence[Tensor], memory_format: torch.memory_format) -> Tensor:
    """K member batches (B, C, H, W) -> one (B, K*C, H, W) tensor (member k = channel group k)."""
    x = torch.stack(list(xs), dim=1)
    b, k, c, h, w = x.shape
    return x.reshape(b, k * c, h, w).contiguous(memory_format=memory_format)


def to_members(x: Tensor, k: int) -> Tensor:
    """Fused (B, K*C, H, W) -> member-major (K*B, C, H, W): rows k*B .. (k+1)*B - 1 = member k."""
    b, kc, h, w = x.shape
    return x.reshape(b, k, kc // k, h, w).transpose(0, 1).reshape(k * b, kc // k, h, w)


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, SLOPE)


def lrelu_(x: Tensor) -> Tensor:
    return F.leaky_relu(x, SLOPE, inplace=True)


class FusedNetworks:
    """The four networks of K members of one architecture, on stacked parameters.

    Args:
        config: the members' common architecture (:func:`piad.training.fused.fusable_key`).
        params: :func:`stack_parameters` of the members' :class:`Networks` (updated in place
            by the optimiser; this class only reads them).
    """

    def __init__(self, config: PIADConfig, params: Mapping[str, Tensor]) -> None:
        self.config = config
        self.params = params
        self.k = int(next(iter(params.values())).shape[0])
        self._n_blocks = config.n_resample

    # ------------------------------------------------------------------ layers
    def _w(self, name: str) -> Tensor:
        return self.params[name + ".weight"]

    def _b(self, name: str) -> Tensor | None:
        bias = self.params.get(name + ".bias")
        return None if bias is None else bias.flatten()

    def _has(self, name: str) -> bool:
        return name + ".weight" in self.params

    def conv(self, x: Tensor, name: str, padding: int = 0, stride: int = 1) -> Tensor:
        """Member k's conv ``name`` on channel group k, all K at once (groups=K)."""
        w = self._w(name)
        return F.conv2d(x, w.flatten(0, 1), self._b(name), stride, padding, groups=self.k)

    def upsample_conv3x3(self, x: Tensor, name: str) -> Tensor:
        """:func:`piad.blocks.upsample_conv3x3` per member: stride-2 transposed 4x4 conv."""
        w = self._w(name)  # (K, out, in, 3, 3)
        kernel = _kernel4(w, _UP_TAPS, "ka,lb,goiab->giokl").flatten(0, 1)  # (K*in, out, 4, 4)
        return F.conv_transpose2d(x, kernel, self._b(name), stride=2, padding=1, groups=self.k)

    def conv3x3_avgpool(self, x: Tensor, name: str) -> Tensor:
        """:func:`piad.blocks.conv3x3_avgpool` per member: stride-2 4x4 conv."""
        w = self._w(name)
        kernel = _kernel4(w, _POOL_TAPS, "ka,lb,goiab->goikl").flatten(0, 1)  # (K*out, in, 4, 4)
        return F.conv2d(x, kernel, self._b(name), stride=2, padding=1, groups=self.k)

    def skip(self, x: Tensor, name: str) -> Tensor:
        return self.conv(x, name) if self._has(name) else x

    # ------------------------------------------------------------------ blocks
    def preact_block(self, x: Tensor, name: str) -> Tensor:
        h = self.conv(lrelu_(self.conv(lrelu(x), f"{name}.conv1", 1)), f"{name}.conv2", 1)
        return self.skip(x, f"{name}.skip") + h

    def block_up(self, x: Tensor, name: str) -> Tensor:
        h = lrelu_(self.upsample_conv3x3(lrelu(x), f"{name}.conv1"))
        h = self.conv(h, f"{name}.conv2", 1)
        return F.interpolate(self.skip(x, f"{name}.skip"), scale_factor=2, mode="nearest") + h

    def block_down(self, x: Tensor, name: str) -> Tensor:
        h = self.conv3x3_avgpool(lrelu_(self.conv(lrelu(x), f"{name}.conv1", 1)), f"{name}.conv2")
        return self.skip(F.avg_pool2d(x, 2), f"{name}.skip") + h

    def residual_block(self, x: Tensor, name: str) -> Tensor:
        h = self.conv(lrelu_(self.conv(x, f"{name}.conv1", 1)), f"{name}.conv2", 1)
        return self.skip(x, f"{name}.skip") + h

    def minibatch_stddev(self, x: Tensor) -> Tensor:
        """:class:`piad.blocks.MinibatchStdDev` per member: std over ITS batch, one scalar each."""
        b, kc, h, w = x.shape
        k = self.k
        var = x.var(dim=0, correction=0)  # (K*C, h, w): over the batch only, never over members
        value = torch.sqrt(var + MBSTD_EPS).reshape(k, -1).mean(dim=1)  # (K,)
        groups = x.reshape(b, k, kc // k, h, w)
        extra = value.view(1, k, 1, 1, 1).expand(b, k, 1, h, w)
        out = torch.cat([groups, extra], dim=2).reshape(b, k * (kc // k + 1), h, w)
        return out.contiguous(memory_format=_format_of(x))

    # ------------------------------------------------------------------ networks
    def E(self, x: Tensor) -> Tensor:
        """Encoder (:class:`piad.networks.Encoder`): (B, K*C, S, S) -> (B, K*d, r, r)."""
        h = self.conv(x, "E.stem", 1)
        for i in range(self._n_blocks):
            h = self.block_down(h, f"E.blocks.{i}")
        if self.config.latent_size == 1:
            h = self.conv(lrelu_(h), "E.body")
        else:
            h = self.preact_block(h, "E.body")
        return self.conv(lrelu_(h), "E.out")

    def G(self, z: Tensor) -> Tensor:
        """Generator (:class:`piad.networks.Generator`): (B, K*d, r, r) -> (B, K*C, S, S)."""
        if self.config.latent_size == 1:
            h = self.conv(z, "G.stem", 3)
        else:
            h = self.residual_block(z, "G.stem")
        for i in range(self._n_blocks):
            h = self.block_up(h, f"G.blocks.{i}")
        h = self.preact_block(h, "G.tail")
        return self.conv(lrelu_(h), "G.out")

    def DX(self, x: Tensor) -> Tensor:
        """Image critic (:class:`piad.networks.ImageDiscriminator`): -> (K, B)."""
        h = self.conv(x, "DX.stem", 1)
        for i in range(self._n_blocks):
            h = self.block_down(h, f"DX.blocks.{i}")
        h = self.minibatch_stddev(h)
        h = lrelu_(self.conv(lrelu_(h), "DX.body"))
        out = self.conv(h, "DX.out")  # (B, K, 1, 1)
        return out.reshape(out.shape[0], self.k).t()

    def DZ(self, z: Tensor) -> Tensor:
        """Latent critic (:class:`piad.networks.LatentDiscriminator`): (B, K*d, r, r) -> (K, B)."""
        b, k = z.shape[0], self.k
        h = z.reshape(b, k, -1).transpose(0, 1)  # (K, B, d*r*r), each member's flatten(1)
        n_linear = len(self.config.dz_hidden) + 1
        for i in range(n_linear):
            w = self.params[f"DZ.mlp.{2 * i}.weight"]  # (K, out, in)
            bias = self.params[f"DZ.mlp.{2 * i}.bias"]  # (K, out)
            h = torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))
            if i < n_linear - 1:
                h = lrelu(h)
        return h.reshape(k, b)


def _format_of(x: Tensor) -> torch.memory_format:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1:
        return torch.channels_last
    return torch.contiguous_format


__all__ = [
    "MBSTD_EPS",
    "FusedNetworks",
    "stack_parameters",
    "to_fused",
    "to_members",
]
