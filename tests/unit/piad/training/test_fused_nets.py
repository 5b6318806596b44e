"""piad.training.fused_nets: K members' networks as one grouped computation: each member's
outputs equal its own networks', the minibatch stddev stays per member, and the layouts."""

from __future__ import annotations

import pytest
import torch
from piad_tiny import training_config as tiny_config

from piad.errors import PIADError
from piad.networks import build_networks
from piad.training.fused_nets import FusedNetworks, stack_parameters, to_fused, to_members


def assert_close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    """|a - b| <= rel * max|b| everywhere (float rounding of another summation order)."""
    assert a.shape == b.shape
    assert float((a - b).abs().max()) <= rel * float(b.abs().max()), float((a - b).abs().max())


@pytest.mark.parametrize("changes", [{}, {"in_channels": 3, "latent_size": 4}])
def test_fused_networks_compute_each_members_networks(changes: dict) -> None:
    cfg = tiny_config(**changes)
    nets = [build_networks(cfg, seed=s) for s in range(3)]
    fused = FusedNetworks(cfg, stack_parameters(nets))
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(5, cfg.in_channels, 8, 8, generator=g) for _ in nets]
    zs = [torch.randn(5, *cfg.latent_shape, generator=g) for _ in nets]
    x, z = to_fused(xs, torch.channels_last), to_fused(zs, torch.contiguous_format)
    with torch.no_grad():
        e, y = to_members(fused.E(x), 3), to_members(fused.G(z), 3)
        dx, dz = fused.DX(x), fused.DZ(z)
        for k, n in enumerate(nets):
            rows = slice(5 * k, 5 * k + 5)
            assert_close(e[rows], n.E(xs[k]))
            assert_close(y[rows], n.G(zs[k]))
            assert_close(dx[k], n.DX(xs[k]))
            assert_close(dz[k], n.DZ(zs[k]))


def _mixing_stddev(self: FusedNetworks, x: torch.Tensor) -> torch.Tensor:
    """A WRONG minibatch stddev that pools the K members (to show the test below catches it)."""
    b, kc, h, w = x.shape
    value = torch.sqrt(x.var(dim=0, correction=0) + 1e-8).mean()
    groups = x.reshape(b, self.k, kc // self.k, h, w)
    extra = value.expand(b, self.k, 1, h, w)
    return torch.cat([groups, extra], dim=2).reshape(b, -1, h, w)


def _stddev_isolated() -> None:
    """Member 1's critic values do not depend on member 0's batch, and equal its solo D_X."""
    cfg = tiny_config()
    nets = [build_networks(cfg, seed=s) for s in range(2)]
    fused = FusedNetworks(cfg, stack_parameters(nets))
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(6, 1, 8, 8, generator=g)
    varied, constant = torch.randn(6, 1, 8, 8, generator=g) * 3, torch.full((6, 1, 8, 8), 0.5)
    with torch.no_grad():
        a = fused.DX(to_fused([varied, x1], torch.channels_last))
        b = fused.DX(to_fused([constant, x1], torch.channels_last))
        assert not torch.allclose(a[0], b[0])  # member 0's own values do move
        assert_close(a[1], b[1], rel=1e-6)
        assert_close(a[1], nets[1].DX(x1))


def test_minibatch_stddev_is_per_member(monkeypatch: pytest.MonkeyPatch) -> None:
    _stddev_isolated()
    monkeypatch.setattr(FusedNetworks, "minibatch_stddev", _mixing_stddev)
    with pytest.raises(AssertionError):  # a stddev pooled over members fails the same check
        _stddev_isolated()


def test_fused_layout_puts_member_k_in_channel_group_k_and_back() -> None:
    xs = [torch.full((2, 3, 4, 4), float(k)) + torch.arange(3.0).view(1, 3, 1, 1) / 10
          for k in range(4)]  # fmt: skip
    fused = to_fused(xs, torch.channels_last)
    assert fused.shape == (2, 12, 4, 4)
    assert fused.is_contiguous(memory_format=torch.channels_last)
    for k in range(4):
        assert torch.equal(fused[:, 3 * k : 3 * k + 3], xs[k])  # group k = member k
    members = to_members(fused, 4)  # member-major rows: k*B .. (k+1)*B - 1
    assert torch.equal(members, torch.cat(xs))


def test_stacked_parameters_are_copied_rows_of_each_member() -> None:
    cfg = tiny_config()
    nets = [build_networks(cfg, seed=s) for s in range(2)]
    params = stack_parameters(nets, torch.channels_last)
    assert list(params) == [n for n, _ in nets[0].named_parameters()]
    for name, stacked in params.items():
        assert stacked.shape == (2, *nets[0].get_parameter(name).shape)
        assert stacked.is_leaf and stacked.requires_grad
        for k, n in enumerate(nets):
            assert torch.equal(stacked[k], n.get_parameter(name))
        if stacked.dim() == 5:  # the grouped conv's (K*out, in, kh, kw) weight is channels_last
            assert stacked.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)
    before = nets[0].E.stem.weight.detach().clone()
    with torch.no_grad():
        params["E.stem.weight"].add_(1.0)
    assert torch.equal(nets[0].E.stem.weight, before)  # a copy, not the member's tensor
    with pytest.raises(PIADError, match="no networks to fuse"):
        stack_parameters([])
