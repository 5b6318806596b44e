"""piad.training.trainer: Algorithm 1 (the E+G step), the configured batch order, exact resume,
NaN guard, logs, sample grids."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from piad_tiny import tiny_features, toy_images
from piad_tiny import training_config as tiny_config

from piad.errors import PIADError, TrainingDivergedError
from piad.losses import adversarial_loss
from piad.training import LOG_COLUMNS, Trainer


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------ Algorithm 1
def literal_iteration(trainer: Trainer) -> None:
    """Alg. 1 for one iteration written out by the letter (separate passes for every loss)."""
    t = trainer.iteration + 1
    for _ in range(trainer.config.n_dis):
        trainer._critic_step()
    n, b = trainer.networks, trainer.config.batch_size
    pol_g, pol_e = trainer.policies["G"], trainer.policies["E"]
    x, z = trainer.data.next(), trainer._prior(b)
    for p in trainer.d_params:
        p.requires_grad_(False)
    ez = n.E(x)
    adv_g = adversarial_loss(n.DX(n.G(z)))
    adv_e = adversarial_loss(n.DZ(ez))
    rec = trainer.distance(x, n.G(ez)).mean()
    if pol_g.due(t):  # lines 9-13
        for loss, net, policy in ((adv_g, n.G, pol_g), (adv_e, n.E, pol_e)):
            trainer.opt_eg.zero_grad()
            loss.backward(retain_graph=True)
            policy.record("adv", net)
        trainer.opt_eg.zero_grad()
        rec.backward(retain_graph=True)
        pol_g.record("rec", n.G)
        pol_e.record("rec", n.E)
        pol_g.update()
        pol_e.update()
    trainer.opt_eg.zero_grad()  # line 15
    rec.backward(retain_graph=True)
    for p in n.G.parameters():
        p.grad *= pol_g.gamma
    for p in n.E.parameters():
        p.grad *= pol_e.gamma
    (adv_g + adv_e).backward()  # line 16
    trainer.opt_eg.step()  # line 17
    for p in trainer.d_params:
        p.requires_grad_(True)
    trainer.iteration = t


@pytest.mark.parametrize(
    ("weights", "iterations", "path"),
    [
        ("fixed", 1, "one pass, gamma_G=100, gamma_E=10"),
        ("gradnorm", 2, "update iteration: record, select, combine"),
        ("gradnorm", 3, "one pass with the gammas selected at iteration 2"),
        ("fixed-zero", 2, "gamma_G = 0: two passes"),
    ],
)
def test_trainer_step_equals_literal_algorithm_1(weights: str, iterations: int, path: str) -> None:
    cfg = tiny_config(weights=weights.split("-")[0], n_weight=2, reconstruction="rel_perc_l1")
    if weights == "fixed-zero":
        cfg = cfg.replace(gamma_g=0.0)
    fast = Trainer(cfg, toy_images(), features=tiny_features(), progress=False)
    slow = Trainer(cfg, toy_images(), features=tiny_features(), progress=False)
    fast.run(iterations)
    for _ in range(iterations):
        literal_iteration(slow)
    assert fast.gammas["G"] == pytest.approx(slow.gammas["G"], rel=1e-5)
    assert fast.gammas["E"] == pytest.approx(slow.gammas["E"], rel=1e-5)
    assert fast.gammas["E"] != 1.0
    for (name, p), q in zip(fast.networks.named_parameters(), slow.networks.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-7), (path, name)
    # and the check can fail: the same step with gamma_E forced to 1 differs
    if weights == "fixed":
        other_cfg = cfg.replace(gamma_e=1.0)
        other = Trainer(other_cfg, toy_images(), features=tiny_features(), progress=False)
        other.run(iterations)
        pairs = zip(other.networks.E.parameters(), slow.networks.E.parameters())
        assert any(not torch.allclose(p, q, rtol=1e-5, atol=1e-7) for p, q in pairs)


def test_critic_learns_and_gamma_updates_on_schedule(tmp_path: Path) -> None:
    cfg = tiny_config(n_weight=3, log_every=1, checkpoint_every=100)
    trainer = Trainer(cfg, toy_images(), workdir=tmp_path, progress=False)
    trainer.run(4)
    rows = read_log(tmp_path / "log.csv")
    assert list(rows[0]) == list(LOG_COLUMNS)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]
    gammas = [(float(r["gamma_g"]), float(r["gamma_e"])) for r in rows]
    assert gammas[0] == gammas[1] == (1.0, 1.0)  # gamma = 1 before the first update
    assert gammas[2] != (1.0, 1.0) and gammas[3] == gammas[2]  # updated at t = 3 only
    assert (tmp_path / "checkpoint.pt").exists()  # written at the end of the run


def test_fixed_weights_stay_fixed(tmp_path: Path) -> None:
    cfg = tiny_config(weights="fixed", log_every=1)
    Trainer(cfg, toy_images(), workdir=tmp_path, progress=False).run(4)
    rows = read_log(tmp_path / "log.csv")
    assert {(float(r["gamma_g"]), float(r["gamma_e"])) for r in rows} == {(100.0, 10.0)}


def _state_equal(a: Trainer, b: Trainer) -> None:
    for (name, p), q in zip(a.networks.state_dict().items(), b.networks.state_dict().values()):
        assert torch.equal(p, q), name
    for opt in ("opt_d", "opt_eg"):
        sa, sb = getattr(a, opt).state_dict()["state"], getattr(b, opt).state_dict()["state"]
        for k in sa:
            for key in sa[k]:
                assert torch.equal(sa[k][key], sb[k][key]), (opt, k, key)
    assert a.gammas == b.gammas


def test_resume_after_kill_is_bit_identical(tmp_path: Path, monkeypatch) -> None:
    cfg = tiny_config(reconstruction="rel_perc_l1", checkpoint_every=4, n_weight=3, log_every=2)
    images = toy_images()
    straight = Trainer(
        cfg, images, features=tiny_features(), workdir=tmp_path / "a", progress=False
    )
    straight.run(12)

    # run b: killed at iteration 7 (after the checkpoint at 4 and logs at 6)
    original = Trainer.step

    def dying_step(self: Trainer) -> None:
        if self.iteration == 6:
            raise KeyboardInterrupt("killed")
        original(self)

    monkeypatch.setattr(Trainer, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, images, features=tiny_features(), workdir=tmp_path / "b", progress=False).run(
            12
        )
    monkeypatch.setattr(Trainer, "step", original)
    resumed = Trainer(cfg, images, features=tiny_features(), workdir=tmp_path / "b", progress=False)
    assert resumed.iteration == 4  # the last checkpoint
    resumed.run(12)

    _state_equal(straight, resumed)
    # the killed run's log rows after the checkpoint were dropped, then rewritten identically
    log_a, log_b = read_log(tmp_path / "a/log.csv"), read_log(tmp_path / "b/log.csv")
    assert [r["iteration"] for r in log_b] == ["2", "4", "6", "8", "10", "12"]
    for ra, rb in zip(log_a, log_b):
        assert {k: ra[k] for k in LOG_COLUMNS[:-1]} == {k: rb[k] for k in LOG_COLUMNS[:-1]}


def test_same_seed_same_weights_other_seed_differs() -> None:
    runs = [Trainer(tiny_config(seed=s), toy_images(), progress=False).run(3) for s in (1, 1, 2)]
    params = [torch.cat([p.flatten() for p in r.parameters()]) for r in runs]
    assert torch.equal(params[0], params[1])
    assert not torch.equal(params[0], params[2])


def test_nan_stops_training_names_iteration_and_keeps_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    cfg = tiny_config(checkpoint_every=2, log_every=2, reconstruction="mse")
    trainer = Trainer(cfg, toy_images(), workdir=tmp_path, progress=False)
    clean = trainer.distance

    def poisoned(x, y, fx=None):
        d = clean(x, y, fx)
        return d * float("nan") if trainer.iteration == 4 else d  # iteration 5 is being computed

    trainer.distance = poisoned
    with pytest.raises(TrainingDivergedError, match=r"loss rec became NaN or inf at iteration 5"):
        trainer.run(10)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in state["networks"].values())


def test_sample_grids_are_written(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    cfg = tiny_config(sample_every=2)
    Trainer(cfg, toy_images(), workdir=tmp_path, progress=False).run(4)
    files = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert files == ["iter_0000002.png", "iter_0000004.png"]
    grid = mpimg.imread(tmp_path / "samples" / files[0])
    # 3 rows (samples, real, reconstructions) x 8 columns of 8 px tiles with 2 px padding
    assert grid.shape[:2] == (3 * 10 + 2, 8 * 10 + 2)


def test_bad_images_are_refused() -> None:
    with pytest.raises(PIADError, match="expects 1x8x8"):
        Trainer(tiny_config(), torch.zeros(4, 3, 8, 8), progress=False)
    with pytest.raises(PIADError, match="tensor"):
        Trainer(tiny_config(), torch.zeros(4, 8, 8).numpy(), progress=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["code", "permutations"])
def test_trainer_draws_batches_in_the_configured_order(order: str) -> None:
    trainer = Trainer(tiny_config(data_order=order), toy_images(), progress=False)
    assert trainer.data.data_order == order
    expected = {"code": 10_008, "permutations": 24}[order]  # 24 images repeated to >= 10,000
    assert trainer.data.epoch_length == expected
