"""Deep SVDD's objectives, centre, radius and schedule on hand-computed inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from baselines.deep_svdd import training as T


def test_one_class_loss_by_hand():
    z = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 0.0]])
    c = torch.tensor([1.0, 0.0])
    # squared distances: 0 + 4 = 4, 4 + 1 = 5, 1 + 0 = 1 -> mean 10 / 3
    assert float(T.one_class_loss(z, c)) == pytest.approx(10 / 3)


def test_soft_boundary_loss_by_hand():
    z = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 0.0]])
    c = torch.tensor([1.0, 0.0])
    # R = 2: R^2 = 4; slacks max(0, d - 4) = 0, 1, 0 -> 4 + (1/0.5) * (1/3)
    assert float(T.soft_boundary_loss(z, c, 2.0, 0.5)) == pytest.approx(4 + 2 / 3)


def test_radius_is_the_quantile_of_the_distances():
    dist = torch.tensor([1.0, 4.0, 9.0, 16.0, 25.0])  # sqrt: 1..5
    assert T.radius_from_distances(dist, 0.25) == pytest.approx(4.0)  # 75% quantile of 1..5
    assert T.radius_from_distances(dist, 1.0) == pytest.approx(1.0)


def test_center_is_the_mean_output_with_the_eps_fix():
    net = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.01, 0.0], [0.0, -0.02]]))
    x = torch.tensor([[2.0, 4.0], [4.0, 0.0]])
    # outputs: (2, 4, 0.02, -0.08), (4, 0, 0.04, 0) -> mean (3, 2, 0.03, -0.04)
    c = T.init_center(net, x, batch_size=1)
    torch.testing.assert_close(c, torch.tensor([3.0, 2.0, 0.1, -0.1]))
    assert net.training  # the mode is restored


def test_learning_rate_drops_tenfold_at_each_milestone():
    assert T.learning_rate(0, 1e-4, (50,)) == 1e-4
    assert T.learning_rate(49, 1e-4, (50,)) == 1e-4
    assert T.learning_rate(50, 1e-4, (50,)) == pytest.approx(1e-5)
    assert T.learning_rate(300, 1e-4, (250, 300)) == pytest.approx(1e-6)


def test_batches_cover_every_image_once_and_drop_a_last_single_one():
    gen = torch.Generator().manual_seed(0)
    got = list(T.batches(401, 200, gen))
    assert [len(b) for b in got] == [200, 200]  # the 401st image alone is dropped
    assert len(set(torch.cat(got).tolist())) == 400
    again = list(T.batches(401, 200, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(got, again, strict=True))


def test_soft_boundary_radius_moves_only_after_the_warm_up():
    torch.manual_seed(0)
    net = nn.Linear(3, 2, bias=False)
    x, c = torch.randn(40, 3), torch.tensor([0.1, -0.1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    _, r = T.train_svdd_epoch(net, x, c, opt, 0, 10, gen, "soft-boundary", 0.1, 0.0)
    assert r == 0.0
    _, r = T.train_svdd_epoch(net, x, c, opt, T.WARM_UP_EPOCHS, 10, gen, "soft-boundary", 0.1, r)
    assert r > 0.0
    # after the epoch R is the 90% quantile of the last batch's distances
    assert np.isfinite(r)
