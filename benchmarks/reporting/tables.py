"""Paper-style tables of aggregated results: Table 2 blocks, Table 3 left / centre / right, LSUN.

Which table a protocol's rows go to comes from the protocol's registered layout
(:class:`benchmarks.data.protocols.Protocol`): per-class blocks with a dataset average,
grouped rows (CelebA), single numbers (LSUN), and the summary table of averages its
``summary`` names ("table3-left"). Methods the suite does not run appear from the reported
numbers, marked as reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchmarks.experiments.method_spec import split_label
from benchmarks.reporting.aggregate import reported_lookup
from benchmarks.reporting.names import (
    MISSING,
    class_order,
    dataset_rank,
    dataset_title,
    display_name,
    full_classes,
    group_order,
    is_ablation_row,
    method_key,
    reported_dataset,
    reported_method,
    reported_name,
    summary_of,
)
from benchmarks.reporting.reported import is_reference, reference_name


@dataclass
class TableBlock:
    """One table: title, header, rows of display strings and footnotes."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def _fmt(mean: Any, std: Any = math.nan, n: int = 0, max_n: int = 0) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return MISSING
    text = f"{mean:.3f}"
    if n > 1 and std is not None and not math.isnan(std):
        text += f" ± {std:.3f}"
    if 0 < n < max_n:
        text += f" (n={n})"
    return text


def _fmt_diff(diff: Any) -> str:
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return MISSING
    return f"{diff:+.3f}"


def _cell(agg: pd.DataFrame, row: str, label: str) -> pd.Series | None:
    hit = agg[(agg["row"] == row) & (agg["method"] == label)]
    return hit.iloc[0] if len(hit) else None


def _reported_methods(reported: pd.DataFrame | None, dataset: str) -> pd.DataFrame:
    if reported is None or not len(reported):
        return pd.DataFrame(columns=["dataset", "normal", "method", "auc"])
    return reported[reported["dataset"] == reported_dataset(dataset)]


def _ours_and_competitors(
    part: pd.DataFrame, reported: pd.DataFrame | None, dataset: str
) -> tuple[list[str], list[str], set[str]]:
    ours = sorted(part["method"].unique(), key=method_key)
    rep = _reported_methods(reported, dataset)
    with_paper = {m for m in ours if reported_method(m) in set(rep["method"])}
    covered = {reported_method(m) for m in ours}
    competitors: list[str] = []
    if any(not is_ablation_row(reported_method(m)) for m in ours):
        competitors = [
            m
            for m in sorted(set(rep["method"]) - covered, key=method_key)
            if not is_ablation_row(m) and not is_reference(m)
        ]
    return ours, competitors, with_paper


def _alias_note(dataset: str) -> list[str]:
    alias = reported_dataset(dataset)
    if alias == dataset:
        return []
    return [
        f"{dataset_title(dataset)}: the paper columns are the paper's "
        f"{dataset_title(alias)} numbers (another test set): indicative only."
    ]


def per_class_table(
    agg: pd.DataFrame, dataset: str, protocol: str, reported: pd.DataFrame | None
) -> TableBlock:
    """Table 2 layout: rows = classes + avg, columns = methods (ours, paper, Δ; reported)."""
    part = agg[(agg["dataset"] == dataset) & (agg["protocol"] == protocol)]
    ours, competitors, with_paper = _ours_and_competitors(part, reported, dataset)
    rep = reported_lookup(_reported_methods(reported, dataset))
    rep_ds = reported_dataset(dataset)
    class_rows = class_order(dataset, protocol, part.loc[part["kind"] != "avg", "row"])
    avg_rows = part[part["kind"] == "avg"]
    max_n = int(part["n"].max()) if len(part) else 0
    header = ["class"]
    for label in ours:
        header.append(display_name(label))
        if label in with_paper:
            header += [f"{display_name(label)} {reference_name(reported_method(label))}", "Δ"]
    header += [display_name(m, ours=False) for m in competitors]

    rows: list[list[str]] = []
    for row in [*class_rows, "avg"]:
        if row == "avg" and not len(avg_rows):
            continue
        complete = bool(avg_rows["complete"].all()) if row == "avg" else True
        if row == "avg" and not complete:
            full = full_classes(dataset, protocol)
            name = f"avg ({len(class_rows)}/{len(full) if full else '?'} classes)"
        else:
            name = row
        line = [name]
        for label in ours:
            cell = _cell(part, row, label)
            line.append(
                _fmt(cell["mean"], cell["std"], int(cell["n"]), max_n)
                if cell is not None
                else MISSING
            )
            if label in with_paper:
                paper = cell["reported"] if cell is not None else None
                if cell is None and (row != "avg" or complete):
                    paper = rep.get((rep_ds, row, reported_method(label)))
                line += [_fmt(paper), _fmt_diff(cell["diff"] if cell is not None else None)]
        for method in competitors:
            line.append(
                _fmt(rep.get((rep_ds, row, method)) if (row != "avg" or complete) else None)
            )
        rows.append(line)
    notes = _alias_note(dataset)
    if len(avg_rows) and not avg_rows["complete"].all():
        notes.append("avg over the classes run here only: not comparable with the paper's avg.")
    if len(avg_rows) and avg_rows["mean"].isna().any():
        notes.append(f"{MISSING} avg: the method lacks a class of the table (failed or not run).")
    notes += _closest_recipes(avg_rows, rep, rep_ds)
    title = (
        f"{dataset_title(dataset)} ({protocol}): ROC AUC per normal class, mean ± std over seeds"
    )
    return TableBlock(f"classes-{dataset}", title, header, rows, notes)


