"""Learning curves of a suite: test-set metric against iteration, and the training traces.

``python -m benchmarks.figures curves --results results/<suite>`` reads every PIAD job's
``work/eval.csv`` (written with ``--eval-every``) and ``work/log.csv`` and draws, per
(dataset, method, normal class), three panels: the metric against the iteration (one line per
seed, the mean over seeds with a +- 1 std band, the paper's number at its budget dashed where
the paper reports that cell), the loss terms (symmetric log scale) and the gammas (log scale).
Jobs still training are drawn as far as they got. The figure goes to
``<results>/figures/curves.png``, which ``report.md`` links. The tables never use these curves:
they keep the final iteration's number (no best-iteration picking).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.experiments.jobs import JobFolder
from piad.errors import PIADError
from piad.metrics import METRIC_NAMES, check_metric
from piad.training.checkpoint import LOG_NAME, LOSS_NAMES
from piad.training.tracking import EVAL_NAME, read_eval_csv

FIGURE_NAME = "curves"


@dataclass
class CurveJob:
    """One job's curves: where it is, what it is, its eval and log rows."""

    path: Path
    dataset: str
    method: str
    normal: str
    seed: int
    eval_rows: pd.DataFrame
    log_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def panel(self) -> tuple[str, str, str]:
        return (self.dataset, self.method, self.normal)


def eval_files(results: str | os.PathLike[str]) -> list[Path]:
    """Every ``<job>/work/eval.csv`` under a results folder, sorted."""
    root = Path(results)
    return sorted(root.glob(f"*/*/*/seed*/{JobFolder.WORK}/{EVAL_NAME}")) if root.is_dir() else []


def has_eval_data(results: str | os.PathLike[str]) -> bool:
    """True when some job under ``results`` evaluated while training."""
    return any(read_eval_csv(p) for p in eval_files(results))


