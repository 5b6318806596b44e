"""piad.weighting: the gradient-normalizing weight policy (Alg. 2-3; its gradient statistic in
the gradients' own dtype, issue 17) and fixed weights."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from piad_tiny import tiny_config
from torch import nn

from piad.config import PIADConfig
from piad.errors import PIADError
from piad.weighting import (
    FixedWeights,
    GradientNormalizingWeights,
    ewm,
    make_weight_policies,
)


def test_ewm_matches_pandas_adjust_false() -> None:
    values = np.random.default_rng(0).lognormal(size=(50, 3))
    expected = pd.DataFrame(values).ewm(alpha=0.05, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ewm(values, 0.05), expected, rtol=1e-12)


def test_smoothing_hand_computed() -> None:
    # adv = [1, 3], rec = [1, 1]. alpha 0.5: smoothed adv = [1, 0.5*1 + 0.5*3 = 2] -> ratios [1, 2]
    p = GradientNormalizingWeights(alpha=0.5)
    for a in (1.0, 3.0):
        p.record_values("adv", [a])
        p.record_values("rec", [1.0])
    np.testing.assert_allclose(p.ratios()[:, 0], [1.0, 2.0])
    assert p.update() == pytest.approx(1.5)
    # alpha 0.05: smoothed adv = [1, 0.95 + 0.15 = 1.1] -> median of [1, 1.1] = 1.05
    q = GradientNormalizingWeights(alpha=0.05)
    for a in (1.0, 3.0):
        q.record_values("adv", [a])
        q.record_values("rec", [1.0])
    assert q.update() == pytest.approx(1.05)


def test_known_ratio_per_layer_median_vs_mean() -> None:
    # three layers whose adv/rec ratios are 1, 2 and 9 at every step, rec noisy
    rng = np.random.default_rng(1)
    ratios = np.array([1.0, 2.0, 9.0])
    policies = {
        pooling: GradientNormalizingWeights(pooling=pooling) for pooling in ("median", "mean")
    }
    for _ in range(50):
        rec = rng.lognormal(size=3)
        for p in policies.values():
            p.record_values("rec", rec)
            p.record_values("adv", ratios * rec)
    # smoothing is linear, so each layer's smoothed ratio stays exactly its constant ratio
    assert policies["median"].update() == pytest.approx(2.0)  # code: median of pooled ratios
    assert policies["mean"].update() == pytest.approx(4.0)  # paper: mean of per-layer means


def test_history_keeps_last_200_and_smoothing_restarts_there() -> None:
    p = GradientNormalizingWeights(history=200)
    for t in range(250):
        p.record_values("adv", [100.0 if t < 50 else 2.0])
        p.record_values("rec", [1.0])
    assert p.ratios().shape == (200, 1)
    # the 50 large values fell out of the history, so every smoothed ratio is exactly 2
    assert p.update() == 2.0


def test_gamma_is_one_before_first_update_and_schedule() -> None:
    p = GradientNormalizingWeights(every=100)
    assert p.gamma == 1.0
    assert p.update() == 1.0  # no history yet: unchanged
    assert [t for t in range(0, 401) if p.due(t)] == [100, 200, 300, 400]


def test_record_uses_weights_only_and_population_std() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    net(torch.randn(5, 3)).pow(2).sum().backward()
    std_policy, l2_policy = GradientNormalizingWeights("std"), GradientNormalizingWeights("l2")
    std_policy.record("adv", net)
    l2_policy.record("adv", net)
    assert std_policy.layers == ["0.weight", "2.weight"]  # biases excluded
    grads = [net[0].weight.grad.numpy(), net[2].weight.grad.numpy()]
    np.testing.assert_allclose(std_policy._values["adv"][0], [g.std() for g in grads], rtol=1e-5)
    np.testing.assert_allclose(
        l2_policy._values["adv"][0], [np.linalg.norm(g) for g in grads], rtol=1e-5
    )


def test_record_without_gradients_or_other_layers_raises() -> None:
    p = GradientNormalizingWeights()
    with pytest.raises(PIADError, match="backpropagate"):
        p.record("adv", nn.Linear(2, 2))
    p.record_values("adv", [1.0, 2.0], layers=["a", "b"])
    with pytest.raises(PIADError, match="same network"):
        p.record_values("rec", [1.0], layers=["a"])
    with pytest.raises(PIADError, match="unknown loss"):
        p.record_values("total", [1.0, 2.0], layers=["a", "b"])


def test_mismatched_history_lengths_raise() -> None:
    p = GradientNormalizingWeights()
    p.record_values("adv", [1.0])
    p.record_values("adv", [1.0])
    p.record_values("rec", [1.0])
    with pytest.raises(PIADError, match="differ in length"):
        p.update()


@pytest.mark.parametrize(("statistic", "pooling"), [("std", "median"), ("l2", "mean")])
def test_toy_network_one_loss_scaled_by_50_gives_gamma_one_fiftieth(statistic, pooling) -> None:
    # two losses of the same kind on independent batches, the "rec" one multiplied by 50:
    # equalising gradient magnitudes (eq. 12) needs gamma = 1/50.
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
    target = torch.randn(8, 1, generator=gen)
    policy = GradientNormalizingWeights(statistic=statistic, pooling=pooling)

    def loss() -> torch.Tensor:
        x = torch.randn(64, 8, generator=gen)
        return ((net(x) - x @ target) ** 2).mean()

    for _ in range(300):
        net.zero_grad()
        loss().backward()
        policy.record("adv", net)
        net.zero_grad()
        (50 * loss()).backward()
        policy.record("rec", net)
        policy.update()
    assert policy.gamma == pytest.approx(1 / 50, rel=0.05)


def test_state_dict_round_trip_through_weights_only_torch_load() -> None:
    rng = np.random.default_rng(2)
    p = GradientNormalizingWeights()
    for _ in range(30):
        p.record_values("adv", rng.lognormal(size=4))
        p.record_values("rec", rng.lognormal(size=4))
    p.update()
    buf = io.BytesIO()
    torch.save(p.state_dict(), buf)
    buf.seek(0)
    q = GradientNormalizingWeights()
    q.load_state_dict(torch.load(buf, weights_only=True))
    assert q.gamma == p.gamma
    np.testing.assert_array_equal(q.ratios(), p.ratios())
    for _ in range(3):  # they keep evolving identically
        a, r = rng.lognormal(size=4), rng.lognormal(size=4)
        for pol in (p, q):
            pol.record_values("adv", a)
            pol.record_values("rec", r)
    assert q.update() == p.update()


def test_fixed_weights_and_factory() -> None:
    fixed = make_weight_policies(tiny_config(weights="fixed"))
    assert (fixed["G"].gamma, fixed["E"].gamma) == (100.0, 10.0)  # ablation "baseline"
    assert not any(fixed["G"].due(t) for t in range(1000))
    assert fixed["E"].update() == 10.0
    g = FixedWeights(3.0)
    g.load_state_dict(FixedWeights(7.0).state_dict())
    assert g.gamma == 7.0
    with pytest.raises(PIADError, match="gradnorm"):
        g.load_state_dict(GradientNormalizingWeights().state_dict())

    paper = make_weight_policies(PIADConfig.preset("mnist", variant="paper"))
    assert isinstance(paper["G"], GradientNormalizingWeights)
    assert (paper["G"].statistic, paper["G"].pooling) == ("l2", "mean")
    assert paper["G"] is not paper["E"]  # separate state for G and E
    code = make_weight_policies(PIADConfig.preset("mnist"))
    assert (code["E"].statistic, code["E"].pooling, code["E"].every) == ("std", "median", 100)


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
