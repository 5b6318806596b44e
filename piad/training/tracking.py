"""Watching a training run: test-set metrics every N iterations, and TensorBoard events.

A :class:`~piad.training.trainer.Trainer` (and every member of a fused group) calls its hooks
at four points: ``start`` (before the first iteration, after a resume), ``on_log`` (each
``log.csv`` row), ``after_step`` (after each iteration, before its checkpoint) and ``end``
(after the last iteration); ``close`` always runs.

- :class:`Evaluator` (``eval_every=N``) scores labelled test images every N iterations and at
  the end, and appends the iteration, every metric of :func:`piad.metrics.detection_metrics`,
  the number of images, the evaluation's seconds and the run's wall seconds to ``eval.csv``.
  It does not change training: it draws from no generator, scores under
  ``torch.inference_mode`` with the networks as they are (their train/eval modes untouched),
  reads no feature cache, and runs before the iteration's checkpoint, so a resumed run
  re-evaluates exactly the iterations it trains again (rows after the checkpoint are dropped).
- :class:`TensorBoardHook` (``tensorboard=DIR``) writes event files: every loss term and the
  gammas (each log row), the gradient statistics of Alg. 2-3 at each weight-policy update,
  the evaluation metrics, and the sample grid every ``sample_every``. ``tensorboard`` is an
  optional extra, imported only here and only when asked for (:func:`require_tensorboard`).

>>> model.fit(train, eval_every=250, eval_data=(test, labels), workdir="run")   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from piad.errors import PIADError
from piad.io import append_csv_row, atomic_write_text
from piad.metrics import METRICS, detection_metrics
from piad.networks import Networks

EVAL_NAME = "eval.csv"  # in the training workdir, beside log.csv
TB_DIR = "tb"  # the benchmarks' event-file folder inside a job's work/
EVAL_COLUMNS = ("iteration", *METRICS, "n_images", "eval_s", "wall_s")
TENSORBOARD_HINT = "pip install 'piad-suite[tensorboard]'"

Scorer = Callable[[Networks], np.ndarray]


class TrainingHook:
    """What a trainer calls while it trains; every method is a no-op here."""

    def start(self, trainer: Any) -> None:
        """Before the first iteration of this run (``trainer.iteration`` > 0 after a resume)."""

    def on_log(self, trainer: Any, row: dict[str, float]) -> None:
        """After each ``log.csv`` row (mean losses, gammas, seconds per iteration)."""

    def after_step(self, trainer: Any) -> None:
        """After each iteration, before its checkpoint."""

    def end(self, trainer: Any) -> None:
        """After the last iteration (also when a resumed run had nothing left to train)."""

    def close(self) -> None:
        """Always, last (files flushed)."""


def require_tensorboard() -> None:
    """Raise a one-line :class:`PIADError` naming the extra when tensorboard is missing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise PIADError(
            f"--tensorboard needs the tensorboard package: {TENSORBOARD_HINT}"
        ) from None


