"""Fixtures of the benchmarks/reporting/ tests: hand-made results (``result.json`` files with
known AUCs) and a hand-made "reported" table, so every expected number can be checked with a
pencil. Each fixture is the helper itself (conftest files cannot be imported)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result, collect, failed_result

CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def save_result(out: Path, job: Job, auc: float | None, **fields) -> None:
    """A finished job's result.json (``auc=None``: a failed job, CUDA out of memory)."""
    if auc is None:
        failed_result(job, "RuntimeError: CUDA out of memory").save(job.folder(out))
    else:
        Result(job=job, status="ok", auc=auc, **fields).save(job.folder(out))


def table2_results(out: Path) -> pd.DataFrame:
    """MNIST: PIAD 3 seeds (reduced budget), KDE 2 seeds with one failure; CIFAR-10: 3 classes."""
    for c in range(10):
        for seed in range(3):
            job = Job("table2", "mnist", "one_vs_all", str(c), "piad", "code", seed, iters=1000)
            save_result(
                out, job, 0.9 + 0.005 * c + 0.001 * seed, iters_run=1000, iters_paper=50_000
            )
        for seed in range(2):
            job = Job("table2", "mnist", "one_vs_all", str(c), "kde", "", seed)
            failed = c == 4 and seed == 1
            save_result(out, job, None if failed else 0.8 + 0.01 * c - 0.002 * seed)
    for name in CIFAR[:3]:
        job = Job("table2", "cifar10", "one_vs_all", name, "piad", "code", 0, iters=1000)
        save_result(out, job, 0.7, iters_run=1000, iters_paper=100_000)
    return collect(out)


REPORTED_TABLE = pd.DataFrame(
    [
        ("mnist", "0", "piad", 0.930),
        ("mnist", "3", "piad", 0.981),
        ("mnist", "avg", "piad", 0.930),
        ("mnist", "0", "kde", 0.885),
        ("mnist", "0", "lsa", 0.993),
        ("mnist", "avg", "lsa", 0.975),
        ("cifar10", "airplane", "piad", 0.837),
        ("cifar10", "avg", "piad", 0.799),
        ("fmnist", "avg", "piad", 0.949),
        ("fmnist", "avg", "gpnd", 0.933),
        ("celeba", "Bald", "piad", 0.506),
        ("celeba", "Bangs", "piad", 0.650),
        ("cifar10", "avg", "piad-ablation-mse-fixed", 0.609),
        ("cifar10", "avg", "piad-ablation-rel_perc_l1", 0.799),
        ("lsun", "bedroom", "piad", 0.781),
        ("lsun", "bedroom", "adgan", 0.641),
    ],
    columns=["dataset", "normal", "method", "auc"],
)


def table3_results(out: Path) -> pd.DataFrame:
    """fMNIST average, CelebA attributes, the LSUN line and two ablation rows."""
    fmnist = ("tshirt_top", "trouser", "pullover", "dress", "coat")
    fmnist += ("sandal", "shirt", "sneaker", "bag", "ankle_boot")
    for i, name in enumerate(fmnist):
        job = Job("table3", "fmnist", "gpnd_80_20", name, "piad", "code", 0)
        save_result(out, job, 0.9 + 0.01 * i)
    for seed in range(2):
        job = Job("table3", "celeba", "celeba_attributes", "normal", "piad", "code", seed)
        save_result(out, job, 0.7, aucs={"Bangs": 0.66, "Bald": 0.5 + 0.02 * seed})
        job = Job("lsun", "lsun", "lsun_bedroom", "bedroom", "piad", "code", seed)
        save_result(out, job, 0.75 + 0.01 * seed)
    for variant, base in (("ablation-mse-fixed", 0.6), ("ablation-rel_perc_l1", 0.8)):
        for i, name in enumerate(CIFAR):
            job = Job("ablation", "cifar10", "one_vs_all", name, "piad", variant, 0)
            save_result(out, job, base + 0.001 * i)
    return collect(out)


def aggregated_cell(agg: pd.DataFrame, dataset: str, row: str, method: str) -> pd.Series:
    """The one aggregated row of (dataset, row, method)."""
    hit = agg[(agg["dataset"] == dataset) & (agg["row"] == row) & (agg["method"] == method)]
    assert len(hit) == 1, (dataset, row, method)
    return hit.iloc[0]


@pytest.fixture(name="_save")
def save_fixture():
    """:func:`save_result`: ``_save(out, job, auc, **fields)``."""
    return save_result


@pytest.fixture(name="make_table2_results")
def table2_fixture():
    """:func:`table2_results`: ``make_table2_results(out)`` -> collect(out)."""
    return table2_results


@pytest.fixture(name="make_table3_results")
def table3_fixture():
    """:func:`table3_results`: ``make_table3_results(out)`` -> collect(out)."""
    return table3_results


@pytest.fixture(name="REPORTED")
def reported_fixture() -> pd.DataFrame:
    """:data:`REPORTED_TABLE`, a fresh copy per test."""
    return REPORTED_TABLE.copy()


@pytest.fixture(name="_cell")
def cell_fixture():
    """:func:`aggregated_cell`: ``_cell(agg, dataset, row, method)`` -> the one row."""
    return aggregated_cell