def _closest_recipes(
    avg_rows: pd.DataFrame, rep: dict[tuple[str, str, str], float], rep_ds: str
) -> list[str]:
    """For a baseline the paper quotes but whose recipe it does not publish (OC-SVM, KDE: the
    PIAD paper copies them from LSA), the live run closest to the quoted average: which
    recipe, which table it reproduces, and how far it lands from the quoted number."""
    notes = []
    runs = avg_rows[avg_rows["complete"].astype(bool) & avg_rows["mean"].notna()]
    by_base: dict[str, list[tuple[float, str, str]]] = {}
    for r in runs.itertuples(index=False):
        base = split_label(str(r.method))[0]
        by_base.setdefault(base, []).append((float(r.mean), str(r.method), str(r.reported_method)))
    for base, live in by_base.items():
        quoted = rep.get((rep_ds, "avg", reported_name(base)))
        if quoted is None or not any(is_reference(source) for *_, source in live):
            continue  # no live run follows another paper's published recipe
        mean, label, source = min(live, key=lambda m: abs(m[0] - quoted))
        notes.append(
            f"{display_name(base, ours=False).replace(' (reported)', '')} quoted by the paper "
            f"{quoted:.3f}: the closest live run is {display_name(label)} {mean:.3f} "
            f"({mean - quoted:+.3f}), following {reference_name(source)}'s recipe."
        )
    return notes


def table3_left(agg: pd.DataFrame, reported: pd.DataFrame | None) -> TableBlock | None:
    """Table 3 (left): dataset averages on fMNIST (80/20) and COIL-100; rows = methods."""
    in_summary = agg["protocol"].map(lambda p: summary_of(p) == "table3-left").astype(bool)
    avg = agg[(agg["kind"] == "avg") & in_summary]
    if not len(avg):
        return None
    datasets = list(dict.fromkeys(avg["dataset"]))
    ours = sorted(avg["method"].unique(), key=method_key)
    rep = reported_lookup(reported)
    competitors = sorted(
        {
            m
            for d in datasets
            for m in _reported_methods(reported, d)["method"]
            if m not in {reported_method(o) for o in ours}
            and not is_ablation_row(m)
            and not is_reference(m)
        },
        key=method_key,
    )
    max_n = int(avg["n"].max())
    header = ["method"]
    for d in datasets:
        name = dataset_title(d)
        header += [name, f"{name} paper", "Δ"]
    rows = []
    for label in ours:
        line = [display_name(label)]
        for d in datasets:
            cell = avg[(avg["dataset"] == d) & (avg["method"] == label)]
            c = cell.iloc[0] if len(cell) else None
            if c is None:
                line += [MISSING, MISSING, MISSING]
                continue
            line += [_fmt(c["mean"], c["std"], c["n"], max_n), _fmt(c["reported"])]
            line.append(_fmt_diff(c["diff"]))
        rows.append(line)
    for method in competitors:
        line = [display_name(method, ours=False)]
        for d in datasets:
            complete = bool(avg.loc[avg["dataset"] == d, "complete"].all())
            paper = rep.get((reported_dataset(d), "avg", method)) if complete else None
            line += [MISSING, _fmt(paper), MISSING]
        rows.append(line)
    notes = []
    if not avg["complete"].all():
        notes.append("an average over part of the classes is not compared with the paper.")
    title = "Table 3 (left): average ROC AUC, fMNIST (80/20) and COIL-100 (30 objects)"
    return TableBlock("table3-left", title, header, rows, notes)


def table3_center(agg: pd.DataFrame) -> TableBlock | None:
    """Table 3 (centre): CelebA, one row per anomaly attribute, columns = methods."""
    part = agg[agg["kind"] == "group"]
    if not len(part):
        return None
    ours = sorted(part["method"].unique(), key=method_key)
    max_n = int(part["n"].max())
    header = ["attribute"]
    for label in ours:
        header += [display_name(label), f"{display_name(label)} paper", "Δ"]
    rows = []
    # the protocol's order of its groups (CelebA: Bald, Mustache, Bangs, Eyeglasses, Wearing_Hat)
    order = [g for p in dict.fromkeys(part["protocol"]) for g in group_order(p)]
    position = {name: i for i, name in reversed(list(enumerate(order)))}
    for row in sorted(dict.fromkeys(part["row"]), key=lambda r: (position.get(r, len(order)), r)):
        line = [row]
        for label in ours:
            c = _cell(part, row, label)
            if c is None:
                line += [MISSING, MISSING, MISSING]
                continue
            line += [_fmt(c["mean"], c["std"], c["n"], max_n), _fmt(c["reported"])]
            line.append(_fmt_diff(c["diff"]))
        rows.append(line)
    title = "Table 3 (centre): CelebA, ROC AUC per anomaly attribute, mean ± std over seeds"
    return TableBlock("table3-center", title, header, rows)


