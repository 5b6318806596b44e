"""Seed statistics of a suite's results, dataset averages, and the reported value beside ours.

:func:`aggregate` turns the results table of :func:`benchmarks.experiments.results.collect`
into one row per (dataset, class or attribute, method): mean, std (ddof 1) and number of
seeds, plus the dataset average (mean of the class means; its std is over the seeds'
per-seed averages) and the reported value beside ours with the difference. Failed jobs never
enter a mean; an average is given only when the method has every class of the table.
``metric`` aggregates another metric of :mod:`piad.metrics` instead of ROC AUC (no reported
values then: the paper reports ROC AUC only); results written before a metric existed count
as missing ("—"), never as zero.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from benchmarks.reporting.names import (
    class_order,
    display_name,
    full_classes,
    method_key,
    reported_dataset,
    reported_method,
    row_kind,
)

AGG_COLUMNS = [
    "dataset",
    "protocol",
    "row",
    "kind",
    "method",
    "name",
    "mean",
    "std",
    "n",
    "complete",
    "reported_method",
    "reported",
    "diff",
]


def reported_lookup(reported: pd.DataFrame | None) -> dict[tuple[str, str, str], float]:
    if reported is None or not len(reported):
        return {}
    return {
        (str(r.dataset), str(r.normal), str(r.method)): float(r.auc)
        for r in reported.itertuples(index=False)
    }


def metric_column(metric: str) -> str:
    """The :func:`~benchmarks.experiments.results.collect` column of a metric name."""
    from piad.metrics import check_metric

    return "auc" if check_metric(metric) == "roc_auc" else metric


def aggregate(
    results: pd.DataFrame, reported: pd.DataFrame | None = None, metric: str = "roc_auc"
) -> pd.DataFrame:
    """Seed statistics per (dataset, row, method), dataset averages, reported values.

    ``results`` is :func:`benchmarks.experiments.results.collect`'s table; ``reported`` the paper's
    (:func:`reported_table`; ``None``: no comparison). Columns: :data:`AGG_COLUMNS`.
    ``metric``: one of :data:`piad.metrics.METRICS` (reported values only for ``roc_auc``).
    """
    column = metric_column(metric)
    ok = results[(results["status"] == "ok") & results["auc"].notna()].copy()
    if column not in ok:
        ok[column] = math.nan  # results from before the metric existed
    ok["auc"] = pd.to_numeric(ok[column], errors="coerce")
    rep = reported_lookup(reported) if column == "auc" else {}
    records: list[dict[str, Any]] = []
    for (dataset, protocol), part in ok.groupby(["dataset", "protocol"], sort=True):
        kind = row_kind(protocol)
        rows = class_order(dataset, protocol, part["row"])
        rep_ds = reported_dataset(dataset)
        labels = sorted(part["method_label"].unique(), key=method_key)
        for label in labels:
            mine = part[part["method_label"] == label]
            rm = reported_method(label)
            for row in rows:
                values = mine.loc[mine["row"] == row, "auc"].astype(float)
                if not len(values):
                    continue
                aucs = values.dropna()  # results older than the metric: "—", not a number
                paper = rep.get((rep_ds, row, rm))
                mean = float(aucs.mean()) if len(aucs) else math.nan
                records.append(
                    {
                        "dataset": dataset,
                        "protocol": protocol,
                        "row": row,
                        "kind": kind,
                        "method": label,
                        "name": display_name(label),
                        "mean": mean,
                        "std": float(aucs.std(ddof=1)) if len(aucs) > 1 else math.nan,
                        "n": len(aucs),
                        "complete": True,
                        "reported_method": rm,
                        "reported": paper,
                        "diff": mean - paper if paper is not None and len(aucs) else None,
                    }
                )
            if kind == "class" and len(rows) > 1:
                records.append(_average(dataset, protocol, rows, label, mine, rep.get))
    agg = pd.DataFrame.from_records(records, columns=AGG_COLUMNS)
    for col in ("mean", "std", "reported", "diff"):
        agg[col] = pd.to_numeric(agg[col], errors="coerce")
    return agg


def _average(
    dataset: str, protocol: str, rows: list[str], label: str, mine: pd.DataFrame, rep_get: Any
) -> dict[str, Any]:
    """Dataset average of one method: mean of class means, std over per-seed averages."""
    full = full_classes(dataset, protocol)
    complete = full is not None and set(rows) == set(full)
    has_all = set(mine["row"]) >= set(rows)
    rm = reported_method(label)
    mean = std = math.nan
    n = 0
    if has_all:  # a method missing a class of the table gets no average (never a partial one)
        mean = float(mine.groupby("row")["auc"].mean().loc[rows].mean(skipna=False))
        by_seed = mine.pivot_table(index="seed", columns="row", values="auc", aggfunc="mean")
        per_seed = by_seed.reindex(columns=rows).dropna().mean(axis=1)
        n = len(per_seed)
        std = float(per_seed.std(ddof=1)) if n > 1 else math.nan
    paper = rep_get((reported_dataset(dataset), "avg", rm)) if complete else None
    return {
        "dataset": dataset,
        "protocol": protocol,
        "row": "avg",
        "kind": "avg",
        "method": label,
        "name": display_name(label),
        "mean": mean,
        "std": std,
        "n": n,
        "complete": complete,
        "reported_method": rm,
        "reported": paper,
        "diff": mean - paper if paper is not None and has_all else None,
    }


def budget_note(results: pd.DataFrame) -> str | None:
    """``"REDUCED BUDGET: ..."`` when any result trained less than its paper's budget (PIAD in
    iterations, Deep SVDD in epochs)."""
    done = results[results["status"] == "ok"]
    budgets: set[tuple[int, int, str]] = set()
    for r in done.itertuples(index=False):
        ran = r.iters_run if _is_int(r.iters_run) else r.iters
        if _is_int(ran) and _is_int(r.iters_paper) and int(ran) < int(r.iters_paper):
            unit = getattr(r, "budget_unit", None)
            unit = unit if isinstance(unit, str) and unit else "iterations"
            budgets.add((int(ran), int(r.iters_paper), unit))
    if not budgets:
        return None
    what = ", ".join(
        f"{ran} {unit} (paper: {paper})" for ran, paper, unit in sorted(budgets, key=_budget_key)
    )
    return f"REDUCED BUDGET: {what}, not a reproduction"


def _budget_key(budget: tuple[int, int, str]) -> tuple[bool, int, int]:
    ran, paper, unit = budget
    return (unit != "iterations", ran, paper)  # iterations (PIAD) first


def _is_int(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


__all__ = ["AGG_COLUMNS", "aggregate", "budget_note", "metric_column", "reported_lookup"]
