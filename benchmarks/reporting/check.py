"""``--check``: compare every number of ours that has a reported counterpart, with tolerances."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmarks.reporting.names import reported_dataset
from piad.errors import PIADError

TOL_CELL = 0.05  # --tol-cell: one class / attribute / LSUN
TOL_AVG = 0.02  # --tol-avg: a dataset average


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
        return int((self.table["status"] == "OUT").sum()) if len(self.table) else 0

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


def check(
    agg: pd.DataFrame,
    tol_cell: float = TOL_CELL,
    tol_avg: float = TOL_AVG,
    unverified: Collection[tuple[str, str, str]] = (),
) -> CheckReport:
    """Compare every number that has a reported counterpart; averages use ``tol_avg``.

    Each run is compared with the table of the recipe it follows (PIAD's paper, or a reference
    table such as Deep SVDD's). ``unverified`` holds ``(dataset, row, reported method)`` of
    reference numbers not checked against their paper's text: shown with status
    "unverified", never counted as out of tolerance.
    """
    for name, tol in (("--tol-cell", tol_cell), ("--tol-avg", tol_avg)):
        if not tol >= 0:
            raise PIADError(f"{name} must be a non-negative AUC difference, got {tol}")
    cmp = agg[agg["mean"].notna() & agg["reported"].notna()].copy()
    cmp["tol"] = np.where(cmp["kind"] == "avg", tol_avg, tol_cell)
    within = (cmp["mean"] - cmp["reported"]).abs() <= cmp["tol"] + 1e-9
    cmp["status"] = np.where(within, "ok", "OUT")
    if len(cmp) and unverified:
        keys = set(unverified)
        doubtful = [
            (reported_dataset(d), r, m) in keys
            for d, r, m in zip(cmp["dataset"], cmp["row"], cmp["reported_method"])
        ]
        cmp.loc[doubtful, "status"] = "unverified"
    columns = ["dataset", "row", "name", "mean", "reported", "diff", "tol", "status"]
    return CheckReport(cmp[columns].reset_index(drop=True), tol_cell, tol_avg)


__all__ = ["TOL_AVG", "TOL_CELL", "CheckReport", "check"]
