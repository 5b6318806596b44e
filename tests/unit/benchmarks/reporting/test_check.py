"""benchmarks.reporting.check: ``--check`` compares every number that has a reported
counterpart, cells with --tol-cell and averages with --tol-avg; unverified references never
count as out of tolerance; nothing to compare is a failure."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmarks.reporting.aggregate import aggregate
from benchmarks.reporting.check import check
from piad.errors import PIADError


def test_check_fails_out_of_tolerance_and_passes_within(tmp_path, make_table2_results, REPORTED):
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


def test_check_with_nothing_to_compare_fails(REPORTED):
    row = {"status": "ok", "auc": 0.9, "dataset": "toy", "protocol": "one_vs_all"}
    row.update(row="a", method_label="kde", seed=0)
    result = check(aggregate(pd.DataFrame([row]), REPORTED))
    assert not result.ok and "nothing to compare" in result.render()


def _agg_rows(*rows) -> pd.DataFrame:
    """Aggregated rows by hand: (dataset, row, kind, name, reported method, mean, reported)."""
    columns = ["dataset", "row", "kind", "name", "reported_method", "mean", "reported"]
    agg = pd.DataFrame(list(rows), columns=columns)
    agg["diff"] = agg["mean"] - agg["reported"]
    return agg


def test_cells_and_averages_use_their_own_tolerance():
    agg = _agg_rows(
        ("mnist", "0", "class", "KDE", "kde", 0.90, 0.95),  # |d| = 0.05: exactly on the line
        ("mnist", "1", "class", "KDE", "kde", 0.90, 0.951),  # 0.051 > 0.05
        ("mnist", "avg", "avg", "KDE", "kde", 0.90, 0.92),  # 0.02: exactly on the line
        ("mnist", "avg", "avg", "OC-SVM", "ocsvm", 0.90, 0.879),  # 0.021 > 0.02
        ("mnist", "2", "class", "LSA", "lsa", math.nan, 0.9),  # no number of ours
        ("toy", "a", "class", "KDE", "kde", 0.5, math.nan),  # no reported number
    )
    result = check(agg)
    assert result.table["status"].tolist() == ["ok", "OUT", "ok", "OUT"]
    assert result.table["tol"].tolist() == [0.05, 0.05, 0.02, 0.02]
    assert result.n_compared == 4 and result.n_out == 2 and not result.ok
    text = result.render()
    assert "| mnist     | 1     | KDE      | 0.900  | 0.951   | -0.051 | 0.050 | OUT" in text
    assert text.endswith(
        "check: FAILED (2 out of tolerance); 4 numbers compared, tolerance 0.05 per cell "
        "and 0.02 per average"
    )
    loose = check(agg, tol_cell=0.06, tol_avg=0.03)
    assert loose.ok and loose.n_out == 0 and "check: passed; 4 numbers" in loose.render()


def test_unverified_references_are_shown_not_counted():
    agg = _agg_rows(
        ("mnist5k", "0", "class", "OC-SVM", "deep_svdd_table1:ocsvm", 0.5, 0.98),
        ("mnist", "0", "class", "KDE", "kde", 0.5, 0.98),
    )
    # keys are on the reported dataset: mnist5k is compared with the paper's MNIST
    result = check(agg, unverified={("mnist", "0", "deep_svdd_table1:ocsvm")})
    assert result.table["status"].tolist() == ["unverified", "OUT"]
    assert result.n_out == 1 and not result.ok
    only_unverified = check(agg.iloc[:1], unverified={("mnist", "0", "deep_svdd_table1:ocsvm")})
    assert only_unverified.ok and only_unverified.n_compared == 1


@pytest.mark.parametrize("option", ["tol_cell", "tol_avg"])
@pytest.mark.parametrize("value", [-0.01, math.nan])
def test_a_tolerance_must_be_a_non_negative_number(option, value):
    agg = _agg_rows(("mnist", "0", "class", "KDE", "kde", 0.9, 0.9))
    flag = "--" + option.replace("_", "-")
    with pytest.raises(PIADError, match=f"{flag} must be a non-negative AUC difference"):
        check(agg, **{option: value})
