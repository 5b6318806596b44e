"""Paper-style tables of a suite's results, the ``--check`` against the paper, and plots.

:func:`aggregate` turns the results table of :func:`benchmarks.results.collect` into one row
per (dataset, class or attribute, method): mean, std (ddof 1) and number of seeds, plus the
dataset average (mean of the class means; its std is over the seeds' per-seed averages) and
the paper's value beside ours with the difference. Failed jobs never enter a mean; a missing
number is shown as "—"; an average is given only when the method has every class of the table.

:func:`write_report` writes ``report.md`` (tabulate), ``report.csv`` (tidy, one row per
number), ``report.tex`` (booktabs) and ``report.png`` (ours vs reported) laid out like the
paper: Table 2 per-class blocks, Table 3 left / centre / right, and the LSUN line. A PIAD
budget below the paper's (``--iters``) puts a REDUCED BUDGET banner on every table.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from piad.errors import PIADError
from piad.io import atomic_write_bytes, atomic_write_text

MISSING = "—"
TOL_CELL = 0.05  # --tol-cell: one class / attribute / LSUN
TOL_AVG = 0.02  # --tol-avg: a dataset average

#: Paper order of the methods (Table 2 columns, then Table 3's GPND).
METHOD_ORDER = ("ocsvm", "kde", "anogan", "adgan", "ocgan", "alad", "lsa", "deep_svdd", "gpnd")
METHOD_NAMES = {
    "ocsvm": "OC-SVM",
    "kde": "KDE",
    "anogan": "AnoGAN",
    "adgan": "ADGAN",
    "ocgan": "OCGAN",
    "alad": "ALAD",
    "lsa": "LSA",
    "deep_svdd": "Deep SVDD",
    "gpnd": "GPND",
    "piad": "PIAD",
}
#: Row labels of the ablation study (Table 3, right).
ABLATION_NAMES = {
    "ablation-mse-fixed": "baseline",
    "ablation-mse-gradnorm": "+ gr-norm w",
    "ablation-perc": "+ gr-norm w + perc",
    "ablation-perc_l1": "+ gr-norm w + perc-L1",
    "ablation-rel_perc_l1": "+ gr-norm w + rel-perc-L1",
}
DATASET_NAMES = {
    "mnist": "MNIST",
    "mnist5k": "MNIST-5k",
    "fmnist": "fMNIST",
    "cifar10": "CIFAR-10",
    "coil100": "COIL-100",
    "celeba": "CelebA",
    "lsun": "LSUN",
}
#: Datasets compared with the paper's numbers of another dataset.
REPORTED_ALIAS = {"mnist5k": "mnist"}
SINGLE_ROW_PROTOCOLS = ("lsun_bedroom",)
GROUP_PROTOCOLS = ("celeba_attributes", "celeba_attributes_extended")
TABLE3_LEFT_PROTOCOLS = ("gpnd_80_20", "coil100_30")

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


# --------------------------------------------------------------------------- names


def _split_label(label: str) -> tuple[str, str]:
    method, _, variant = label.partition("-")
    return method, variant


def _piad_parts(variant: str) -> tuple[str, str | None]:
    from benchmarks.methods import piad_variant

    try:
        return piad_variant(variant)
    except PIADError:
        return "code", None


def reported_method(label: str) -> str:
    """The paper's method a run of ours is compared with.

    >>> reported_method("piad-paper"), reported_method("ocsvm-holdout")
    ('piad', 'ocsvm')
    >>> reported_method("piad-paper-ablation-perc")
    'piad-ablation-perc'
    """
    method, variant = _split_label(label)
    if method != "piad":
        return method
    _, ablation = _piad_parts(variant)
    return "piad" if ablation is None else f"piad-{ablation}"


def display_name(label: str, ours: bool = True) -> str:
    """Column/row name of a method; reported-only methods are marked "(reported)".

    >>> display_name("piad-code"), display_name("ocsvm-holdout"), display_name("lsa", ours=False)
    ('PIAD', 'OC-SVM holdout', 'LSA (reported)')
    """
    method, variant = _split_label(label)
    if not ours:
        if label.startswith("piad-ablation-"):
            return ABLATION_NAMES.get(label[len("piad-") :], label) + " (reported)"
        return f"{METHOD_NAMES.get(label, label)} (reported)"
    name = METHOD_NAMES.get(method, method)
    if method == "piad":
        fidelity, ablation = _piad_parts(variant)
        if ablation is not None:
            name = ABLATION_NAMES[ablation]
        suffix = " [paper variant]" if fidelity == "paper" else ""
        return name + suffix
    return f"{name} {variant}" if variant else name


def _method_key(label: str) -> tuple[int, str]:
    base = reported_method(label)
    if base in METHOD_ORDER:
        return (METHOD_ORDER.index(base), label)
    if base == "piad":
        return (len(METHOD_ORDER), label)
    abl = list(ABLATION_NAMES)
    rest = base[len("piad-") :] if base.startswith("piad-") else base
    return (len(METHOD_ORDER) + 1 + (abl.index(rest) if rest in abl else len(abl)), label)


def _kind(protocol: str) -> str:
    if protocol in GROUP_PROTOCOLS:
        return "group"
    if protocol in SINGLE_ROW_PROTOCOLS:
        return "single"
    return "class"


def _class_order(dataset: str, protocol: str, rows: Iterable[str]) -> list[str]:
    """Rows in the dataset's class order (then any others alphabetically)."""
    rows = list(dict.fromkeys(rows))
    order: list[str] = []
    try:
        from benchmarks.datasets import DATASET_INFO
        from benchmarks.protocols import normal_classes

        info = DATASET_INFO[dataset]
        order = list(normal_classes(protocol, info)) + list(info.classes)
    except (ImportError, KeyError, PIADError):
        pass
    position = {name: i for i, name in reversed(list(enumerate(order)))}
    return sorted(rows, key=lambda r: (position.get(r, len(position)), r))


