"""piad.networks: the networks of supplement Tables 1-4: shapes, parameter counts derived by
hand, init, linear outputs, in-place activations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from piad.config import FAMILIES, PIADConfig
from piad.networks import build_networks


def conv_weights(net: nn.Module) -> int:
    return sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Conv2d))


def dense_weights(net: nn.Module) -> int:
    return sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Linear))


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ------------------------------------------------------------------------------------------
# Conv weight counts, row by row from the supplement tables (k = kernel size: weights are
# c_in * c_out * k * k; a block = two 3x3 convs, plus a 1x1 skip conv when c_in != c_out).
# Biases: one per output channel of every conv / dense layer.
# ------------------------------------------------------------------------------------------
HAND = {
    # Table 1 (MNIST, 1 channel). E: conv3x3 1->32, 3 BlockDowns 32->32, conv4x4 32->32,
    # conv1x1 32->32.
    ("mnist", "E"): (1 * 32 * 9 + 3 * (2 * 32 * 32 * 9) + 32 * 32 * 16 + 32 * 32,
                     32 + 3 * (2 * 32) + 32 + 32),
    # G: conv4x4 (pad 3) 32->32, 3 BlockUps 32->32, pre-act block 32, conv1x1 32->1.
    ("mnist", "G"): (32 * 32 * 16 + 3 * (2 * 32 * 32 * 9) + 2 * 32 * 32 * 9 + 32 * 1,
                     32 + 3 * (2 * 32) + 2 * 32 + 1),
    # D_X: conv3x3 1->32, 3 BlockDowns, minibatch stddev (33 ch), conv4x4 33->32, conv1x1 32->1.
    ("mnist", "DX"): (1 * 32 * 9 + 3 * (2 * 32 * 32 * 9) + 33 * 32 * 16 + 32 * 1,
                      32 + 3 * (2 * 32) + 32 + 1),
    # D_Z: dense 32->128, 128->128, 128->1.
    ("mnist", "DZ"): (32 * 128 + 128 * 128 + 128 * 1, 128 + 128 + 1),
    # Table 1 with 3 channels (COIL-100): only the first conv of E/D_X and G's last conv change.
    ("coil100", "E"): (3 * 32 * 9 + 3 * (2 * 32 * 32 * 9) + 32 * 32 * 16 + 32 * 32,
                       32 + 3 * (2 * 32) + 32 + 32),
    ("coil100", "G"): (32 * 32 * 16 + 3 * (2 * 32 * 32 * 9) + 2 * 32 * 32 * 9 + 32 * 3,
                       32 + 3 * (2 * 32) + 2 * 32 + 3),
    ("coil100", "DX"): (3 * 32 * 9 + 3 * (2 * 32 * 32 * 9) + 33 * 32 * 16 + 32 * 1,
                        32 + 3 * (2 * 32) + 32 + 1),
    # Table 2 (CIFAR-10). E: conv3x3 3->64, BlockDown 64->64, 64->128 (+1x1 skip),
    # 128->256 (+1x1 skip), conv4x4 256->256, conv1x1 256->256.
    ("cifar10", "E"): (3 * 64 * 9
                       + 2 * 64 * 64 * 9
                       + (64 * 128 * 9 + 128 * 128 * 9 + 64 * 128)
                       + (128 * 256 * 9 + 256 * 256 * 9 + 128 * 256)
                       + 256 * 256 * 16 + 256 * 256,
                       64 + 2 * 64 + 3 * 128 + 3 * 256 + 256 + 256),
    # G: conv4x4 256->256, BlockUp 256->256, 256->128 (+skip), 128->64 (+skip),
    # pre-act block 64, conv1x1 64->3.
    ("cifar10", "G"): (256 * 256 * 16
                       + 2 * 256 * 256 * 9
                       + (256 * 128 * 9 + 128 * 128 * 9 + 256 * 128)
                       + (128 * 64 * 9 + 64 * 64 * 9 + 128 * 64)
                       + 2 * 64 * 64 * 9 + 64 * 3,
                       256 + 2 * 256 + 3 * 128 + 3 * 64 + 2 * 64 + 3),
    # D_X: conv3x3 3->32, BlockDown 32->32, 32->64 (+skip), 64->128 (+skip), minibatch
    # stddev (129 ch), conv4x4 129->128, conv1x1 128->1.
    ("cifar10", "DX"): (3 * 32 * 9
                        + 2 * 32 * 32 * 9
                        + (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64)
                        + (64 * 128 * 9 + 128 * 128 * 9 + 64 * 128)
                        + 129 * 128 * 16 + 128 * 1,
                        32 + 2 * 32 + 3 * 64 + 3 * 128 + 128 + 1),
    # D_Z: the table prints input 32x1x1, but the latent is 256x1x1 (facts note):
    # 256 -> 1024 -> 1024 -> 1.
    ("cifar10", "DZ"): (256 * 1024 + 1024 * 1024 + 1024 * 1, 1024 + 1024 + 1),
    # Table 4 (CelebA, 64 px, latent 64x1x1). E: conv3x3 3->64, 4 BlockDowns, conv4x4 64->64,
    # conv1x1 64->64.
    ("celeba", "E"): (3 * 64 * 9 + 4 * (2 * 64 * 64 * 9) + 64 * 64 * 16 + 64 * 64,
                      64 + 4 * (2 * 64) + 64 + 64),
    ("celeba", "G"): (64 * 64 * 16 + 4 * (2 * 64 * 64 * 9) + 2 * 64 * 64 * 9 + 64 * 3,
                      64 + 4 * (2 * 64) + 2 * 64 + 3),
    ("celeba", "DX"): (3 * 64 * 9 + 4 * (2 * 64 * 64 * 9) + 65 * 64 * 16 + 64 * 1,
                       64 + 4 * (2 * 64) + 64 + 1),
    # D_Z input 64 (the table's 32x1x1 contradicts its own G input 64x1x1): 64->256->256->1.
    ("celeba", "DZ"): (64 * 256 + 256 * 256 + 256 * 1, 256 + 256 + 1),
    # Table 3 (LSUN, latent 32x4x4). G: residual block 32->64 at 4x4 (conv-act-conv, 1x1 skip),
    # 4 BlockUps 64->64, pre-act block 64, conv1x1 64->3.
    ("lsun", "G"): ((32 * 64 * 9 + 64 * 64 * 9 + 32 * 64)
                    + 4 * (2 * 64 * 64 * 9) + 2 * 64 * 64 * 9 + 64 * 3,
                    3 * 64 + 4 * (2 * 64) + 2 * 64 + 3),
    # E: conv3x3 3->64, 4 BlockDowns, pre-act block 64 at 4x4, conv1x1 64->32.
    ("lsun", "E"): (3 * 64 * 9 + 4 * (2 * 64 * 64 * 9) + 2 * 64 * 64 * 9 + 64 * 32,
                    64 + 4 * (2 * 64) + 2 * 64 + 32),
    ("lsun", "DX"): (3 * 64 * 9 + 4 * (2 * 64 * 64 * 9) + 65 * 64 * 16 + 64 * 1,
                     64 + 4 * (2 * 64) + 64 + 1),
    # D_Z: reshape 32x4x4 = 512 -> 2048 -> 2048 -> 1.
    ("lsun", "DZ"): (512 * 2048 + 2048 * 2048 + 2048 * 1, 2048 + 2048 + 1),
}  # fmt: skip


@pytest.mark.parametrize(("family", "net"), sorted(HAND))
def test_weight_and_parameter_counts_match_supplement_tables(family: str, net: str) -> None:
    weights, biases = HAND[(family, net)]
    module = getattr(build_networks(PIADConfig.preset(family)), net)
    counted = dense_weights(module) if net == "DZ" else conv_weights(module)
    assert counted == weights
    assert n_params(module) == weights + biases


def test_hand_counts_spot_values() -> None:
    # a few totals written out, so a wrong expression above would also show here
    assert HAND[("mnist", "E")][0] == 72992
    assert HAND[("cifar10", "G")][0] == 2896064
    assert HAND[("lsun", "DZ")][0] == 5244928


@pytest.mark.parametrize("family", FAMILIES)
def test_output_shapes_for_every_family(family: str) -> None:
    cfg = PIADConfig.preset(family)
    nets = build_networks(cfg)
    n, s = 2, cfg.image_size
    x = torch.randn(n, cfg.in_channels, s, s)
    with torch.no_grad():
        z = nets.E(x)
        assert z.shape == (n, *cfg.latent_shape)
        assert nets.G(torch.randn(n, *cfg.latent_shape)).shape == (n, cfg.in_channels, s, s)
        assert nets.DX(x).shape == (n,)
        assert nets.DZ(z).shape == (n,)


def test_latent_shapes_per_family() -> None:
    expected = {
        "mnist": (32, 1, 1), "fmnist": (32, 1, 1), "coil100": (32, 1, 1),
        "cifar10": (256, 1, 1), "celeba": (64, 1, 1), "lsun": (32, 4, 4),
    }  # fmt: skip
    assert {f: PIADConfig.preset(f).latent_shape for f in FAMILIES} == expected


def test_same_seed_same_weights_other_seed_differs_and_global_rng_untouched() -> None:
    cfg = PIADConfig.preset("mnist")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = build_networks(cfg, seed=5), build_networks(cfg, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    c = build_networks(cfg, seed=6)
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
        assert not torch.equal(p, r), name


def test_kaiming_fan_out_init_std() -> None:
    # Kaiming normal, mode fan_out, LeakyReLU(0.2): std = sqrt(2 / (1 + 0.2^2)) / sqrt(c_out k k)
    nets = build_networks(PIADConfig.preset("cifar10"))
    w = nets.G.blocks[0].conv1.weight  # 256 -> 256, 3x3: 589,824 values
    expected = math.sqrt(2 / (1 + 0.2**2)) / math.sqrt(256 * 9)
    assert abs(w.std().item() / expected - 1) < 0.01
    assert abs(w.mean().item()) < 0.01 * expected
    skip = nets.E.blocks[2].skip.weight  # 128 -> 256, 1x1: fan_out = 256
    assert abs(skip.std().item() / (math.sqrt(2 / 1.04) / 16) - 1) < 0.05


def test_latent_discriminator_xavier_init() -> None:
    dz = build_networks(PIADConfig.preset("cifar10")).DZ
    w = dz.mlp[2].weight  # 1024 x 1024, hidden layer: U(-b, b), b = gain sqrt(6 / (2 * 1024))
    bound = math.sqrt(2 / 1.04) * math.sqrt(6 / 2048)
    assert w.abs().max().item() <= bound
    assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.01


def test_outputs_are_linear_not_squashed() -> None:
    nets = build_networks(PIADConfig.preset("mnist"))
    with torch.no_grad():
        x = nets.G(100 * torch.randn(4, 32, 1, 1))
        z = nets.E(100 * torch.randn(4, 1, 32, 32))
    assert x.abs().max() > 1  # no tanh / clamp on G
    assert z.min() < 0 < z.max()  # no ReLU on E's output
    # a linear last layer: scaling the input of the output conv scales the output's deviation
    g_out = nets.G.out
    h = torch.randn(2, 32, 4, 4)
    assert torch.allclose(g_out(3 * h) - g_out.bias.view(1, -1, 1, 1),
                          3 * (g_out(h) - g_out.bias.view(1, -1, 1, 1)), atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("family", ["mnist", "lsun"])
def test_in_place_activations_change_no_value_or_gradient(family: str, monkeypatch) -> None:
    """lrelu_ (in place, less memory) gives the same outputs, gradients and gradient-penalty
    double-backward gradients as lrelu, bit for bit, in every network."""
    import piad.blocks as blocks_module
    import piad.networks as networks_module
    from piad.losses import critic_loss

    def run() -> list[torch.Tensor]:
        cfg = PIADConfig.preset(family)
        narrow = {k: (8,) * len(getattr(cfg, k)) for k in ("gen_channels", "enc_channels")}
        cfg = cfg.replace(**narrow, dx_channels=(8,) * len(cfg.dx_channels), dz_hidden=(8, 8))
        nets = build_networks(cfg, seed=0)
        g = torch.Generator().manual_seed(1)
        size, ch = cfg.image_size, cfg.in_channels
        x = torch.rand((4, ch, size, size), generator=g) * 2 - 1
        z = torch.randn((4, *cfg.latent_shape), generator=g)
        rec = nets.G(nets.E(x))
        loss = (rec - x).square().mean() + critic_loss(nets.DX, x, nets.G(z), generator=g)
        loss.backward()
        return [rec.detach(), *(p.grad.clone() for p in nets.parameters() if p.grad is not None)]

    in_place = run()
    monkeypatch.setattr(blocks_module, "lrelu_", blocks_module.lrelu)
    monkeypatch.setattr(networks_module, "lrelu_", blocks_module.lrelu)
    copies = run()
    assert len(in_place) == len(copies) > 10
    for a, b in zip(in_place, copies):
        assert torch.equal(a, b)