def _read_log(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except (ValueError, OSError):  # a log being appended to right now
        return pd.DataFrame()


def collect_curves(results: str | os.PathLike[str]) -> list[CurveJob]:
    """The jobs under ``results`` with an ``eval.csv`` (finished or not), with their rows."""
    jobs = []
    for path in eval_files(results):
        rows = read_eval_csv(path)
        if not rows:
            continue
        job_dir = path.parent.parent
        dataset, method, normal = (job_dir.parents[i].name for i in (2, 1, 0))
        seed = int(job_dir.name.removeprefix("seed"))
        jobs.append(
            CurveJob(
                job_dir,
                dataset,
                method,
                normal,
                seed,
                pd.DataFrame(rows),
                _read_log(path.parent / LOG_NAME),
            )
        )
    return jobs


def _reported(dataset: str, normal: str, method: str) -> float | None:
    """The paper's ROC AUC of a cell, only where our dataset is the paper's own."""
    try:
        from benchmarks.reporting.names import reported_dataset, reported_method
        from benchmarks.reporting.reported import all_reported

        if reported_dataset(dataset) != dataset:
            return None  # mnist5k: another test set, not comparable
        rep = all_reported()
        hit = rep[
            (rep["dataset"] == dataset)
            & (rep["normal"] == normal)
            & (rep["method"] == reported_method(method))
        ]
        return float(hit["auc"].iloc[0]) if len(hit) else None
    except (PIADError, KeyError, ValueError):
        return None


def _paper_budget(job_dir: Path) -> int | None:
    from benchmarks.experiments.results import Result

    try:
        return Result.load(job_dir).iters_paper
    except PIADError:
        return None


def mean_band(curves: Sequence[pd.DataFrame], metric: str) -> pd.DataFrame:
    """Mean and std over seeds at the iterations every seed has (columns iteration, mean,
    std, n); a single seed has std NaN."""
    if not curves:
        return pd.DataFrame(columns=["iteration", "mean", "std", "n"])
    table = pd.concat(
        [c.set_index("iteration")[metric].rename(i) for i, c in enumerate(curves)], axis=1
    ).dropna()
    return pd.DataFrame(
        {
            "iteration": table.index.to_numpy(),
            "mean": table.mean(axis=1).to_numpy(),
            "std": table.std(axis=1, ddof=1).to_numpy() if table.shape[1] > 1 else math.nan,
            "n": table.shape[1],
        }
    )


def draw_curves(
    results: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    metric: str = "roc_auc",
    formats: Sequence[str] = ("png",),
    name: str = FIGURE_NAME,
    title: str | None = None,
) -> Path:
    """Draw the learning curves of ``results`` (default ``<results>/figures/curves.png``).

    Returns the first file written; raises :class:`PIADError` when no job has an eval.csv.
    """
    from benchmarks.figures.common import save_figure
    from benchmarks.reporting.names import dataset_title, display_name, method_key

    check_metric(metric)
    jobs = collect_curves(results)
    if not jobs:
        raise PIADError(
            f"no work/eval.csv under {results}: run the suite with --eval-every N first"
        )
    panels = sorted(
        {j.panel for j in jobs}, key=lambda p: (p[0], method_key(p[1]), _class_key(p[2]))
    )
    from benchmarks.reporting.plots import pyplot

    plt = pyplot()
    cols = len(panels)
    fig, axes = plt.subplots(3, cols, figsize=(3.2 * cols + 0.6, 7.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, panel in enumerate(panels):
        dataset, method, normal = panel
        mine = sorted((j for j in jobs if j.panel == panel), key=lambda j: j.seed)
        ax = axes[0][c]
        for k, job in enumerate(mine):
            rows = job.eval_rows.sort_values("iteration")
            ax.plot(
                rows["iteration"],
                rows[metric],
                marker="o",
                ms=3,
                lw=1,
                color=colours[k % len(colours)],
                alpha=0.8,
                label=f"seed {job.seed}",
            )
        band = mean_band([j.eval_rows for j in mine], metric)
        if len(mine) > 1 and len(band):
            ax.plot(band["iteration"], band["mean"], color="black", lw=1.8, label="mean")
            ax.fill_between(
                band["iteration"],
                band["mean"] - band["std"],
                band["mean"] + band["std"],
                color="grey",
                alpha=0.25,
                lw=0,
            )
        paper = _reported(dataset, normal, method) if metric == "roc_auc" else None
        if paper is not None:
            budget = _paper_budget(mine[0].path)
            at = f" at {budget:,} it." if budget else ""
            ax.axhline(paper, color="tab:red", ls="--", lw=1, label=f"paper {paper:.3f}{at}")
        ax.set_title(
            f"{dataset_title(dataset)} {display_name(method)}: normal {normal}", fontsize=9
        )
        ax.set_ylabel(METRIC_NAMES[metric] + " (test)" if c == 0 else "")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        _traces(axes[1][c], axes[2][c], mine, colours, first=c == 0)
    for ax in axes[2]:
        ax.set_xlabel("iteration")
    head = title or f"Learning curves of {Path(results).resolve().name}"
    fig.suptitle(head + " (tables keep the final iteration)", fontsize=10)
    fig.tight_layout()
    where = Path(out) if out is not None else Path(results) / "figures"
    return save_figure(fig, where, name, formats)[0]


def _traces(
    ax_loss: Any, ax_gamma: Any, jobs: list[CurveJob], colours: list[str], first: bool
) -> None:
    """The loss terms (symlog) and the gammas (log) of log.csv, one line style per seed."""
    styles = ["-", "--", ":", "-."]
    for k, job in enumerate(jobs):
        log = job.log_rows
        if not len(log) or "iteration" not in log:
            continue
        ls = styles[k % len(styles)]
        for i, loss in enumerate(LOSS_NAMES):
            if loss in log:
                ax_loss.plot(
                    log["iteration"],
                    log[loss],
                    ls=ls,
                    lw=1,
                    color=colours[i % len(colours)],
                    label=loss if k == 0 else None,
                )
        for i, gamma in enumerate(("gamma_g", "gamma_e")):
            if gamma in log and (log[gamma] > 0).all():
                ax_gamma.plot(
                    log["iteration"],
                    log[gamma],
                    ls=ls,
                    lw=1,
                    color=colours[i],
                    label=gamma if k == 0 else None,
                )
    for ax, label, scale in ((ax_loss, "losses (log.csv)", "symlog"), (ax_gamma, "gammas", "log")):
        if ax.get_lines():
            ax.set_yscale(scale)
            ax.legend(fontsize=6, loc="best")
        ax.grid(alpha=0.3)
        if first:
            ax.set_ylabel(label)


def _class_key(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)


def curves_table(results: str | os.PathLike[str], metric: str = "roc_auc") -> pd.DataFrame:
    """The curves as one tidy table: dataset, method, normal, seed, iteration, the metrics,
    eval seconds and wall seconds (for the docs' numbers)."""
    check_metric(metric)
    frames = []
    for job in collect_curves(results):
        rows = job.eval_rows.copy()
        rows.insert(0, "seed", job.seed)
        rows.insert(0, "normal", job.normal)
        rows.insert(0, "method", job.method)
        rows.insert(0, "dataset", job.dataset)
        frames.append(rows)
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    table["iteration"] = table["iteration"].astype(int)
    return table.sort_values(["dataset", "method", "normal", "seed", "iteration"])


__all__ = [
    "FIGURE_NAME",
    "CurveJob",
    "collect_curves",
    "curves_table",
    "draw_curves",
    "eval_files",
    "has_eval_data",
    "mean_band",
]
