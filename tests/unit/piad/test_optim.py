"""piad.optim.Adam: torch.optim.Adam's update bit for bit, its state_dict layout, no dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from paths import HELPERS
from torch import nn

from piad.errors import PIADError
from piad.optim import Adam


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.LeakyReLU(0.2), nn.Conv2d(6, 4, 3), nn.Flatten(), nn.Linear(64, 1)
    )
    return net.to(memory_format=torch.channels_last)  # as the trainer keeps E, G, D on CPU


def _train(net: nn.Module, opt, steps: int, freeze_last_on_odd: bool = False) -> None:
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        (net(x) ** 2).mean().backward()
        if freeze_last_on_odd and t % 2:
            net[-1].weight.grad = None  # a parameter without a gradient is skipped
        opt.step()


@pytest.mark.parametrize("weight_decay", [0.0, 1e-8, 0.1])
def test_bit_identical_to_torch_adam(weight_decay: float) -> None:
    a, b = _net(), _net()
    settings = {"lr": 5e-4, "betas": (0.5, 0.99), "weight_decay": weight_decay}
    _train(a, torch.optim.Adam(a.parameters(), **settings), 30, freeze_last_on_odd=True)
    _train(b, Adam(b.parameters(), **settings), 30, freeze_last_on_odd=True)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    # and the comparison can fail: another beta2 moves the weights
    c = _net()
    _train(c, Adam(c.parameters(), lr=5e-4, betas=(0.5, 0.9), weight_decay=weight_decay), 30)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_state_dict_moves_both_ways_and_training_continues_identically() -> None:
    a, b = _net(), _net()
    ta = torch.optim.Adam(a.parameters(), lr=1e-3, betas=(0.5, 0.99))
    ours = Adam(b.parameters(), lr=1e-3, betas=(0.5, 0.99))
    _train(a, ta, 5)
    _train(b, ours, 5)
    resumed = Adam(b.parameters(), lr=123.0)  # hyperparameters come from the saved state
    resumed.load_state_dict(ta.state_dict())
    assert resumed.param_groups[0]["lr"] == 1e-3
    assert resumed.param_groups[0]["betas"] == (0.5, 0.99)
    back = torch.optim.Adam(a.parameters())
    back.load_state_dict(ours.state_dict())
    assert back.param_groups[0]["betas"] == (0.5, 0.99)
    _train(a, back, 5)
    _train(b, resumed, 5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_bad_settings_and_mismatched_state_are_refused() -> None:
    with pytest.raises(PIADError, match="no parameters"):
        Adam([])
    with pytest.raises(PIADError, match="invalid Adam settings"):
        Adam(_net().parameters(), betas=(0.5, 1.0))
    small = Adam([torch.zeros(2, requires_grad=True)])
    with pytest.raises(PIADError, match="does not match this model"):
        small.load_state_dict(Adam(_net().parameters()).state_dict())
    amsgrad = torch.optim.Adam([torch.zeros(2, requires_grad=True)], amsgrad=True).state_dict()
    with pytest.raises(PIADError, match="variant"):
        small.load_state_dict(amsgrad)


def test_training_does_not_import_torch_dynamo() -> None:
    """torch.optim imports torch._dynamo (about 150 MB resident); the trainer must not."""
    code = (
        "import sys, torch\n"
        f"sys.path.insert(0, {str(HELPERS)!r})\n"
        "from piad_tiny import tiny_config\n"
        "from piad.training import Trainer\n"
        "images = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)\n"
        "Trainer(tiny_config(in_channels=1), images, progress=False).run(2)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
