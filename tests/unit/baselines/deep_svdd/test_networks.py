"""Deep SVDD's LeNet-type networks against the paper/code's layer facts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baselines.deep_svdd.networks import FAMILIES, LeNetAutoencoder, LeNetEncoder


@pytest.mark.parametrize(
    ("family", "widths", "rep_dim", "n_params"),
    [
        # 1*8*25 + 8*4*25 + 4*7*7*32
        ("mnist", (8, 4), 32, 200 + 800 + 196 * 32),
        # 3*32*25 + 32*64*25 + 64*128*25 + 128*4*4*128
        ("cifar10", (32, 64, 128), 128, 2400 + 51200 + 204800 + 2048 * 128),
    ],
)
def test_encoder_layers_match_the_paper(family, widths, rep_dim, n_params):
    net = LeNetEncoder(family)
    channels, size, _ = FAMILIES[family]
    assert tuple(c.out_channels for c in net.convs) == widths
    assert all(c.kernel_size == (5, 5) and c.padding == (2, 2) for c in net.convs)
    assert net.fc.out_features == rep_dim == net.rep_dim
    assert sum(p.numel() for p in net.parameters()) == n_params
    # no bias terms and batch norm without affine parameters (hypersphere collapse, sec. 3.3)
    assert all(getattr(m, "bias", None) is None for m in net.modules() if hasattr(m, "weight"))
    assert all(not m.affine and m.eps == 1e-4 for m in net.bns)
    assert net(torch.rand(3, channels, size, size)).shape == (3, rep_dim)


@pytest.mark.parametrize("family", ["mnist", "cifar10"])
def test_autoencoder_reconstructs_the_input_shape_and_shares_the_encoder(family):
    channels, size, _ = FAMILIES[family]
    ae = LeNetAutoencoder(family)
    x = torch.rand(4, channels, size, size)
    with torch.no_grad():
        out = ae(x)
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1  # sigmoid
    assert all(m.bias is None for m in ae.modules() if isinstance(m, nn.ConvTranspose2d))
    net = LeNetEncoder(family)
    net.load_state_dict(ae.encoder.state_dict())  # same keys: weights and BN statistics move
    ae.eval()
    net.eval()
    torch.testing.assert_close(net(x), ae.encoder(x))


def test_bias_free_network_maps_the_zero_image_to_zero():
    """Without bias terms phi(0) = 0 for any weights (the property sec. 3.3 relies on)."""
    for family, (channels, size, rep_dim) in FAMILIES.items():
        net = LeNetEncoder(family).eval()
        assert torch.equal(net(torch.zeros(1, channels, size, size)), torch.zeros(1, rep_dim))
