"""piad.blocks: the pre-activation residual blocks of supplement Figure 1 (the folded
resampling convs equal the literal upsample/pool ones), ResidualBlock and minibatch stddev."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from piad.blocks import BlockDown, BlockUp, MinibatchStdDev, PreActBlock, ResidualBlock


def test_minibatch_stddev_hand_computed() -> None:
    # batch of 2, two features: stds over the batch are |0-2|/2 = 1 and |0-4|/2 = 2 -> mean 1.5
    x = torch.tensor([[0.0, 0.0], [2.0, 4.0]]).view(2, 2, 1, 1)
    out = MinibatchStdDev()(x)
    assert out.shape == (2, 3, 1, 1)
    assert torch.equal(out[:, :2], x)
    assert torch.allclose(out[:, 2], torch.full((2, 1, 1), 1.5), atol=1e-6)


def test_blocks_resample_and_skip_convs() -> None:
    assert BlockUp(4, 8)(torch.zeros(1, 4, 4, 4)).shape == (1, 8, 8, 8)
    assert BlockDown(4, 8)(torch.zeros(1, 4, 8, 8)).shape == (1, 8, 4, 4)
    assert isinstance(BlockUp(4, 4).skip, nn.Identity)
    skip = BlockDown(4, 8).skip
    assert isinstance(skip, nn.Conv2d) and skip.kernel_size == (1, 1)


def test_block_down_is_pre_activation_conv_conv_pool() -> None:
    torch.manual_seed(0)
    block = BlockDown(3, 3)
    x = torch.randn(2, 3, 8, 8)
    c1, c2 = block.conv1, block.conv2
    h = c2(F.leaky_relu(c1(F.leaky_relu(x, 0.2)), 0.2))  # supplement Figure 1c
    expected = F.avg_pool2d(x, 2) + F.avg_pool2d(h, 2)
    assert torch.allclose(block(x), expected, atol=1e-6)


def test_block_up_upsamples_nearest_before_convs() -> None:
    torch.manual_seed(0)
    block = BlockUp(2, 2)
    with torch.no_grad():  # zero residual branch: the output is the nearest-upsampled input
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x = torch.arange(4.0).view(1, 1, 2, 2).repeat(1, 2, 1, 1)
    out = block(x)
    assert torch.equal(out[0, 0], torch.tensor([[0.0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3],
                                               [2, 2, 3, 3]]))  # fmt: skip


def test_preact_block_identity_skip() -> None:
    block = PreActBlock(4, 4)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(block(x), x)


def _literal_up(block: BlockUp, x: torch.Tensor) -> torch.Tensor:
    """Supplement Figure 1b by the letter: upsample, then the convs; upsample in the skip."""
    h = F.interpolate(F.leaky_relu(x, 0.2), scale_factor=2, mode="nearest")
    h = block.conv2(F.leaky_relu(block.conv1(h), 0.2))
    return block.skip(F.interpolate(x, scale_factor=2, mode="nearest")) + h


def _literal_down(block: BlockDown, x: torch.Tensor) -> torch.Tensor:
    """Supplement Figure 1c by the letter: the convs, then 2x2 average pooling; skip, then pool."""
    h = block.conv2(F.leaky_relu(block.conv1(F.leaky_relu(x, 0.2)), 0.2))
    return F.avg_pool2d(block.skip(x), 2) + F.avg_pool2d(h, 2)


@pytest.mark.parametrize(
    ("kind", "cin", "cout", "size"),
    [("up", 4, 4, 5), ("up", 4, 6, 4), ("down", 4, 4, 8), ("down", 3, 5, 7)],
)
def test_folded_resampling_is_the_literal_block(kind: str, cin: int, cout: int, size: int) -> None:
    """The 4x4 stride-2 kernels compute the paper's upsample->conv and conv->pool exactly (in
    float64 to 1e-9): outputs, input and weight gradients, and (BlockDown, which the critic
    uses) the gradient penalty's double-backward gradients."""
    torch.manual_seed(0)
    block = (BlockUp if kind == "up" else BlockDown)(cin, cout).double()
    for p in block.parameters():  # non-trivial biases too
        nn.init.normal_(p)
    literal = _literal_up if kind == "up" else _literal_down

    def grads(fn) -> list[torch.Tensor]:
        x = torch.randn(
            2, cin, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
        )
        x.requires_grad_(True)
        out = fn(block, x)
        (gx,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
        block.zero_grad()
        (out.sum() + gx.square().sum()).backward()
        return [out.detach(), gx.detach(), *(p.grad.clone() for p in block.parameters())]

    folded, paper = grads(type(block).forward), grads(literal)
    assert folded[0].shape == paper[0].shape
    for a, b in zip(folded, paper):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_residual_block_is_conv_lrelu_conv_plus_skip_without_pre_activation() -> None:
    """Supplement Table 3's generator input block: no activation before the first conv."""
    torch.manual_seed(0)
    for cin, cout in ((3, 3), (3, 5)):
        block = ResidualBlock(cin, cout)
        x = torch.randn(2, cin, 4, 4) - 1.0  # mostly negative: a pre-activation would show
        expected = block.skip(x) + block.conv2(F.leaky_relu(block.conv1(x), 0.2))
        assert torch.allclose(block(x), expected, atol=1e-6)
        pre_activated = block.skip(x) + block.conv2(
            F.leaky_relu(block.conv1(F.leaky_relu(x, 0.2)), 0.2)
        )
        assert not torch.allclose(block(x), pre_activated, atol=1e-3)
        assert isinstance(block.skip, nn.Identity) == (cin == cout)