def _full_classes(dataset: str, protocol: str) -> list[str] | None:
    try:
        from benchmarks.datasets import DATASET_INFO
        from benchmarks.protocols import normal_classes

        return list(normal_classes(protocol, DATASET_INFO[dataset]))
    except (ImportError, KeyError, PIADError):
        return None


# --------------------------------------------------------------------------- aggregation


def reported_table() -> pd.DataFrame:
    """The paper's numbers (``benchmarks.reported.load_reported``)."""
    from benchmarks.reported import load_reported

    return load_reported()


def _reported_lookup(reported: pd.DataFrame | None) -> dict[tuple[str, str, str], float]:
    if reported is None or not len(reported):
        return {}
    return {
        (str(r.dataset), str(r.normal), str(r.method)): float(r.auc)
        for r in reported.itertuples(index=False)
    }


def aggregate(results: pd.DataFrame, reported: pd.DataFrame | None = None) -> pd.DataFrame:
    """Seed statistics per (dataset, row, method), dataset averages, reported values.

    ``results`` is :func:`benchmarks.results.collect`'s table; ``reported`` the paper's
    (:func:`reported_table`; ``None``: no comparison). Columns: :data:`AGG_COLUMNS`.
    """
    ok = results[(results["status"] == "ok") & results["auc"].notna()].copy()
    rep = _reported_lookup(reported)
    records: list[dict[str, Any]] = []
    for (dataset, protocol), part in ok.groupby(["dataset", "protocol"], sort=True):
        kind = _kind(protocol)
        rows = _class_order(dataset, protocol, part["row"])
        rep_ds = REPORTED_ALIAS.get(dataset, dataset)
        labels = sorted(part["method_label"].unique(), key=_method_key)
        for label in labels:
            mine = part[part["method_label"] == label]
            rm = reported_method(label)
            for row in rows:
                aucs = mine.loc[mine["row"] == row, "auc"].astype(float)
                if not len(aucs):
                    continue
                paper = rep.get((rep_ds, row, rm))
                mean = float(aucs.mean())
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
                        "diff": mean - paper if paper is not None else None,
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
    full = _full_classes(dataset, protocol)
    complete = full is not None and set(rows) == set(full)
    has_all = set(mine["row"]) >= set(rows)
    rm = reported_method(label)
    mean = std = math.nan
    n = 0
    if has_all:  # a method missing a class of the table gets no average (never a partial one)
        mean = float(mine.groupby("row")["auc"].mean().loc[rows].mean())
        by_seed = mine.pivot_table(index="seed", columns="row", values="auc", aggfunc="mean")
        per_seed = by_seed.reindex(columns=rows).dropna().mean(axis=1)
        n = len(per_seed)
        std = float(per_seed.std(ddof=1)) if n > 1 else math.nan
    paper = rep_get((REPORTED_ALIAS.get(dataset, dataset), "avg", rm)) if complete else None
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
    """``"REDUCED BUDGET: ..."`` when any PIAD result trained fewer iterations than the paper."""
    piad = results[(results["method"] == "piad") & (results["status"] == "ok")]
    budgets: set[tuple[int, int]] = set()
    for r in piad.itertuples(index=False):
        ran = r.iters_run if _is_int(r.iters_run) else r.iters
        if _is_int(ran) and _is_int(r.iters_paper) and int(ran) < int(r.iters_paper):
            budgets.add((int(ran), int(r.iters_paper)))
    if not budgets:
        return None
    what = ", ".join(f"{ran} iterations (paper: {paper})" for ran, paper in sorted(budgets))
    return f"REDUCED BUDGET: {what}, not a reproduction"