def _is_ablation(method: object) -> bool:
    return isinstance(method, str) and is_ablation_row(method)


def table3_right(agg: pd.DataFrame) -> TableBlock | None:
    """Table 3 (right): the ablation rows' CIFAR-10 averages."""
    part = agg[(agg["kind"] == "avg") & agg["reported_method"].map(_is_ablation).astype(bool)]
    if not len(part):
        return None
    max_n = int(part["n"].max())
    rows = []
    for label in sorted(part["method"].unique(), key=method_key):
        c = part[part["method"] == label].iloc[0]
        line = [display_name(label), _fmt(c["mean"], c["std"], c["n"], max_n)]
        rows.append([*line, _fmt(c["reported"]), _fmt_diff(c["diff"])])
    datasets = ", ".join(dataset_title(d) for d in dict.fromkeys(part["dataset"]))
    title = f"Table 3 (right): ablation study, average ROC AUC on {datasets}"
    header = ["model", "ROC AUC", "paper", "Δ"]
    notes = []
    if not part["complete"].all():
        notes.append("an average over part of the classes is not compared with the paper.")
    return TableBlock("table3-right", title, header, rows, notes)


def lsun_table(agg: pd.DataFrame, reported: pd.DataFrame | None) -> TableBlock | None:
    """The LSUN line of section 4.1: bedroom normal vs conference room anomalies."""
    part = agg[agg["kind"] == "single"]
    if not len(part):
        return None
    rep_rows = _reported_methods(reported, "lsun")
    rep = reported_lookup(rep_rows)
    max_n = int(part["n"].max())
    rows = []
    ours = sorted(part["method"].unique(), key=method_key)
    for label in ours:
        c = part[part["method"] == label].iloc[0]
        line = [display_name(label), _fmt(c["mean"], c["std"], c["n"], max_n)]
        rows.append([*line, _fmt(c["reported"]), _fmt_diff(c["diff"])])
    covered = {reported_method(m) for m in ours}
    for r in rep_rows.itertuples(index=False):
        if r.method not in covered and not is_reference(str(r.method)):
            paper = rep.get(("lsun", str(r.normal), str(r.method)))
            rows.append([display_name(str(r.method), ours=False), MISSING, _fmt(paper), MISSING])
    title = "LSUN (sec. 4.1): bedroom normal vs conference room anomalies, ROC AUC"
    return TableBlock("lsun", title, ["method", "ROC AUC", "paper", "Δ"], rows)


def build_tables(
    agg: pd.DataFrame, reported: pd.DataFrame | None = None, metric: str = "roc_auc"
) -> list[TableBlock]:
    """Every table the aggregated results support, in the paper's order.

    ``metric`` other than ``roc_auc``: ``agg`` holds that metric (:func:`aggregate`'s
    ``metric``), titles and headers name it, and no reported values appear (the paper
    reports ROC AUC only).
    """
    if metric != "roc_auc":
        return [_renamed(b, metric) for b in build_tables(agg, None)]
    blocks: list[TableBlock] = []
    class_parts = agg[agg["kind"].isin(["class", "avg"])][["dataset", "protocol"]]
    pairs = sorted(
        set(map(tuple, class_parts.drop_duplicates().to_numpy())),
        key=lambda p: (dataset_rank(p[0]), p),
    )
    for dataset, protocol in pairs:
        blocks.append(per_class_table(agg, dataset, protocol, reported))
    for block in (
        table3_left(agg, reported),
        table3_center(agg),
        table3_right(agg),
        lsun_table(agg, reported),
    ):
        if block is not None:
            blocks.append(block)
    return blocks


def _renamed(block: TableBlock, metric: str) -> TableBlock:
    """A block of another metric: "ROC AUC" in its title and header named as that metric."""
    from piad.metrics import METRIC_NAMES

    name = METRIC_NAMES[metric]
    header = [name if h == "ROC AUC" else h for h in block.header]
    notes = [*block.notes, f"{name}: no reported values (the paper reports ROC AUC only)."]
    return TableBlock(block.key, block.title.replace("ROC AUC", name), header, block.rows, notes)


__all__ = [
    "TableBlock",
    "build_tables",
    "per_class_table",
    "table3_center",
    "table3_left",
    "table3_right",
]
