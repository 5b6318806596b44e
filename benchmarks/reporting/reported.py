"""The paper's reported ROC AUCs, as data (``results/reported/*.csv``).

One row per number printed in the paper (Tables 2 and 3, and the LSUN numbers in the text),
with its source. Columns: ``table`` ("table2", "table3", "text"), ``part`` (table half or
panel), ``dataset``, ``normal`` (normal class as the dataset names it, "avg" for averages; for
CelebA the anomaly attribute; for LSUN "bedroom"), ``method``, ``auc``, ``label`` (the paper's
row label, e.g. "car"), ``source``, ``ours_runs`` (the suite runs this method live).

>>> reported_auc("table2", "cifar10", "automobile", "piad")
0.876
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from piad.errors import MissingInputError, PIADError, unknown_name

REPORTED_DIR = Path(__file__).resolve().parents[2] / "results" / "reported"
TABLES = ("table2", "table3", "text")
#: Tables of other papers whose recipes the suite runs live (file stem -> how tables name it).
#: Their methods are keyed ``"<table>:<method>"`` so they never mix with the PIAD paper's.
REFERENCE_TABLES = {"deep_svdd_table1": "Deep SVDD"}
COLUMNS = ("table", "part", "dataset", "normal", "method", "auc", "label", "source", "ours_runs")
KEY = ("table", "dataset", "normal", "method")


def load_reported(table: str | None = None, folder: Path | None = None) -> pd.DataFrame:
    """All reported AUCs (or one table's) as a tidy frame; string columns never hold NaN.

    >>> len(load_reported("table2"))  # 10 classes + avg, 8 methods, 2 datasets, + ALAD
    177
    """
    if table is not None and table not in TABLES:
        raise unknown_name("reported table", table, TABLES)
    folder = REPORTED_DIR if folder is None else Path(folder)
    names = TABLES if table is None else (table,)
    frames = []
    for name in names:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise MissingInputError(
                f"reported results file {path} is missing; restore results/reported/ "
                "from the repository"
            )
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise PIADError(f"{path} lacks columns {missing}; expected {list(COLUMNS)}")
        frames.append(frame[list(COLUMNS)])
    out = pd.concat(frames, ignore_index=True)
    out["auc"] = out["auc"].astype(float)
    out["ours_runs"] = out["ours_runs"].map({"True": True, "False": False}).astype(bool)
    return out


def reported_auc(table: str | None, dataset: str, normal: str | int, method: str) -> float | None:
    """The paper's AUC for one cell, or ``None`` when the paper reports none ("-" cells).

    ``table=None`` searches every table (an error if the cell appears in more than one).
    """
    frame = load_reported(table)
    hit = frame[
        (frame["dataset"] == dataset)
        & (frame["normal"] == str(normal))
        & (frame["method"] == method)
    ]
    if len(hit) > 1:
        tables = sorted(set(hit["table"]))
        raise PIADError(
            f"{dataset}/{normal}/{method} is reported in {tables}; pass table= to choose"
        )
    return float(hit["auc"].iloc[0]) if len(hit) else None


def load_references(folder: Path | None = None) -> pd.DataFrame:
    """The reference tables (:data:`REFERENCE_TABLES`), methods keyed ``"<table>:<method>"``.

    A ``checked`` column says whether a number was checked against the paper's text; unchecked
    ones are shown but never fail ``--check``.

    >>> refs = load_references()
    >>> refs.loc[refs["method"] == "deep_svdd_table1:deep_svdd", "auc"].head(2).tolist()
    [0.98, 0.997]
    """
    folder = REPORTED_DIR if folder is None else Path(folder)
    frames = []
    for name in REFERENCE_TABLES:
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise MissingInputError(f"reference table {path} is missing; restore results/reported/")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["method"] = name + ":" + frame["method"]
        frame["checked"] = ~frame["checked"].str.startswith("not checked")
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["auc"] = out["auc"].astype(float)
    return out


def all_reported(folder: Path | None = None) -> pd.DataFrame:
    """The PIAD paper's AUCs and the reference tables', in one frame (what reports compare with)."""
    return pd.concat([load_reported(None, folder), load_references(folder)], ignore_index=True)


def unverified_references(folder: Path | None = None) -> set[tuple[str, str, str]]:
    """``(dataset, normal, method key)`` of reference numbers not checked against their paper."""
    refs = load_references(folder)
    rows = refs[~refs["checked"].astype(bool)]
    return {(str(r.dataset), str(r.normal), str(r.method)) for r in rows.itertuples(index=False)}


def is_reference(method_key: str) -> bool:
    """True for a method of a reference table (``"deep_svdd_table1:ocsvm"``)."""
    return ":" in method_key


def reference_name(method_key: str) -> str:
    """How tables name the source of a reported value: "paper" (PIAD's), or the other paper."""
    table, sep, _ = method_key.partition(":")
    return REFERENCE_TABLES.get(table, table) if sep else "paper"
