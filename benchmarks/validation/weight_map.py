"""Layer correspondence between our four networks and the authors' (same start for both).

Both codes build the networks of supplement Tables 1-4 from the same layers in the same order, so
the correspondence is positional: the k-th weight layer of our E is the k-th of their encoder.

- E, G, D_X: every ``nn.Conv2d`` in module order (stem, per block conv1, conv2, skip 1x1 conv when
  the width changes, the 4x4 / 1x1 head). Our BlockUp / BlockDown fold the nearest upsampling and
  the 2x2 average pooling into the neighbouring 3x3 conv at call time (piad/blocks.py), but their
  PARAMETERS stay the plain 3x3 convs: the same tensors as their ``ConvBlock`` convs, which their
  ``nn.Sequential`` runs after ``nn.Upsample`` (BlockUp) or before ``nn.AvgPool2d`` (BlockDown).
  They are copied as they are; equal outputs are tested.
- D_Z: our ``nn.Linear`` (out, in) <-> their 1x1 ``nn.Conv2d`` (out, in, 1, 1): a reshape.

Every pair is checked (kind, channels, kernel, stride, padding, bias) before anything is copied.

>>> pairs = layer_pairs(ours.E, theirs.enc)                         # doctest: +SKIP
>>> copy_ours_to_peer(ours, peer_networks(trainer))                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from piad.errors import PIADError

NETWORKS = ("E", "G", "DX", "DZ")


def weight_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Conv2d and Linear of ``net``, in module order."""
    return [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def _signature(m: nn.Module) -> tuple[int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    if isinstance(m, nn.Linear):  # a dense layer is a 1x1 conv on a 1x1 map
        return (m.in_features, m.out_features, (1, 1), (1, 1), (0, 0))
    if isinstance(m, nn.Conv2d):
        pad: tuple[int, ...]
        if m.padding == "same":  # stride 1: (k - 1) * dilation over both sides (odd k: exact)
            pad = tuple(d * (k - 1) // 2 for k, d in zip(m.kernel_size, m.dilation))
        elif isinstance(m.padding, tuple):
            pad = m.padding
        else:  # "valid"
            pad = (0, 0)
        return (m.in_channels, m.out_channels, tuple(m.kernel_size), tuple(m.stride), tuple(pad))
    raise PIADError(f"not a weight layer: {type(m).__name__}")


def layer_pairs(ours: nn.Module, theirs: nn.Module) -> list[tuple[str, nn.Module, str, nn.Module]]:
    """``(our name, our layer, their name, their layer)`` for one network, checked pair by pair."""
    a, b = weight_layers(ours), weight_layers(theirs)
    if len(a) != len(b):
        raise PIADError(
            f"our network has {len(a)} weight layers, theirs {len(b)}: the architectures differ "
            "(check the preset's channel lists against their config)"
        )
    pairs = []
    for (na, ma), (nb, mb) in zip(a, b):
        if _signature(ma) != _signature(mb) or (ma.bias is None) != (mb.bias is None):
            raise PIADError(
                f"layer {na} {_signature(ma)} does not match their {nb} {_signature(mb)}"
            )
        pairs.append((na, ma, nb, mb))
    return pairs


@torch.no_grad()
def _copy(src: nn.Module, dst: nn.Module) -> None:
    for param in ("weight", "bias"):
        s, d = getattr(src, param), getattr(dst, param)
        if s is None:
            continue
        d.copy_(s.detach().reshape(d.shape).to(d.dtype))


def copy_networks(
    src: Mapping[str, nn.Module], dst: Mapping[str, nn.Module], *, ours_first: bool
) -> None:
    """Copy every weight layer of ``src`` into ``dst`` in place (parameters keep identity)."""
    for net in NETWORKS:
        a, b = (src[net], dst[net]) if ours_first else (dst[net], src[net])
        for _na, ma, _nb, mb in layer_pairs(a, b):
            _copy(ma, mb) if ours_first else _copy(mb, ma)


def copy_ours_to_peer(ours: Mapping[str, nn.Module], theirs: Mapping[str, nn.Module]) -> None:
    """Our initial weights into their networks (the lockstep's common start)."""
    copy_networks(ours, theirs, ours_first=True)


def copy_peer_to_ours(theirs: Mapping[str, nn.Module], ours: Mapping[str, nn.Module]) -> None:
    """Their weights into our networks (the inverse of :func:`copy_ours_to_peer`)."""
    copy_networks(theirs, ours, ours_first=False)


def _rel(a: Tensor, b: Tensor) -> float:
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-300)
    return float((a.double() - b.double()).abs().max()) / scale


@torch.no_grad()
def weight_differences(
    ours: Mapping[str, nn.Module], theirs: Mapping[str, nn.Module]
) -> dict[str, float]:
    """Per network: the largest relative difference max|a - b| / max(|a|, |b|) over its tensors."""
    return {net: rel for net, (rel, _name) in worst_tensors(ours, theirs).items()}


@torch.no_grad()
def worst_tensors(
    ours: Mapping[str, nn.Module], theirs: Mapping[str, nn.Module]
) -> dict[str, tuple[float, str]]:
    """Per network: (largest relative difference, our name of the tensor that has it)."""
    out = {}
    for net in NETWORKS:
        worst, where = 0.0, ""
        for na, ma, _nb, mb in layer_pairs(ours[net], theirs[net]):
            for param in ("weight", "bias"):
                a, b = getattr(ma, param), getattr(mb, param)
                if a is not None and (rel := _rel(a, b.reshape(a.shape))) > worst:
                    worst, where = rel, f"{na}.{param}"
        out[net] = (worst, where)
    return out


__all__ = [
    "NETWORKS",
    "copy_networks",
    "copy_ours_to_peer",
    "copy_peer_to_ours",
    "layer_pairs",
    "weight_differences",
    "weight_layers",
    "worst_tensors",
]
