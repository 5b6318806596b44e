"""piad.training.fused_step: one fused iteration over K members: the gradient penalty per
member, members' networks as views of the stacked rows, and the group's checks."""

from __future__ import annotations

import pytest
import torch
from piad_tiny import tiny_features, toy_images
from piad_tiny import training_config as tiny_config

from piad.errors import PIADError
from piad.losses import gradient_penalty
from piad.networks import build_networks
from piad.training import Trainer
from piad.training.fused import FusedTrainer
from piad.training.fused_nets import to_fused
from piad.training.fused_step import FusedGroup


def job(k: int, **changes: object):  # type: ignore[no-untyped-def]
    """Member k: its own seed and its own training images (other size, other content)."""
    cfg = tiny_config(seed=100 + k, reconstruction="rel_perc_l1", **changes)
    return cfg, toy_images(20 + 4 * k, seed=k)


def _mixing_penalty(self: FusedGroup, critic, real, fake, alpha):  # type: ignore[no-untyped-def]
    """A WRONG penalty on the norm of all members' gradients together (caught below)."""
    b, kc = real.shape[:2]
    a = alpha.t().repeat_interleave(kc // self.k, dim=1).view(b, kc, *([1] * (real.dim() - 2)))
    mixed = (a * real + (1 - a) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.reshape(b, -1).norm(2, dim=1) - 1) ** 2).mean().expand(self.k)


def _penalty_isolated(critic: str) -> None:
    """Member 1's penalty ignores member 0's batch and equals piad.losses.gradient_penalty."""
    (c0, x0), (c1, x1) = job(0), job(1)
    trainer = FusedTrainer([c0, c1], [x0, x1], features=tiny_features(), progress=False)
    group = FusedGroup(trainer.members, trainer.features)
    solo_critic = getattr(build_networks(c1), critic)  # member 1's initial critic
    shape = (8, 1, 8, 8) if critic == "DX" else (8, 4, 1, 1)
    g = torch.Generator().manual_seed(2)
    real1, fake1 = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    alpha1 = torch.rand((8, 1, 1, 1), generator=torch.Generator().manual_seed(5)).flatten()
    expected = gradient_penalty(solo_critic, real1, fake1, torch.Generator().manual_seed(5))
    penalties = []
    for real0 in (torch.randn(shape, generator=g) * 4, torch.zeros(shape)):  # member 0 varies
        fake0 = torch.randn(shape, generator=g)
        alpha = torch.stack([torch.rand(8, generator=g), alpha1])
        real = to_fused([real0, real1], torch.contiguous_format)
        fake = to_fused([fake0, fake1], torch.contiguous_format)
        penalties.append(group._gradient_penalty(getattr(group.nets, critic), real, fake, alpha))
    assert not torch.allclose(penalties[0][0], penalties[1][0])  # member 0's own penalty moves
    torch.testing.assert_close(penalties[0][1], penalties[1][1], rtol=1e-6, atol=0)
    torch.testing.assert_close(penalties[0][1], expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("critic", ["DX", "DZ"])
def test_gradient_penalty_is_per_member(critic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _penalty_isolated(critic)
    monkeypatch.setattr(FusedGroup, "_gradient_penalty", _mixing_penalty)
    with pytest.raises(AssertionError):  # a penalty over the members' joint gradient fails
        _penalty_isolated(critic)


def test_members_networks_become_views_of_the_stacked_rows() -> None:
    (c0, x0), (c1, x1) = job(0), job(1)
    members = [
        Trainer(c, x, features=tiny_features(), progress=False) for c, x in ((c0, x0), (c1, x1))
    ]
    solo_weights = [m.networks.G.out.weight.detach().clone() for m in members]
    group = FusedGroup(members, members[0].features)
    stacked = group.params["G.out.weight"]
    for k, m in enumerate(members):
        assert torch.equal(m.networks.G.out.weight, solo_weights[k])  # the same values
    with torch.no_grad():
        stacked[1].mul_(0.0)  # an optimiser step on the stack is the member's step
    assert not members[1].networks.G.out.weight.any()
    assert torch.equal(members[0].networks.G.out.weight, solo_weights[0])
    assert group.d_names and all(n.split(".")[0] in ("DX", "DZ") for n in group.d_names)
    assert all(n.split(".")[0] in ("E", "G") for n in group.eg_names)
    assert len(group.d_names) + len(group.eg_names) == len(group.params)


def test_members_at_different_iterations_are_refused() -> None:
    (c0, x0), (c1, x1) = job(0), job(1)
    ahead = Trainer(c0, x0, features=tiny_features(), progress=False)
    ahead.step()
    behind = Trainer(c1, x1, features=tiny_features(), progress=False)
    with pytest.raises(
        PIADError, match=r"a fused group needs members at one iteration, got \{0, 1\}"
    ):
        FusedGroup([ahead, behind], ahead.features)
