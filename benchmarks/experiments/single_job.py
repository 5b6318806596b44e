"""One job end to end: split -> estimator -> :func:`~benchmarks.experiments.evaluate.evaluate`
-> files; ``result.json`` last.

:func:`execute` writes, in the job's :class:`~benchmarks.experiments.jobs.JobFolder`, the split
manifest, the scores, a ROC curve and, last and atomically, ``result.json``: a job is done
exactly when its ``result.json`` says ``"status": "ok"``. :func:`run_job` is the contained form
used by every backend: the job's output goes to ``job.log`` and an exception becomes a failed
result.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.experiments.evaluate import Evaluation, checked_split, evaluate, load_split
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.methods import build_estimator
from benchmarks.experiments.results import Result, environment_info, failed_result, now_iso
from piad.errors import PIADError
from piad.io import atomic_save_npz, is_disk_full

log = logging.getLogger("benchmarks.runner")


def budget_of(info: dict[str, Any]) -> tuple[int | None, int | None, str | None]:
    """(trained, paper's, unit) of a method's training budget, from its ``info()["budget"]``."""
    budget = info.get("budget") or {}
    run, paper = budget.get("run"), budget.get("paper")
    return (
        int(run) if isinstance(run, int) else None,
        int(paper) if isinstance(paper, int) else None,
        budget.get("unit"),
    )


def write_outputs(job: Job, folder: JobFolder, evaluation: Evaluation) -> None:
    """``scores.npz`` of a finished evaluation (before ``result.json``); its ``roc.png`` is
    drawn by the report (:func:`benchmarks.reporting.render.draw_job_rocs`)."""
    atomic_save_npz(
        folder.scores,
        scores=evaluation.scores,
        labels=evaluation.labels,
        test_index=evaluation.test_index,
        holdout_index=evaluation.holdout_index,
    )


def ok_result(
    job: Job,
    evaluation: Evaluation,
    info: dict[str, Any],
    device: str,
    threads: int,
    started: str,
    seconds: float,
) -> Result:
    """The ``status="ok"`` result of a finished evaluation."""
    iters_run, iters_paper, unit = budget_of(info)
    return Result(
        job=job,
        status="ok",
        auc=evaluation.auc,
        aucs=evaluation.aucs,
        metrics=evaluation.metrics,
        group_metrics=evaluation.group_metrics,
        scores_file=JobFolder.SCORES,
        split_file=JobFolder.SPLIT,
        roc_file=JobFolder.ROC,
        log_file=JobFolder.LOG,
        split={**evaluation.split.meta, "n_holdout": len(evaluation.held)},
        method_info=info,
        environment=environment_info(device, threads),
        iters_run=iters_run,
        iters_paper=iters_paper,
        budget_unit=unit,
        device=device,
        wall_time_s=round(seconds, 3),
        started=started,
        finished=now_iso(),
    )


def prepare(job: Job, data_root: str | Path, out: str | Path) -> tuple[Any, Any, JobFolder]:
    """The job's dataset and split (its manifest saved or checked) and its folder."""
    folder = JobFolder.of(job, out)
    folder.path.mkdir(parents=True, exist_ok=True)
    dataset, split = load_split(job.dataset, job.protocol, job.normal, job.seed, data_root)
    checked_split(split, folder.split, job.slug)
    log.info("split: %s", split.meta)
    if folder.work.is_dir() and any(folder.work.iterdir()):
        log.info(
            "resuming: %s holds %s", folder.work, sorted(p.name for p in folder.work.iterdir())
        )
    return dataset, split, folder


def execute(
    job: Job,
    data_root: str | Path,
    out: str | Path,
    device: str = "cpu",
    *,
    progress: bool = False,
    threads: int = 1,
) -> Result:
    """Run one job end to end and write its files; ``result.json`` is written last.

    Raises on failure (the caller records it); see :func:`run_job` for the contained form.
    """
    started, t0 = now_iso(), time.perf_counter()
    dataset, split, folder = prepare(job, data_root, out)
    estimator = build_estimator(job, dataset.info, device, folder.work, progress, threads)
    evaluation = evaluate(estimator, dataset, split, seed=job.seed, what=job.slug)
    seconds = time.perf_counter() - t0
    return save_ok(job, folder, evaluation, estimator.info(), device, threads, started, seconds)


def save_ok(
    job: Job,
    folder: JobFolder,
    evaluation: Evaluation,
    info: dict[str, Any],
    device: str,
    threads: int,
    started: str,
    seconds: float,
) -> Result:
    """Write a finished job's scores, then its ``result.json`` (the done marker)."""
    write_outputs(job, folder, evaluation)
    result = ok_result(job, evaluation, info, device, threads, started, seconds)
    result.save(folder.path)  # the done marker, written last
    return result


def log_start(job: Job, device: str, started: str, stream: Any) -> None:
    """The first lines of a job's ``job.log``."""
    print(f"=== {job.slug} on {device}, started {started}", file=stream, flush=True)
    print(f"job: {job.to_dict()}", file=stream, flush=True)


def log_end(result: Result, stream: Any) -> None:
    """The last line of a job's ``job.log``: status, AUC or error, wall time."""
    what = f": {result.error}" if result.error else f", AUC {result.auc:.4f}"
    print(f"=== {result.status}{what}, {result.wall_time_s:.1f} s", file=stream, flush=True)


def record_failure(
    job: Job, out: str | Path, err: BaseException | str, device: str, threads: int, **fields: Any
) -> Result:
    """Save a ``status="failed"`` result for ``job`` (its error on one line) and return it."""
    result = failed_result(
        job,
        err,
        log_file=JobFolder.LOG,
        device=device,
        finished=now_iso(),
        environment=environment_info(device, threads),
        **fields,
    )
    result.save(JobFolder.of(job, out).path)
    return result


def run_job(
    job: Job,
    data_root: str | Path,
    out: str | Path,
    device: str = "cpu",
    *,
    progress: bool = False,
    threads: int = 1,
) -> Result:
    """:func:`execute` with its output in ``job.log`` and any exception recorded as failed."""
    folder = JobFolder.of(job, out)
    folder.path.mkdir(parents=True, exist_ok=True)
    started, t0 = now_iso(), time.perf_counter()
    with open(folder.log, "a", encoding="utf-8") as stream, job_logging(stream):
        log_start(job, device, started, stream)
        try:
            result = execute(job, data_root, out, device, progress=progress, threads=threads)
        except Exception as err:
            if is_disk_full(err):
                raise  # not this job's failure: the run stops (backends.run_task), nothing lost
            traceback.print_exc(file=stream)
            result = record_failure(
                job,
                out,
                err,
                device,
                threads,
                started=started,
                wall_time_s=round(time.perf_counter() - t0, 3),
            )
        log_end(result, stream)
    return result


@contextlib.contextmanager
def job_logging(stream: Any) -> Iterator[None]:
    """Send logging, warnings and prints of the job to its log file."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    loggers = [logging.getLogger(n) for n in ("piad", "baselines", "benchmarks", "py.warnings")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        logging.captureWarnings(False)
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)


def job_state(job: Job, out: str | Path) -> str:
    """``"done"`` (ok result of this very job), ``"failed"``, ``"changed"`` or ``"todo"``."""
    path = JobFolder.of(job, out).result
    if not path.exists():
        return "todo"
    try:
        result = Result.load(path)
        recorded = result.recorded_job
    except PIADError:
        return "todo"
    if not job.same_run(recorded):
        return "changed"  # e.g. another --iters: rerun (PIAD resumes from its checkpoints)
    return "done" if result.ok else "failed"


__all__ = [
    "execute",
    "job_logging",
    "job_state",
    "log_end",
    "log_start",
    "prepare",
    "record_failure",
    "run_job",
    "save_ok",
]