def _is_int(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


# --------------------------------------------------------------------------- tables


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
    return reported[reported["dataset"] == REPORTED_ALIAS.get(dataset, dataset)]


def _ours_and_competitors(
    part: pd.DataFrame, reported: pd.DataFrame | None, dataset: str
) -> tuple[list[str], list[str], set[str]]:
    ours = sorted(part["method"].unique(), key=_method_key)
    rep = _reported_methods(reported, dataset)
    with_paper = {m for m in ours if reported_method(m) in set(rep["method"])}
    covered = {reported_method(m) for m in ours}
    competitors: list[str] = []
    if any(not reported_method(m).startswith("piad-") for m in ours):
        competitors = [
            m
            for m in sorted(set(rep["method"]) - covered, key=_method_key)
            if not m.startswith("piad-")
        ]
    return ours, competitors, with_paper


def _alias_note(dataset: str) -> list[str]:
    alias = REPORTED_ALIAS.get(dataset)
    if alias is None:
        return []
    return [
        f"{DATASET_NAMES.get(dataset, dataset)}: the paper columns are the paper's "
        f"{DATASET_NAMES.get(alias, alias)} numbers (another test set): indicative only."
    ]


def per_class_table(
    agg: pd.DataFrame, dataset: str, protocol: str, reported: pd.DataFrame | None
) -> TableBlock:
    """Table 2 layout: rows = classes + avg, columns = methods (ours, paper, Δ; reported)."""
    part = agg[(agg["dataset"] == dataset) & (agg["protocol"] == protocol)]
    ours, competitors, with_paper = _ours_and_competitors(part, reported, dataset)
    rep = _reported_lookup(_reported_methods(reported, dataset))
    rep_ds = REPORTED_ALIAS.get(dataset, dataset)
    class_rows = _class_order(dataset, protocol, part.loc[part["kind"] != "avg", "row"])
    avg_rows = part[part["kind"] == "avg"]
    max_n = int(part["n"].max()) if len(part) else 0
    header = ["class"]
    for label in ours:
        header.append(display_name(label))
        if label in with_paper:
            header += [f"{display_name(label)} paper", "Δ"]
    header += [display_name(m, ours=False) for m in competitors]

    rows: list[list[str]] = []
    for row in [*class_rows, "avg"]:
        if row == "avg" and not len(avg_rows):
            continue
        complete = bool(avg_rows["complete"].all()) if row == "avg" else True
        if row == "avg" and not complete:
            full = _full_classes(dataset, protocol)
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
    title = (
        f"{DATASET_NAMES.get(dataset, dataset)} ({protocol}): ROC AUC per normal class, "
        "mean ± std over seeds"
    )
    return TableBlock(f"classes-{dataset}", title, header, rows, notes)


def table3_left(agg: pd.DataFrame, reported: pd.DataFrame | None) -> TableBlock | None:
    """Table 3 (left): dataset averages on fMNIST (80/20) and COIL-100; rows = methods."""
    avg = agg[(agg["kind"] == "avg") & agg["protocol"].isin(TABLE3_LEFT_PROTOCOLS)]
    if not len(avg):
        return None
    datasets = list(dict.fromkeys(avg["dataset"]))
    ours = sorted(avg["method"].unique(), key=_method_key)
    rep = _reported_lookup(reported)
    competitors = sorted(
        {
            m
            for d in datasets
            for m in _reported_methods(reported, d)["method"]
            if m not in {reported_method(o) for o in ours} and not m.startswith("piad-")
        },
        key=_method_key,
    )
    max_n = int(avg["n"].max())
    header = ["method"]
    for d in datasets:
        name = DATASET_NAMES.get(d, d)
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
            paper = rep.get((REPORTED_ALIAS.get(d, d), "avg", method)) if complete else None
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
    ours = sorted(part["method"].unique(), key=_method_key)
    max_n = int(part["n"].max())
    header = ["attribute"]
    for label in ours:
        header += [display_name(label), f"{display_name(label)} paper", "Δ"]
    rows = []
    try:  # the paper's order: Bald, Mustache, Bangs, Eyeglasses, Wearing_Hat
        from benchmarks.protocols import CELEBA_ATTRIBUTES as order
    except ImportError:  # pragma: no cover
        order = ()
    position = {name: i for i, name in enumerate(order)}
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


def table3_right(agg: pd.DataFrame) -> TableBlock | None:
    """Table 3 (right): the ablation rows' CIFAR-10 averages."""
    part = agg[(agg["kind"] == "avg") & agg["reported_method"].str.startswith("piad-ablation-")]
    if not len(part):
        return None
    max_n = int(part["n"].max())
    rows = []
    for label in sorted(part["method"].unique(), key=_method_key):
        c = part[part["method"] == label].iloc[0]
        line = [display_name(label), _fmt(c["mean"], c["std"], c["n"], max_n)]
        rows.append([*line, _fmt(c["reported"]), _fmt_diff(c["diff"])])
    datasets = ", ".join(DATASET_NAMES.get(d, d) for d in dict.fromkeys(part["dataset"]))
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
    rep = _reported_lookup(rep_rows)
    max_n = int(part["n"].max())
    rows = []
    ours = sorted(part["method"].unique(), key=_method_key)
    for label in ours:
        c = part[part["method"] == label].iloc[0]
        line = [display_name(label), _fmt(c["mean"], c["std"], c["n"], max_n)]
        rows.append([*line, _fmt(c["reported"]), _fmt_diff(c["diff"])])
    covered = {reported_method(m) for m in ours}
    for r in rep_rows.itertuples(index=False):
        if r.method not in covered:
            paper = rep.get(("lsun", str(r.normal), str(r.method)))
            rows.append([display_name(str(r.method), ours=False), MISSING, _fmt(paper), MISSING])
    title = "LSUN (sec. 4.1): bedroom normal vs conference room anomalies, ROC AUC"
    return TableBlock("lsun", title, ["method", "ROC AUC", "paper", "Δ"], rows)


def build_tables(agg: pd.DataFrame, reported: pd.DataFrame | None = None) -> list[TableBlock]:
    """Every table the aggregated results support, in the paper's order."""
    blocks: list[TableBlock] = []
    class_parts = agg[agg["kind"].isin(["class", "avg"])][["dataset", "protocol"]]
    order = ["mnist5k", "mnist", "cifar10", "fmnist", "coil100"]
    pairs = sorted(
        set(map(tuple, class_parts.drop_duplicates().to_numpy())),
        key=lambda p: (order.index(p[0]) if p[0] in order else len(order), p),
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


# --------------------------------------------------------------------------- rendering


def failures_table(results: pd.DataFrame) -> list[list[str]]:
    failed = results[results["status"] == "failed"].drop_duplicates("path")
    rows = []
    for r in failed.itertuples(index=False):
        slug = f"{r.dataset}/{r.method_label}/{r.normal}/seed{r.seed}"
        rows.append([slug, str(r.error)])
    return rows


def render_markdown(
    blocks: Sequence[TableBlock],
    budget: str | None = None,
    failures: Sequence[Sequence[str]] = (),
    title: str = "Results",
) -> str:
    """Markdown document: one section per table (tabulate "pipe"), then the failures."""
    lines = [f"# {title}", ""]
    banner = [f"**{budget}**", ""] if budget else []
    lines += banner
    if not blocks:
        lines += ["No successful result yet.", ""]
    for block in blocks:
        lines += [f"## {block.title}", "", *banner]
        align = ["left"] + ["right"] * (len(block.header) - 1)
        lines += [
            tabulate(
                block.rows, block.header, tablefmt="pipe", disable_numparse=True, colalign=align
            ),
            "",
        ]
        lines += [f"- {note}" for note in block.notes]
        if block.notes:
            lines.append("")
    if failures:
        lines += [f"## Failed jobs ({len(failures)})", ""]
        lines += [tabulate(failures, ["job", "error"], tablefmt="pipe", disable_numparse=True), ""]
        lines += ["Rerun the same command to retry them; each job's log is its job.log.", ""]
    return "\n".join(lines)


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "—": "---",
    "Δ": r"$\Delta$",
}


def latex_escape(text: str) -> str:
    r"""Text as LaTeX source.

    >>> latex_escape("0.985 ± 0.003 & seed_1")
    '0.985 $\\pm$ 0.003 \\& seed\\_1'
    """
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def render_latex(
    blocks: Sequence[TableBlock],
    budget: str | None = None,
    failures: Sequence[Sequence[str]] = (),
) -> str:
    """One booktabs ``table`` per block (needs ``\\usepackage{booktabs}``)."""
    out = ["% Generated by benchmarks.reports; needs \\usepackage{booktabs}."]
    if budget:
        out.append(f"% {budget}")
    for block in blocks:
        caption = block.title + (f". {budget}" if budget else "")
        spec = "l" + "r" * (len(block.header) - 1)
        out += [
            "",
            "\\begin{table}[ht]",
            "\\centering",
            f"\\caption{{{latex_escape(caption)}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            " & ".join(latex_escape(h) for h in block.header) + " \\\\",
            "\\midrule",
        ]
        for i, row in enumerate(block.rows):
            if row[0].startswith("avg") and i > 0:
                out.append("\\midrule")
            out.append(" & ".join(latex_escape(c) for c in row) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        out += [f"% {note}" for note in block.notes]
        out.append("\\end{table}")
    if failures:
        out += ["", f"% Failed jobs ({len(failures)}):"]
        out += [f"%   {job}: {error}" for job, error in failures]
    return "\n".join(out) + "\n"


def csv_frame(agg: pd.DataFrame, budget: str | None = None) -> pd.DataFrame:
    """The tidy CSV: one row per number, rounded to 6 decimals, with the budget note."""
    frame = agg.copy()
    for col in ("mean", "std", "reported", "diff"):
        frame[col] = frame[col].round(6)
    frame["budget"] = budget or ""
    return frame


# --------------------------------------------------------------------------- check


@dataclass
class CheckReport:
    """The ``--check`` comparison: one row per compared number; ``ok`` when all are within."""

    table: pd.DataFrame
    tol_cell: float
    tol_avg: float

    @property
    def n_compared(self) -> int:
        return len(self.table)

    @property
    def n_out(self) -> int:
        return int((self.table["status"] != "ok").sum()) if len(self.table) else 0

    @property
    def ok(self) -> bool:
        return self.n_compared > 0 and self.n_out == 0

    def render(self) -> str:
        if not self.n_compared:
            return (
                "check: FAILED, nothing to compare: no successful result has a reported "
                "counterpart in the paper"
            )
        rows = [
            [
                r.dataset,
                r.row,
                r.name,
                f"{r.mean:.3f}",
                f"{r.reported:.3f}",
                f"{r.diff:+.3f}",
                f"{r.tol:.3f}",
                r.status,
            ]
            for r in self.table.itertuples(index=False)
        ]
        header = ["dataset", "row", "method", "ours", "paper", "Δ", "tol", "status"]
        verdict = "passed" if self.ok else f"FAILED ({self.n_out} out of tolerance)"
        text = tabulate(rows, header, tablefmt="pipe", disable_numparse=True)
        return (
            f"{text}\n\ncheck: {verdict}; {self.n_compared} numbers compared, tolerance "
            f"{self.tol_cell} per cell and {self.tol_avg} per average"
        )


def check(agg: pd.DataFrame, tol_cell: float = TOL_CELL, tol_avg: float = TOL_AVG) -> CheckReport:
    """Compare every number that has a paper counterpart; averages use ``tol_avg``."""
    for name, tol in (("--tol-cell", tol_cell), ("--tol-avg", tol_avg)):
        if not tol >= 0:
            raise PIADError(f"{name} must be a non-negative AUC difference, got {tol}")
    cmp = agg[agg["mean"].notna() & agg["reported"].notna()].copy()
    cmp["tol"] = np.where(cmp["kind"] == "avg", tol_avg, tol_cell)
    within = (cmp["mean"] - cmp["reported"]).abs() <= cmp["tol"] + 1e-9
    cmp["status"] = np.where(within, "ok", "OUT")
    columns = ["dataset", "row", "name", "mean", "reported", "diff", "tol", "status"]
    return CheckReport(cmp[columns].reset_index(drop=True), tol_cell, tol_avg)


# --------------------------------------------------------------------------- plots


def _figure_bytes(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_roc(
    labels: np.ndarray,
    scores: np.ndarray,
    path: str | Path,
    title: str = "",
    groups: dict[str, np.ndarray] | None = None,
) -> Path:
    """ROC curve PNG of one job (one curve per group mask when given), written atomically."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    curves = groups or {"all": np.ones(len(labels), dtype=bool)}
    for name, mask in curves.items():
        y, s = np.asarray(labels)[mask], np.asarray(scores)[mask]
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(title, fontsize=8)
    ax.legend(loc="lower right", fontsize=7)
    return atomic_write_bytes(path, _figure_bytes(fig))


def plot_bars(agg: pd.DataFrame, path: str | Path, budget: str | None = None) -> Path | None:
    """Per dataset: our mean ± std (error bars) beside the paper's value, per row."""
    if not len(agg) or agg["mean"].notna().sum() == 0:
        return None
    plt = _pyplot()
    datasets = list(dict.fromkeys(agg["dataset"]))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(11, 3.2 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = agg[(agg["dataset"] == dataset) & agg["mean"].notna()]
        rows = list(dict.fromkeys(part["row"]))
        labels = sorted(part["method"].unique(), key=_method_key)
        series: list[tuple[str, bool]] = []
        for label in labels:  # ours, then the paper's value of the same method beside it
            series.append((label, False))
            if part.loc[part["method"] == label, "reported"].notna().any():
                series.append((label, True))
        width = 0.8 / max(1, len(series))
        x = np.arange(len(rows))
        colors = {label: f"C{k % 10}" for k, label in enumerate(labels)}
        for i, (label, is_paper) in enumerate(series):
            mine = part[part["method"] == label].set_index("row").reindex(rows)
            values = mine["reported" if is_paper else "mean"].to_numpy(dtype=float)
            std = mine["std"].to_numpy(dtype=float)
            errors = None if is_paper or np.isnan(std).all() else np.nan_to_num(std)
            ax.bar(
                x + (i - (len(series) - 1) / 2) * width,
                values,
                width,
                yerr=errors,
                capsize=2,
                color=colors[label],
                label=display_name(label) + (" (paper)" if is_paper else ""),
                hatch="//" if is_paper else None,
                alpha=0.45 if is_paper else 1.0,
            )
        ax.set_xticks(x, rows, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("ROC AUC (mean ± std)")
        ax.set_title(DATASET_NAMES.get(dataset, dataset) + (f" — {budget}" if budget else ""))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return atomic_write_bytes(path, _figure_bytes(fig))


# --------------------------------------------------------------------------- files


@dataclass
class Report:
    """What :func:`write_report` produced."""

    markdown: str
    aggregated: pd.DataFrame
    results: pd.DataFrame
    budget: str | None
    failures: list[list[str]]
    files: dict[str, Path]


def make_report(
    results: pd.DataFrame, reported: pd.DataFrame | None = None, title: str | None = None
) -> tuple[pd.DataFrame, list[TableBlock], str | None, list[list[str]], str]:
    """Aggregate and lay out ``results`` without writing files.

    Returns (aggregated, tables, budget note, failures, title).
    """
    agg = aggregate(results, reported)
    suites = sorted(set(results["suite"].dropna())) if len(results) else []
    title = title or ("Results of suite " + ", ".join(suites) if suites else "Results")
    return agg, build_tables(agg, reported), budget_note(results), failures_table(results), title


def write_report(
    out: str | Path, results: pd.DataFrame | None = None, reported: pd.DataFrame | None = None
) -> Report:
    """Write ``report.{md,csv,tex,png}`` into ``out`` from the results under it."""
    from benchmarks.results import collect

    out = Path(out)
    results = collect(out) if results is None else results
    if not len(results):
        raise PIADError(f"no results under {out}; run the suite first (or check --out)")
    reported = reported_table() if reported is None else reported
    agg, blocks, budget, failures, title = make_report(results, reported)
    markdown = render_markdown(blocks, budget, failures, title)
    files = {
        "md": atomic_write_text(out / "report.md", markdown),
        "csv": atomic_write_text(out / "report.csv", csv_frame(agg, budget).to_csv(index=False)),
        "tex": atomic_write_text(out / "report.tex", render_latex(blocks, budget, failures)),
    }
    png = plot_bars(agg, out / "report.png", budget)
    if png is not None:
        files["png"] = png
    return Report(markdown, agg, results, budget, failures, files)
