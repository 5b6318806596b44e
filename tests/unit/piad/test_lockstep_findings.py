"""What the lockstep with the authors' implementation found (issue 17), each as a test.

They fail on the code before the fix and pass after it:

1. Alg. 2's per-layer gradient statistic is computed in float32 even for float64 gradients (the
   authors' numpy std keeps float64): in a float64 lockstep the gammas parted at 6e-8 at the
   first policy update while every other quantity agreed to 1e-15.
2. The trainer ignores ``config.data_order``: its BatchSource always drew permutations.
3. A checkpoint written before ``data_order`` existed must resume as it was trained (with the
   permutations order), so ``check_resumable`` reads saved configs with ``from_saved``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from piad_tiny import tiny_config, toy_images
from torch import nn

from piad.errors import PIADError
from piad.training import Trainer
from piad.training.checkpoint import CHECKPOINT_NAME
from piad.weighting import GradientNormalizingWeights


def test_gradient_statistic_keeps_float64_gradients_in_float64() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 4, 1)).double()
    for p in net.parameters():  # gradients spread over many orders of magnitude
        p.grad = torch.randn_like(p) * 10.0 ** torch.randint(-6, 3, p.shape, dtype=torch.float64)
    for statistic in ("std", "l2"):
        policy = GradientNormalizingWeights(statistic=statistic)
        policy.record("adv", net)
        got = policy._values["adv"][0]
        grads = [net[0].weight.grad.numpy(), net[1].weight.grad.numpy()]
        want = [g.std() if statistic == "std" else np.linalg.norm(g.ravel()) for g in grads]
        np.testing.assert_allclose(got, want, rtol=1e-13)  # float32 would be ~1e-7 off


def test_float32_gradients_are_still_measured_in_float32() -> None:
    net = nn.Conv2d(2, 2, 3)
    net.weight.grad = torch.full_like(net.weight, 0.1)
    net.weight.grad[0] = 0.3
    policy = GradientNormalizingWeights()
    policy.record("rec", net)
    assert policy._values["rec"][0][0] == pytest.approx(0.1, rel=1e-6)


@pytest.mark.parametrize("order", ["code", "permutations"])
def test_trainer_draws_batches_in_the_configured_order(order: str) -> None:
    trainer = Trainer(tiny_config(data_order=order), toy_images(), progress=False)
    assert trainer.data.data_order == order
    expected = {"code": 10_008, "permutations": 24}[order]  # 24 images repeated to >= 10,000
    assert trainer.data.epoch_length == expected


def _make_old_checkpoint(workdir: Path) -> None:
    """A run with the permutations order, its checkpoint rewritten as before issue 17."""
    cfg = tiny_config(data_order="permutations", checkpoint_every=2)
    Trainer(cfg, toy_images(), workdir=workdir, progress=False).run(2)
    path = workdir / CHECKPOINT_NAME
    state = torch.load(path, weights_only=False)
    del state["config"]["data_order"], state["data"]["data_order"]
    torch.save(state, path)


def test_checkpoint_written_before_data_order_resumes_with_permutations(tmp_path: Path) -> None:
    _make_old_checkpoint(tmp_path / "old")
    straight = Trainer(tiny_config(data_order="permutations"), toy_images(), progress=False)
    straight.run(4)
    resumed = Trainer(
        tiny_config(data_order="permutations"),
        toy_images(),
        workdir=tmp_path / "old",
        progress=False,
    )
    assert resumed.iteration == 2
    resumed.run(4)
    for a, b in zip(straight.networks.parameters(), resumed.networks.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(PIADError, match="data_order: 'permutations' -> 'code'"):
        Trainer(tiny_config(), toy_images(), workdir=tmp_path / "old", progress=False)
