"""Aggregation over seeds, paper-style tables (golden files), --check, plots.

The results are made by hand (``result.json`` files written with known AUCs), and so is the
"reported" table, so every expected number here can be checked with a pencil.
Regenerate the golden files after a deliberate layout change with
``PIAD_UPDATE_GOLDEN=1 pytest tests/test_reports.py`` and review the diff.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
from paths import GOLDEN

from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result, collect, failed_result
from benchmarks.reporting.aggregate import aggregate, budget_note
from benchmarks.reporting.check import check
from benchmarks.reporting.names import display_name, reported_method
from benchmarks.reporting.plots import plot_bars, plot_roc
from benchmarks.reporting.render import (
    csv_frame,
    latex_escape,
    make_report,
    render_latex,
    render_markdown,
    write_report,
)
from benchmarks.reporting.reported import load_reported as reported_table
from benchmarks.reporting.tables import build_tables
from piad.errors import PIADError

CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _save(out: Path, job: Job, auc: float | None, **fields) -> None:
    if auc is None:
        failed_result(job, "RuntimeError: CUDA out of memory").save(job.folder(out))
    else:
        Result(job=job, status="ok", auc=auc, **fields).save(job.folder(out))


def make_table2_results(out: Path) -> pd.DataFrame:
    """MNIST: PIAD 3 seeds (reduced budget), KDE 2 seeds with one failure; CIFAR-10: 3 classes."""
    for c in range(10):
        for seed in range(3):
            job = Job("table2", "mnist", "one_vs_all", str(c), "piad", "code", seed, iters=1000)
            _save(out, job, 0.9 + 0.005 * c + 0.001 * seed, iters_run=1000, iters_paper=50_000)
        for seed in range(2):
            job = Job("table2", "mnist", "one_vs_all", str(c), "kde", "", seed)
            failed = c == 4 and seed == 1
            _save(out, job, None if failed else 0.8 + 0.01 * c - 0.002 * seed)
    for name in CIFAR[:3]:
        job = Job("table2", "cifar10", "one_vs_all", name, "piad", "code", 0, iters=1000)
        _save(out, job, 0.7, iters_run=1000, iters_paper=100_000)
    return collect(out)


REPORTED = pd.DataFrame(
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


def make_table3_results(out: Path) -> pd.DataFrame:
    """fMNIST average, CelebA attributes, the LSUN line and two ablation rows."""
    fmnist = ("tshirt_top", "trouser", "pullover", "dress", "coat")
    fmnist += ("sandal", "shirt", "sneaker", "bag", "ankle_boot")
    for i, name in enumerate(fmnist):
        _save(out, Job("table3", "fmnist", "gpnd_80_20", name, "piad", "code", 0), 0.9 + 0.01 * i)
    for seed in range(2):
        job = Job("table3", "celeba", "celeba_attributes", "normal", "piad", "code", seed)
        _save(out, job, 0.7, aucs={"Bangs": 0.66, "Bald": 0.5 + 0.02 * seed})
        job = Job("lsun", "lsun", "lsun_bedroom", "bedroom", "piad", "code", seed)
        _save(out, job, 0.75 + 0.01 * seed)
    for variant, base in (("ablation-mse-fixed", 0.6), ("ablation-rel_perc_l1", 0.8)):
        for i, name in enumerate(CIFAR):
            job = Job("ablation", "cifar10", "one_vs_all", name, "piad", variant, 0)
            _save(out, job, base + 0.001 * i)
    return collect(out)


def _cell(agg: pd.DataFrame, dataset: str, row: str, method: str) -> pd.Series:
    hit = agg[(agg["dataset"] == dataset) & (agg["row"] == row) & (agg["method"] == method)]
    assert len(hit) == 1, (dataset, row, method)
    return hit.iloc[0]


def test_seed_statistics_and_dataset_average_by_hand(tmp_path):
    agg = aggregate(make_table2_results(tmp_path), REPORTED)
    three = _cell(agg, "mnist", "3", "piad-code")  # seeds: 0.915, 0.916, 0.917
    assert three["mean"] == pytest.approx(0.916) and three["std"] == pytest.approx(0.001)
    assert three["n"] == 3 and three["reported"] == 0.981
    assert three["diff"] == pytest.approx(0.916 - 0.981)
    avg = _cell(agg, "mnist", "avg", "piad-code")
    # mean of class means: 0.9 + 0.005 * 4.5 + 0.001; per-seed averages 0.9225, 0.9235, 0.9245
    assert avg["mean"] == pytest.approx(0.9235) and avg["std"] == pytest.approx(0.001)
    assert avg["n"] == 3 and bool(avg["complete"]) and avg["reported"] == 0.93


def test_a_failed_job_is_listed_not_averaged(tmp_path):
    results = make_table2_results(tmp_path)
    agg = aggregate(results, REPORTED)
    four = _cell(agg, "mnist", "4", "kde")
    assert four["n"] == 1 and four["mean"] == pytest.approx(0.84) and math.isnan(four["std"])
    avg = _cell(agg, "mnist", "avg", "kde")
    # class means 0.8 + 0.01 c - 0.001 (two seeds), class 4 only seed 0: 0.84
    assert avg["mean"] == pytest.approx(0.8 + 0.045 - 0.0009)
    assert avg["n"] == 1 and math.isnan(avg["std"])  # only seed 0 has every class
    _, blocks, _, failures, _ = make_report(results, REPORTED)
    assert failures == [["mnist/kde/4/seed1", "RuntimeError: CUDA out of memory"]]
    text = render_markdown(blocks, failures=failures)
    assert "## Failed jobs (1)" in text and "nan" not in text.lower()


def test_a_method_missing_a_class_gets_no_average(tmp_path):
    make_table2_results(tmp_path)
    for seed in range(3):  # PIAD's class 9 failed in every seed
        job = Job("table2", "mnist", "one_vs_all", "9", "piad", "code", seed, iters=1000)
        _save(tmp_path, job, None)
    agg = aggregate(collect(tmp_path), REPORTED)
    avg = _cell(agg, "mnist", "avg", "piad-code")
    assert math.isnan(avg["mean"]) and avg["n"] == 0 and math.isnan(avg["diff"])
    block = build_tables(agg, REPORTED)[0]
    assert block.rows[-1][0] == "avg" and block.rows[-1][block.header.index("PIAD")] == "—"
    compared = check(agg).table
    assert not ((compared["row"] == "avg") & (compared["name"] == "PIAD")).any()


def test_a_partial_average_is_labelled_and_not_compared(tmp_path):
    agg = aggregate(make_table2_results(tmp_path), REPORTED)
    avg = _cell(agg, "cifar10", "avg", "piad-code")
    assert not avg["complete"] and avg["mean"] == pytest.approx(0.7)
    assert pd.isna(avg["reported"])  # the paper's avg is over 10 classes: not comparable
    cifar = next(b for b in build_tables(agg, REPORTED) if b.key == "classes-cifar10")
    assert cifar.rows[-1][0] == "avg (3/10 classes)"


def test_reduced_budget_is_flagged_in_every_table(tmp_path):
    results = make_table2_results(tmp_path)
    note = budget_note(results)
    assert note == (
        "REDUCED BUDGET: 1000 iterations (paper: 50000), 1000 iterations (paper: 100000), "
        "not a reproduction"
    )
    agg, blocks, budget, failures, _ = make_report(results, REPORTED)
    md = render_markdown(blocks, budget, failures)
    assert md.count("REDUCED BUDGET") == 1 + len(blocks)
    assert render_latex(blocks, budget).count("REDUCED BUDGET") == 1 + len(blocks)
    assert set(csv_frame(agg, budget)["budget"]) == {note}
    full = results[results["method"] != "piad"]
    assert budget_note(full) is None


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PIAD_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_table2_layout_matches_the_golden_files(tmp_path):
    results = make_table2_results(tmp_path)
    agg, blocks, budget, failures, title = make_report(results, REPORTED)
    _golden("table2.md", render_markdown(blocks, budget, failures, title))
    _golden("table2.tex", render_latex(blocks, budget, failures))
    _golden("table2.csv", csv_frame(agg, budget).to_csv(index=False))


def test_table3_layout_matches_the_golden_file(tmp_path):
    results = make_table3_results(tmp_path)
    agg, blocks, budget, failures, title = make_report(results, REPORTED)
    assert [b.key for b in blocks] == [
        "classes-cifar10",
        "classes-fmnist",
        "table3-left",
        "table3-center",
        "table3-right",
        "lsun",
    ]
    _golden("table3.md", render_markdown(blocks, budget, failures, title))
    bald = _cell(agg, "celeba", "Bald", "piad-code")
    assert bald["mean"] == pytest.approx(0.51) and bald["reported"] == 0.506
    left = _cell(agg, "fmnist", "avg", "piad-code")
    assert left["mean"] == pytest.approx(0.945) and left["diff"] == pytest.approx(-0.004)
    right = _cell(agg, "cifar10", "avg", "piad-ablation-mse-fixed")
    assert right["mean"] == pytest.approx(0.6045) and right["reported"] == 0.609


def test_check_fails_out_of_tolerance_and_passes_within(tmp_path):
    agg = aggregate(make_table2_results(tmp_path), REPORTED)
    failing = check(agg)  # defaults: 0.05 per cell, 0.02 per average
    assert not failing.ok
    out = failing.table[failing.table["status"] == "OUT"]
    assert sorted(zip(out["row"], out["name"])) == [
        ("0", "KDE"),  # 0.799 vs 0.885
        ("3", "PIAD"),  # 0.916 vs 0.981
        ("airplane", "PIAD"),  # 0.700 vs 0.837
    ]
    assert failing.n_compared == 5  # PIAD 0, 3, avg; KDE 0; CIFAR airplane
    assert "FAILED (3 out of tolerance)" in failing.render()
    passing = check(agg, tol_cell=0.15, tol_avg=0.01)
    assert passing.ok and "check: passed" in passing.render()
    assert not check(agg, tol_cell=0.15, tol_avg=0.005).ok  # PIAD avg differs by 0.0065
    with pytest.raises(PIADError, match="--tol-cell must be a non-negative"):
        check(agg, tol_cell=-1)


def test_check_with_nothing_to_compare_fails():
    row = {"status": "ok", "auc": 0.9, "dataset": "toy", "protocol": "one_vs_all"}
    row.update(row="a", method_label="kde", seed=0)
    result = check(aggregate(pd.DataFrame([row]), REPORTED))
    assert not result.ok and "nothing to compare" in result.render()


def test_names_and_latex_escaping():
    assert reported_method("piad-code") == "piad"
    assert reported_method("piad-ablation-perc_l1") == "piad-ablation-perc_l1"
    assert reported_method("kde") == "kde"
    assert display_name("piad-paper") == "PIAD [paper variant]"
    assert display_name("piad-ablation-mse-fixed") == "baseline"
    assert display_name("deep_svdd", ours=False) == "Deep SVDD (reported)"
    assert latex_escape("a_b ± c — Δ 50%") == r"a\_b $\pm$ c --- $\Delta$ 50\%"


def test_plots_are_written_as_png(tmp_path):
    import numpy as np

    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    path = plot_roc(labels, scores, tmp_path / "roc.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grouped = plot_roc(
        labels, scores, tmp_path / "g.png", groups={"A": labels >= 0, "B": scores != 0.9}
    )
    assert grouped.stat().st_size > 1000
    agg = aggregate(make_table2_results(tmp_path / "r"), REPORTED)
    bars = plot_bars(agg, tmp_path / "bars.png", "REDUCED BUDGET")
    assert bars is not None and bars.read_bytes()[:4] == b"\x89PNG"


def test_write_report_writes_all_four_files(tmp_path):
    make_table2_results(tmp_path)
    report = write_report(tmp_path, reported=REPORTED)
    assert sorted(report.files) == ["csv", "md", "png", "tex"]
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == report.markdown
    csv = pd.read_csv(tmp_path / "report.csv")
    assert len(csv) == len(report.aggregated)
    with pytest.raises(PIADError, match="no results under"):
        write_report(tmp_path / "empty")


def test_real_reported_values_are_found(tmp_path):
    job = Job("table2", "cifar10", "one_vs_all", "automobile", "piad", "code", 0)
    _save(tmp_path, job, 0.8)
    job = Job("quick", "mnist5k", "one_vs_all", "3", "ocsvm", "holdout", 0)
    _save(tmp_path, job, 0.9)
    agg = aggregate(collect(tmp_path), reported_table())
    assert _cell(agg, "cifar10", "automobile", "piad-code")["reported"] == 0.876  # "car"
    # mnist5k is compared with the paper's MNIST numbers (noted in the table)
    assert _cell(agg, "mnist5k", "3", "ocsvm-holdout")["reported"] == 0.950


def test_recipe_runs_are_compared_with_the_table_of_the_recipe_they_follow(tmp_path):
    """OC-SVM as PIAD quotes it (from LSA, recipe unpublished) beside Deep SVDD's recipe run
    live: each run is compared with its own source; the note names the closest recipe."""
    from benchmarks.reporting.reported import all_reported, unverified_references

    for c in range(10):
        _save(tmp_path, Job("table2", "mnist", "one_vs_all", str(c), "ocsvm", "", 0), 0.80)
        job = Job("table2", "mnist", "one_vs_all", str(c), "ocsvm", "deepsvdd", 0)
        _save(tmp_path, job, 0.95)
    reported = all_reported()
    agg, blocks, *_ = make_report(collect(tmp_path), reported)
    recipe = _cell(agg, "mnist", "0", "ocsvm-deepsvdd")
    assert recipe["reported_method"] == "deep_svdd_table1:ocsvm"
    deep_svdd_ocsvm = reported[reported["method"] == "deep_svdd_table1:ocsvm"]
    expected = float(deep_svdd_ocsvm.loc[deep_svdd_ocsvm["normal"] == "0", "auc"].iloc[0])
    assert recipe["reported"] == pytest.approx(expected)  # Deep SVDD's Table 1, not PIAD's
    plain = _cell(agg, "mnist", "0", "ocsvm")
    assert plain["reported"] == pytest.approx(0.988)  # PIAD's Table 2 (from LSA)
    (block,) = [b for b in blocks if b.key == "classes-mnist"]
    assert "OC-SVM Deep SVDD recipe (hold-out) Deep SVDD" in block.header
    assert not any(h.startswith("Isolation") or "dcae" in h.lower() for h in block.header)
    (note,) = [n for n in block.notes if "closest live run" in n]
    assert note.startswith("OC-SVM quoted by the paper 0.951: the closest live run is OC-SVM Deep")
    result = check(agg, unverified=unverified_references())
    statuses = dict(zip(zip(result.table["row"], result.table["name"]), result.table["status"]))
    assert statuses[("0", "OC-SVM Deep SVDD recipe (hold-out)")] == "unverified"
    assert statuses[("0", "OC-SVM")] == "OUT"  # 0.80 vs 0.988: counted
    assert result.n_out == 11  # the ten classes and the average of the plain run only
