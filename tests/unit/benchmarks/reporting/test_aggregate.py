"""benchmarks.reporting.aggregate: seed statistics, dataset averages (never over a failed or
missing class), the reported value and difference beside ours, the REDUCED BUDGET note."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import collect
from benchmarks.reporting.aggregate import aggregate, budget_note, metric_column, reported_lookup
from benchmarks.reporting.check import check
from benchmarks.reporting.render import make_report, render_markdown
from benchmarks.reporting.reported import load_reported as reported_table
from benchmarks.reporting.tables import build_tables
from piad.errors import PIADError


def test_seed_statistics_and_dataset_average_by_hand(
    tmp_path, make_table2_results, REPORTED, _cell
):
    agg = aggregate(make_table2_results(tmp_path), REPORTED)
    three = _cell(agg, "mnist", "3", "piad-code")  # seeds: 0.915, 0.916, 0.917
    assert three["mean"] == pytest.approx(0.916) and three["std"] == pytest.approx(0.001)
    assert three["n"] == 3 and three["reported"] == 0.981
    assert three["diff"] == pytest.approx(0.916 - 0.981)
    avg = _cell(agg, "mnist", "avg", "piad-code")
    # mean of class means: 0.9 + 0.005 * 4.5 + 0.001; per-seed averages 0.9225, 0.9235, 0.9245
    assert avg["mean"] == pytest.approx(0.9235) and avg["std"] == pytest.approx(0.001)
    assert avg["n"] == 3 and bool(avg["complete"]) and avg["reported"] == 0.93


def test_a_failed_job_is_listed_not_averaged(tmp_path, make_table2_results, REPORTED, _cell):
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


def test_a_method_missing_a_class_gets_no_average(
    tmp_path, _save, make_table2_results, REPORTED, _cell
):
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


def test_real_reported_values_are_found(tmp_path, _save, _cell):
    job = Job("table2", "cifar10", "one_vs_all", "automobile", "piad", "code", 0)
    _save(tmp_path, job, 0.8)
    job = Job("quick", "mnist5k", "one_vs_all", "3", "ocsvm", "holdout", 0)
    _save(tmp_path, job, 0.9)
    agg = aggregate(collect(tmp_path), reported_table())
    assert _cell(agg, "cifar10", "automobile", "piad-code")["reported"] == 0.876  # "car"
    # mnist5k is compared with the paper's MNIST numbers (noted in the table)
    assert _cell(agg, "mnist5k", "3", "ocsvm-holdout")["reported"] == 0.950


def test_recipe_runs_are_compared_with_the_table_of_the_recipe_they_follow(tmp_path, _save, _cell):
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


def _ok_rows(**columns) -> pd.DataFrame:
    """Two seeds of KDE on MNIST class 3 (AUC 0.9 and 0.8) with extra result columns."""
    rows = []
    for seed, auc in enumerate((0.9, 0.8)):
        row = {"status": "ok", "auc": auc, "dataset": "mnist", "protocol": "one_vs_all"}
        row.update(row="3", method_label="kde", seed=seed)
        row.update({k: v[seed] for k, v in columns.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def test_another_metric_is_aggregated_without_reported_values():
    reported = pd.DataFrame(
        [("mnist", "3", "kde", 0.95)], columns=["dataset", "normal", "method", "auc"]
    )
    auc = aggregate(_ok_rows(fpr95=(0.2, 0.4)), reported).iloc[0]
    assert auc["mean"] == pytest.approx(0.85) and auc["std"] == pytest.approx(math.sqrt(0.005))
    assert auc["reported"] == 0.95 and auc["diff"] == pytest.approx(-0.1)
    fpr = aggregate(_ok_rows(fpr95=(0.2, 0.4)), reported, metric="fpr95").iloc[0]
    assert fpr["mean"] == pytest.approx(0.3) and fpr["n"] == 2
    assert pd.isna(fpr["reported"]) and pd.isna(fpr["diff"])  # the paper reports ROC AUC only


def test_results_older_than_a_metric_count_as_missing_not_zero():
    older = aggregate(_ok_rows(), None, metric="aupr_anomaly").iloc[0]  # no column at all
    assert older["n"] == 0 and math.isnan(older["mean"]) and math.isnan(older["std"])
    half = aggregate(_ok_rows(aupr_anomaly=(0.7, math.nan)), None, "aupr_anomaly").iloc[0]
    assert half["n"] == 1 and half["mean"] == pytest.approx(0.7) and math.isnan(half["std"])


def test_metric_column_and_reported_lookup():
    assert metric_column("roc_auc") == "auc" and metric_column("f1_max") == "f1_max"
    with pytest.raises(PIADError, match="unknown metric 'acc'"):
        metric_column("acc")
    table = pd.DataFrame(
        [("mnist", 3, "kde", "0.5"), ("lsun", "bedroom", "piad", 0.781)],
        columns=["dataset", "normal", "method", "auc"],
    )
    assert reported_lookup(table) == {
        ("mnist", "3", "kde"): 0.5,
        ("lsun", "bedroom", "piad"): 0.781,
    }
    assert reported_lookup(None) == {} and reported_lookup(table.iloc[:0]) == {}


def test_budget_note_lists_each_reduced_budget_iterations_first():
    rows = [
        # (status, iters_run, iters, iters_paper, budget_unit)
        ("ok", 5, None, 150, "epochs"),  # Deep SVDD, epochs
        ("ok", None, 100, 1000, None),  # no iters_run: the job's --iters counts
        ("ok", 100, 100, 1000, "iterations"),  # the same budget again: listed once
        ("failed", 1, 1, 1000, None),  # a failed job trained nothing
        ("ok", 1000, None, 1000, None),  # the paper's budget: not reduced
    ]
    results = pd.DataFrame(
        rows, columns=["status", "iters_run", "iters", "iters_paper", "budget_unit"]
    )
    assert budget_note(results) == (
        "REDUCED BUDGET: 100 iterations (paper: 1000), 5 epochs (paper: 150), not a reproduction"
    )
    assert budget_note(results.iloc[[3, 4]]) is None