# ---------------------------------------------------------------------------------- eval.csv
def read_eval_csv(path: str | Path) -> list[dict[str, float]]:
    """The rows of an ``eval.csv`` as numbers (missing or empty cells: NaN)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        if not r.get("iteration"):
            continue
        out.append({k: float(v) if v not in ("", None) else math.nan for k, v in r.items()})
    return out


def _write_rows(path: Path, rows: Sequence[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EVAL_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(_csv_row(r) for r in rows)
    atomic_write_text(path, buf.getvalue())


def _csv_row(row: dict[str, float]) -> dict[str, Any]:
    return {k: int(v) if k in ("iteration", "n_images") else repr(float(v)) for k, v in row.items()}


class Evaluator(TrainingHook):
    """Scores ``labels``' images with ``scorer`` every ``every`` iterations and at the end.

    ``scorer(networks)`` returns one anomaly score per evaluation image (the model's own
    scoring, e.g. :meth:`piad.PIAD.score` on fixed images). Rows go to ``workdir/eval.csv``
    when a workdir is given, always to :attr:`rows`, and to ``on_row`` (TensorBoard).
    """

    def __init__(
        self,
        every: int,
        scorer: Scorer,
        labels: Any,
        workdir: str | Path | None = None,
        *,
        what: str = "",
        on_row: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        if int(every) < 1:
            raise PIADError(f"eval_every must be >= 1 iterations, got {every}")
        self.every = int(every)
        self.scorer = scorer
        self.labels = np.asarray(labels).reshape(-1)
        counts = np.unique(self.labels)
        if not set(counts.tolist()) <= {0, 1} or len(counts) < 2:
            raise PIADError(
                f"{what + ': ' if what else ''}the evaluation images need labels 0 (normal) "
                "and 1 (anomaly), both present"
            )
        self.path = Path(workdir) / EVAL_NAME if workdir is not None else None
        self.what = what
        self.on_row = on_row
        self.rows: list[dict[str, float]] = []
        self._t0 = time.perf_counter()
        self._offset = 0.0

    def start(self, trainer: Any) -> None:
        self._t0 = time.perf_counter()
        if self.path is None:
            return
        saved = read_eval_csv(self.path)
        keep = [r for r in saved if r["iteration"] <= trainer.iteration]
        if len(keep) != len(saved):  # a killed run's tail: evaluated again as it trains again
            _write_rows(self.path, keep)
        self.rows = keep
        self._offset = keep[-1].get("wall_s", 0.0) if keep else 0.0

    def after_step(self, trainer: Any) -> None:
        if trainer.iteration % self.every == 0:
            self.evaluate(trainer)

    def end(self, trainer: Any) -> None:
        if not self.rows or int(self.rows[-1]["iteration"]) != trainer.iteration:
            self.evaluate(trainer)

    def evaluate(self, trainer: Any) -> dict[str, float]:
        """Score now, append the row; raises on NaN losses first (the trainer's own guard)."""
        trainer.check_finite()
        t0 = time.perf_counter()
        with torch.inference_mode():
            scores = np.asarray(self.scorer(trainer.networks), dtype=np.float64)
        what = f"{self.what} iteration {trainer.iteration}".strip()
        row: dict[str, float] = {"iteration": trainer.iteration}
        row.update(detection_metrics(self.labels, scores, what))
        now = time.perf_counter()
        row.update(
            n_images=len(self.labels),
            eval_s=round(now - t0, 3),
            wall_s=round(self._offset + now - self._t0, 3),
        )
        self.rows.append(row)
        if self.path is not None:
            self._append(row)
        if self.on_row is not None:
            self.on_row(row)
        return row

    def _append(self, row: dict[str, float]) -> None:
        assert self.path is not None
        append_csv_row(self.path, EVAL_COLUMNS, _csv_row(row))  # one write, never a half row


# ---------------------------------------------------------------------------------- TensorBoard
def policy_statistics(policy: Any) -> dict[str, float]:
    """Alg. 2-3's numbers of one weight policy now: gamma and the medians over layers of the
    last recorded gradient statistic of each loss and of their smoothed ratio (Alg. 3's input).
    Fixed weights have only gamma."""
    out = {"gamma": float(policy.gamma)}
    values = getattr(policy, "_values", None)
    if isinstance(values, dict):
        for loss in ("adv", "rec"):
            if values.get(loss):
                out[f"grad_{loss}"] = float(np.median(values[loss][-1]))
    ratios = policy.ratios() if callable(getattr(policy, "ratios", None)) else None
    if ratios is not None and ratios.size:
        last = ratios[-1][np.isfinite(ratios[-1])]
        if last.size:
            out["ratio"] = float(np.median(last))
    return out


class TensorBoardHook(TrainingHook):
    """Event files in ``log_dir``: losses, gammas, Alg. 2-3 statistics, metrics, samples.

    Tags: ``loss/<name>`` and ``gamma/G``, ``gamma/E`` at each log row;
    ``time/seconds_per_iteration``; ``weights/<G|E>/<gamma|grad_adv|grad_rec|ratio>`` at each
    weight-policy update; ``eval/<metric>`` per evaluation; image ``samples`` every
    ``sample_every`` (rows: G(z), x, G(E(x))). A resumed run purges the steps after its
    checkpoint, so each step appears once.
    """

    def __init__(self, log_dir: str | Path) -> None:
        require_tensorboard()
        self.log_dir = Path(log_dir)
        self.writer: Any = None

    def _open(self, purge_step: int | None) -> Any:
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir), purge_step=purge_step)
        return self.writer

    def start(self, trainer: Any) -> None:
        self._open(trainer.iteration + 1 if trainer.iteration > 0 else None)

    def on_log(self, trainer: Any, row: dict[str, float]) -> None:
        w, step = self._open(None), int(row["iteration"])
        from piad.training.checkpoint import LOSS_NAMES

        for name in LOSS_NAMES:
            w.add_scalar(f"loss/{name}", row[name], step)
        w.add_scalar("gamma/G", row["gamma_g"], step)
        w.add_scalar("gamma/E", row["gamma_e"], step)
        w.add_scalar("time/seconds_per_iteration", row["seconds_per_iteration"], step)

    def after_step(self, trainer: Any) -> None:
        t, c = trainer.iteration, trainer.config
        w = self._open(None)
        for net, policy in trainer.policies.items():
            if policy.due(t):
                for key, value in policy_statistics(policy).items():
                    w.add_scalar(f"weights/{net}/{key}", value, t)
        if t % c.sample_every == 0:
            from piad.grids import grid_image

            images = trainer.sample_grid()  # rows of n: G(z), x, G(E(x))
            w.add_image("samples", grid_image(images, nrow=images.shape[0] // 3), t)

    def add_eval(self, row: dict[str, float]) -> None:
        """One evaluation row as ``eval/<metric>`` scalars (Evaluator's ``on_row``)."""
        w = self._open(None)
        for name in METRICS:
            w.add_scalar(f"eval/{name}", row[name], int(row["iteration"]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None


def make_hooks(
    *,
    scorer: Scorer | None = None,
    eval_every: int | None = None,
    eval_labels: Any = None,
    workdir: str | Path | None = None,
    tensorboard: str | Path | None = None,
    what: str = "",
) -> list[TrainingHook]:
    """The hooks of one training run: TensorBoard first (so it sees the evaluator's rows)."""
    hooks: list[TrainingHook] = []
    tb = TensorBoardHook(tensorboard) if tensorboard is not None else None
    if tb is not None:
        hooks.append(tb)
    if eval_every:
        if scorer is None or eval_labels is None:
            raise PIADError("eval_every needs eval_data=(images, labels) to score")
        on_row = tb.add_eval if tb is not None else None
        hooks.append(Evaluator(eval_every, scorer, eval_labels, workdir, what=what, on_row=on_row))
    return hooks


__all__ = [
    "EVAL_COLUMNS",
    "EVAL_NAME",
    "TB_DIR",
    "TENSORBOARD_HINT",
    "Evaluator",
    "TensorBoardHook",
    "TrainingHook",
    "make_hooks",
    "policy_statistics",
    "read_eval_csv",
    "require_tensorboard",
]
