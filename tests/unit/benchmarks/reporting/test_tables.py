"""benchmarks.reporting.tables: the paper-style table blocks (Table 2 per class, Table 3 left /
centre / right, LSUN), checked against golden files and cell by cell.

Regenerate the golden files after a deliberate layout change with
``PIAD_UPDATE_GOLDEN=1 pytest tests/unit/benchmarks/reporting/test_tables.py`` and review the diff.
"""

from __future__ import annotations

import os
import warnings

import pandas as pd
import pytest
from paths import GOLDEN

from benchmarks.reporting.aggregate import aggregate
from benchmarks.reporting.render import csv_frame, make_report, render_latex, render_markdown
from benchmarks.reporting.tables import build_tables, table3_right


def test_a_partial_average_is_labelled_and_not_compared(
    tmp_path, make_table2_results, REPORTED, _cell
):
    agg = aggregate(make_table2_results(tmp_path), REPORTED)
    avg = _cell(agg, "cifar10", "avg", "piad-code")
    assert not avg["complete"] and avg["mean"] == pytest.approx(0.7)
    assert pd.isna(avg["reported"])  # the paper's avg is over 10 classes: not comparable
    cifar = next(b for b in build_tables(agg, REPORTED) if b.key == "classes-cifar10")
    assert cifar.rows[-1][0] == "avg (3/10 classes)"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PIAD_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_table2_layout_matches_the_golden_files(tmp_path, make_table2_results, REPORTED):
    results = make_table2_results(tmp_path)
    agg, blocks, budget, failures, title = make_report(results, REPORTED)
    _golden("table2.md", render_markdown(blocks, budget, failures, title))
    _golden("table2.tex", render_latex(blocks, budget, failures))
    _golden("table2.csv", csv_frame(agg, budget).to_csv(index=False))


def test_table3_layout_matches_the_golden_file(tmp_path, make_table3_results, REPORTED, _cell):
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


def _kde_results() -> pd.DataFrame:
    """KDE on MNIST: class 3 with two seeds (AUC 0.9, 0.8; FPR95 0.1, 0.3), class 5 one seed."""
    rows = []
    for row, seed, auc, fpr in (("3", 0, 0.9, 0.1), ("3", 1, 0.8, 0.3), ("5", 0, 0.7, 0.5)):
        rows.append(
            {"status": "ok", "auc": auc, "fpr95": fpr, "dataset": "mnist"}
            | {"protocol": "one_vs_all", "row": row, "method_label": "kde", "seed": seed}
        )
    return pd.DataFrame(rows)


KDE_REPORTED = pd.DataFrame(
    [("mnist", "3", "kde", 0.85), ("mnist", "3", "lsa", 0.97), ("mnist", "5", "lsa", 0.95)],
    columns=["dataset", "normal", "method", "auc"],
)


def test_per_class_cells_by_hand():
    (block,) = build_tables(aggregate(_kde_results(), KDE_REPORTED), KDE_REPORTED)
    assert block.key == "classes-mnist"
    # ours, the paper's number of the same method and the difference; LSA only reported
    assert block.header == ["class", "KDE", "KDE paper", "Δ", "LSA (reported)"]
    assert block.rows == [
        ["3", "0.850 ± 0.071", "0.850", "+0.000", "0.970"],
        ["5", "0.700 (n=1)", "—", "—", "0.950"],  # one seed of two: n shown, no std
        ["avg (2/10 classes)", "0.775 (n=1)", "—", "—", "—"],  # partial: never compared
    ]
    assert block.notes == [
        "avg over the classes run here only: not comparable with the paper's avg."
    ]


def test_another_metric_renames_the_tables_and_drops_the_paper_columns():
    agg = aggregate(_kde_results(), KDE_REPORTED, metric="fpr95")
    (block,) = build_tables(agg, KDE_REPORTED, metric="fpr95")
    assert "FPR at 95% TPR per normal class" in block.title and "ROC AUC" not in block.title
    assert block.header == ["class", "KDE"]
    assert [r[1] for r in block.rows] == ["0.200 ± 0.141", "0.500 (n=1)", "0.350 (n=1)"]
    assert block.notes[-1] == "FPR at 95% TPR: no reported values (the paper reports ROC AUC only)."


def test_blocks_follow_the_paper_order_and_alias_datasets_are_noted():
    results = _kde_results()
    cifar = results.assign(dataset="cifar10", row=["bird", "bird", "cat"])
    mnist5k = results.assign(dataset="mnist5k")
    agg = aggregate(pd.concat([cifar, mnist5k], ignore_index=True), KDE_REPORTED)
    blocks = build_tables(agg, KDE_REPORTED)
    assert [b.key for b in blocks] == ["classes-mnist5k", "classes-cifar10"]
    # mnist5k is compared with the paper's MNIST numbers, and says so
    assert blocks[0].header == ["class", "KDE", "KDE paper", "Δ", "LSA (reported)"]
    assert blocks[0].rows[0][2] == "0.850"
    assert any("the paper's MNIST numbers (another test set)" in n for n in blocks[0].notes)
    assert blocks[1].header == ["class", "KDE"]  # no CIFAR-10 number in this reported table
    assert build_tables(aggregate(results.assign(status="failed"), KDE_REPORTED)) == []


def test_table3_right_of_an_aggregate_with_no_rows_is_none_and_silent():
    # pandas 3: an empty str column maps to str, and str & bool warns (and will raise)
    empty = pd.DataFrame(
        {c: pd.Series([], dtype="str") for c in ("kind", "reported_method", "method")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert table3_right(empty) is None
