"""The seeded comparison's rows and table: ``runs.csv`` in, ``summary.md`` out.

One row per code, digit, seed and scored snapshot (:data:`COLUMNS`). The table gives, per
(digit, iteration) cell, each code's mean ± std over seeds with every seed's AUC, and Welch's
t-test of each code against the reference code (the authors'). Rows written by several
``peer_seeds`` jobs (for example one per code, run side by side) are merged with
:func:`merge_runs`.

Example:
    >>> rows = [
    ...     {"code": c, "digit": "1", "seed": s, "iteration": 500, "run_iters": 500,
    ...      "auc": a, "train_seconds": 500.0, "score_seconds": 60.0}
    ...     for c, s, a in [("ours", 0, 0.875), ("ours", 1, 0.625), ("theirs", 0, 0.5),
    ...                     ("theirs", 1, 0.75)]
    ... ]
    >>> mean, std, n = cell_stats(rows)[("1", 500, "ours")]
    >>> mean, round(std, 4), n
    (0.75, 0.1768, 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import PIADError

COLUMNS = (
    "code",
    "digit",
    "seed",
    "iteration",
    "run_iters",
    "auc",
    "train_seconds",
    "score_seconds",
)
KEY = ("code", "digit", "seed", "iteration")


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value (nan with fewer than 2 values per side)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    res = stats.ttest_ind(a, b, equal_var=False)
    return float(res.statistic), float(res.pvalue)


def _frame(rows: list[dict[str, Any]]) -> Any:
    """Rows as a frame, each snapshot once: one scored in a short run and again in a longer one
    is the same trajectory, the shorter run's row is kept."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=COLUMNS)
    df["digit"] = df["digit"].astype(str)
    return df.sort_values("run_iters", kind="stable").drop_duplicates(list(KEY), keep="first")


def _auc_stats(aucs: Any) -> tuple[float, float, int]:
    """(mean, sample std (ddof 1; nan for one seed), seeds) of one cell's AUCs."""
    v = np.asarray(aucs, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v)


def cell_stats(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str], tuple[float, float, int]]:
    """(digit, iteration, code) -> (mean AUC, sample std (ddof 1; nan for one seed), seeds)."""
    return {
        (str(digit), int(it), str(code)): _auc_stats(g.auc)
        for (digit, it, code), g in _frame(rows).groupby(["digit", "iteration", "code"])
    }


def summary_markdown(rows: list[dict[str, Any]], reference: str = "theirs") -> str:
    """mean ± std (n) per code and (digit, iteration); Welch's t-test of each code vs theirs;
    every seed's AUC; the seeds a cell's codes do not share; seconds per iteration."""
    df = _frame(rows)
    if df.empty:
        return "no runs yet\n"
    lines = [
        "| digit | iteration | code | AUC mean ± std (n) | vs "
        + reference
        + ": diff, Welch t, p | AUC per seed |",
        "|---|---|---|---|---|---|",
    ]
    unpaired = []
    for (digit, it), cell in df.groupby(["digit", "iteration"]):
        ref = cell[cell.code == reference].auc.tolist()
        seeds = {code: set(g.seed.astype(int)) for code, g in cell.groupby("code")}
        shared = set.intersection(*seeds.values())
        for code, g in cell.groupby("code"):
            mean, std, n = _auc_stats(g.auc)
            test = ""
            if code != reference and ref:
                t, p = welch(g.auc.tolist(), ref)
                test = f"{mean - float(np.mean(ref)):+.4f}, t={t:.2f}, p={p:.3f}"
            per_seed = ", ".join(
                f"{int(s)}: {a:.4f}" for s, a in sorted(zip(g.seed, g.auc, strict=True))
            )
            lines.append(
                f"| {digit} | {it} | {code} | {mean:.4f} ± {std:.4f} ({n}) | {test} | {per_seed} |"
            )
            extra = sorted(seeds[code] - shared)
            if extra:
                unpaired.append(f"digit {digit}, iteration {it}, {code}: seeds {extra}")
    if unpaired:
        lines += ["", "Seeds that not every code of the cell has: " + "; ".join(unpaired) + "."]
    import pandas as pd

    full = pd.DataFrame(rows, columns=COLUMNS)
    twice = full.groupby(list(KEY)).auc.agg(["count", "min", "max"])
    twice = twice[twice["count"] > 1]
    if len(twice):
        spread = float((twice["max"] - twice["min"]).max())
        lines += [
            "",
            f"Snapshots scored in two runs of different length: {len(twice)}, "
            f"largest AUC difference {spread:.2e} (0 = the same trajectory).",
        ]
    lines += ["", "Seconds per iteration (train time to the snapshot / iterations, median):"]
    for code, g in df.groupby("code"):
        lines.append(f"- {code}: {float((g.train_seconds / g.iteration).median()):.3f}")
    return "\n".join(lines) + "\n"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """``runs.csv`` as rows ([] when there is none); a file without the columns is an error."""
    import pandas as pd

    if not path.is_file():
        return []
    try:
        frame = pd.read_csv(path, dtype={"digit": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PIADError(f"{path} is not a runs.csv ({exc}); delete it or point at another") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise PIADError(f"{path} lacks columns {missing}; it is not a peer_seeds runs.csv")
    records: list[dict[str, Any]] = frame[list(COLUMNS)].to_dict("records")
    return records


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically (a killed job leaves the previous file)."""
    import pandas as pd

    from piad.io import atomic_write_text

    atomic_write_text(path, pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False))


def merge_runs(folders: Sequence[Path]) -> list[dict[str, Any]]:
    """The rows of several ``peer_seeds`` output folders, each snapshot once.

    A snapshot found in two folders with different AUCs is an error (two runs that claim the
    same code, digit, seed and run length but differ); with the same AUC it is kept once.
    """
    seen: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
    for folder in folders:
        path = folder / "runs.csv"
        if not path.is_file():
            raise PIADError(f"{path} does not exist; --merge takes peer_seeds --out folders")
        for row in read_rows(path):
            key = (
                str(row["code"]),
                str(row["digit"]),
                int(row["seed"]),
                int(row["iteration"]),
                int(row["run_iters"]),
            )
            if key in seen:
                other, where = seen[key]
                if other["auc"] != row["auc"]:
                    raise PIADError(
                        f"{path} and {where / 'runs.csv'} both hold {key[:4]} with AUC "
                        f"{row['auc']} vs {other['auc']}; keep one of the two folders"
                    )
                continue
            seen[key] = (row, folder)
    return [row for row, _ in seen.values()]


__all__ = [
    "COLUMNS",
    "cell_stats",
    "merge_runs",
    "read_rows",
    "summary_markdown",
    "welch",
    "write_rows",
]
