"""piad.training.tracking: evaluation every N iterations (eval.csv) and TensorBoard events;
they watch training and never change it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from piad_tiny import tiny_features, toy_images
from piad_tiny import training_config as tiny_config

from piad.errors import PIADError
from piad.metrics import METRICS, detection_metrics
from piad.model import PIAD
from piad.training import Trainer
from piad.training.tracking import (
    EVAL_COLUMNS,
    EVAL_NAME,
    TENSORBOARD_HINT,
    Evaluator,
    read_eval_csv,
    require_tensorboard,
)


def _train() -> np.ndarray:
    return toy_images(24, seed=0).numpy()[:, 0]  # (N, 8, 8) uint8


def _eval_data() -> tuple[np.ndarray, np.ndarray]:
    images = toy_images(20, seed=7).numpy()[:, 0]
    return images, np.array([0] * 12 + [1] * 8)


def _config(**changes):  # type: ignore[no-untyped-def]
    # perceptual reconstruction: the VGG stand-in and its feature cache are in play
    base = {"reconstruction": "rel_perc_l1", "iterations": 7, "n_weight": 3, "sample_every": 3}
    return tiny_config(**{**base, **changes})


def _fit(config, workdir=None, **kwargs) -> PIAD:  # type: ignore[no-untyped-def]
    model = PIAD(config, features=tiny_features())
    return model.fit(_train(), workdir=workdir, progress=False, feature_cache="on", **kwargs)


def _same_weights(a: PIAD, b: PIAD) -> None:
    sa, sb = a.networks.state_dict(), b.networks.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_evaluation_leaves_training_bit_identical(tmp_path: Path) -> None:
    torch.manual_seed(123)
    plain = _fit(_config(), tmp_path / "plain")
    rng_plain = torch.get_rng_state()
    torch.manual_seed(123)
    watched = _fit(_config(), tmp_path / "watched", eval_every=2, eval_data=_eval_data())
    rng_watched = torch.get_rng_state()
    _same_weights(plain, watched)
    assert torch.equal(rng_plain, rng_watched)  # evaluation drew no random number
    # every 2 iterations and at the end; the same rows in memory and in eval.csv
    assert [int(r["iteration"]) for r in watched.eval_history] == [2, 4, 6, 7]
    saved = read_eval_csv(tmp_path / "watched" / EVAL_NAME)
    assert [r["iteration"] for r in saved] == [2, 4, 6, 7]
    header = (tmp_path / "watched" / EVAL_NAME).read_text().splitlines()[0]
    assert header.split(",") == list(EVAL_COLUMNS)
    for row in saved:
        assert set(METRICS) <= set(row) and row["n_images"] == 20 and row["eval_s"] >= 0
    # the last row is the final model's score of those images, computed as score() does
    images, labels = _eval_data()
    final = detection_metrics(labels, watched.score(images))
    assert saved[-1]["roc_auc"] == pytest.approx(final["roc_auc"], abs=1e-12)
    assert [r["wall_s"] for r in saved] == sorted(r["wall_s"] for r in saved)
    assert (tmp_path / "plain" / "log.csv").read_text().splitlines()[0] == (
        tmp_path / "watched" / "log.csv"
    ).read_text().splitlines()[0]


def test_an_evaluation_keeps_modes_cache_and_generators(tmp_path: Path) -> None:
    config = _config()
    trainer = Trainer(config, toy_images(24), features=tiny_features(), feature_cache="on")
    for _ in range(3):
        trainer.step()
    trainer.networks.E.eval()  # a mixed state must survive as it is
    modes = [m.training for m in trainer.networks.modules()]
    cache = trainer._fx_cache
    assert cache is not None
    before = cache[torch.arange(24)].clone()
    noise, data = trainer.noise.get_state(), trainer.data.state_dict()
    grads = [None if p.grad is None else p.grad.clone() for p in trainer.networks.parameters()]
    model = PIAD(config, features=tiny_features())
    images, labels = _eval_data()
    evaluator = Evaluator(2, lambda nets: model._score_networks(nets, images), labels)
    row = evaluator.evaluate(trainer)
    assert row["iteration"] == 3
    assert [m.training for m in trainer.networks.modules()] == modes
    assert torch.equal(cache[torch.arange(24)], before)
    assert torch.equal(trainer.noise.get_state(), noise)
    assert trainer.data.state_dict().keys() == data.keys()
    for key, value in data.items():
        got = trainer.data.state_dict()[key]
        assert torch.equal(got, value) if isinstance(value, torch.Tensor) else got == value
    for p, g in zip(trainer.networks.parameters(), grads):  # no backward pass ran
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)


def test_a_resumed_run_re_evaluates_what_it_trains_again(tmp_path: Path) -> None:
    straight = _fit(_config(iterations=8), tmp_path / "straight", eval_every=2,
                    eval_data=_eval_data())  # fmt: skip
    work = tmp_path / "resumed"
    _fit(_config(iterations=4), work, eval_every=2, eval_data=_eval_data())
    # a run killed after evaluating iteration 6 but before its checkpoint (every 4)
    with open(work / EVAL_NAME, "a") as f:
        f.write("6,0.5,0.5,0.5,1.0,0.5,20,0.1,9.0\n")
    resumed = _fit(_config(iterations=8), work, eval_every=2, eval_data=_eval_data())
    _same_weights(straight, resumed)
    rows = read_eval_csv(work / EVAL_NAME)
    assert [r["iteration"] for r in rows] == [2, 4, 6, 8]
    want = read_eval_csv(tmp_path / "straight" / EVAL_NAME)
    for got, ref in zip(rows, want):
        for name in METRICS:
            assert got[name] == ref[name], (got["iteration"], name)
    assert [int(r["iteration"]) for r in resumed.eval_history] == [2, 4, 6, 8]


def test_fused_members_are_each_evaluated_and_unchanged(tmp_path: Path) -> None:
    configs = [_config(seed=0), _config(seed=1)]
    images = [_train(), toy_images(24, seed=3).numpy()[:, 0]]

    def group(eval_every):  # type: ignore[no-untyped-def]
        models = [PIAD(c, features=tiny_features()) for c in configs]
        tag = "watched" if eval_every else "plain"
        dirs = [tmp_path / tag / str(k) for k in range(2)]
        errors = PIAD.fit_fused(
            models, images, workdirs=dirs, progress=False, feature_cache="on",
            eval_every=eval_every, eval_data=[_eval_data(), _eval_data()] if eval_every else None,
        )  # fmt: skip
        assert errors == [None, None]
        return models, dirs

    plain, _ = group(None)
    watched, dirs = group(3)
    for a, b in zip(plain, watched):
        _same_weights(a, b)
    for model, folder in zip(watched, dirs):
        assert [r["iteration"] for r in read_eval_csv(folder / EVAL_NAME)] == [3, 6, 7]
        assert [r["iteration"] for r in model.eval_history] == [3, 6, 7]
    assert watched[0].eval_history[-1]["roc_auc"] != watched[1].eval_history[-1]["roc_auc"]


def test_bad_evaluation_data_fails_before_training() -> None:
    images, _ = _eval_data()
    model = PIAD(_config(), features=tiny_features())
    with pytest.raises(PIADError, match="both present"):
        model.fit(_train(), eval_every=2, eval_data=(images, np.zeros(20)), progress=False)
    with pytest.raises(PIADError, match="eval_data"):
        model.fit(_train(), eval_every=2, progress=False)
    assert model.iterations_run == 0


def test_the_history_travels_with_the_saved_model(tmp_path: Path) -> None:
    model = _fit(_config(iterations=4), eval_every=2, eval_data=_eval_data())
    model.save(tmp_path / "m.pt")
    loaded = PIAD.load(tmp_path / "m.pt")
    assert [r["iteration"] for r in loaded.eval_history] == [2, 4]
    assert loaded.eval_history[-1]["roc_auc"] == model.eval_history[-1]["roc_auc"]


def test_tensorboard_events_read_back(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plain = _fit(_config(iterations=6))
    tb = tmp_path / "tb"
    watched = _fit(_config(iterations=6), eval_every=2, eval_data=_eval_data(), tensorboard=tb)
    _same_weights(plain, watched)
    events = EventAccumulator(str(tb), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    scalars = set(tags["scalars"])
    from piad.training.checkpoint import LOSS_NAMES

    assert {f"loss/{n}" for n in LOSS_NAMES} <= scalars
    assert {"gamma/G", "gamma/E", "time/seconds_per_iteration"} <= scalars
    assert {f"eval/{m}" for m in METRICS} <= scalars
    assert {"weights/G/gamma", "weights/G/grad_adv", "weights/G/grad_rec",
            "weights/G/ratio", "weights/E/gamma"} <= scalars  # fmt: skip

    def steps(tag: str) -> list[int]:
        return [e.step for e in events.Scalars(tag)]

    assert steps("loss/rec") == [2, 4, 6]  # log_every 2
    assert steps("eval/roc_auc") == [2, 4, 6]
    assert steps("weights/G/ratio") == [3, 6]  # n_weight 3
    assert [e.value for e in events.Scalars("eval/roc_auc")] == pytest.approx(
        [r["roc_auc"] for r in watched.eval_history]
    )
    assert "samples" in tags["images"]
    assert [e.step for e in events.Images("samples")] == [3, 6]  # sample_every 3


def test_without_tensorboard_one_line_naming_the_extra(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    with pytest.raises(PIADError, match="piad-suite\\[tensorboard\\]"):
        require_tensorboard()
    with pytest.raises(PIADError, match="tensorboard"):
        _fit(_config(), tensorboard="unused")
    from benchmarks.cli import main

    assert main(["--suite", "quick", "--tensorboard", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and TENSORBOARD_HINT in err[0]
