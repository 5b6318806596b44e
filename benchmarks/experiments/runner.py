"""Run a list of jobs: skip the done ones, run the rest on a backend, report each as it ends.

:func:`run_jobs` skips done jobs (``result.json`` with status ok), reruns failed ones, and lets
unfinished PIAD jobs resume from the checkpoints in their ``work/`` folder. One job end to end
is :mod:`benchmarks.experiments.execute`; where jobs run is :mod:`benchmarks.experiments.backends`.

Plugins: modules named in ``$PIAD_PLUGINS`` (comma-separated) are imported in the command
line and in every worker, so they can register extra datasets, methods or suites.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.experiments.backends import BACKENDS, default_threads, run_backend
from benchmarks.experiments.execute import job_state
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import Result
from piad.errors import PIADError


@dataclass
class RunSummary:
    """What :func:`run_jobs` did: results of the jobs it ran, and the jobs already done."""

    results: list[Result] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]


def run_jobs(
    jobs: Sequence[Job],
    data_root: str | Path = "data",
    out: str | Path = "results",
    devices: Sequence[str] = ("cpu",),
    jobs_per_device: int = 1,
    backend: str = "local",
    progress: bool = True,
    threads: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run every job not yet done; failed jobs are recorded and the others go on.

    ``devices`` are device names (see :func:`parse_devices`); each gets
    ``jobs_per_device`` slots. ``threads`` is the CPU threads of each job (default:
    :func:`default_threads`; Ray: 1).
    ``echo`` receives one line per finished job (default: stderr).
    """
    from tqdm.auto import tqdm

    if backend not in BACKENDS:
        raise PIADError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if jobs_per_device < 1:
        raise PIADError(f"--jobs-per-device must be >= 1, got {jobs_per_device}")
    out = Path(out).resolve()
    data_root = str(Path(data_root).resolve())
    jobs = list(dict.fromkeys(jobs))
    summary = RunSummary()
    todo: list[Job] = []
    for job in jobs:
        (summary.skipped if job_state(job, out) == "done" else todo).append(job)
    slots = [d for d in devices for _ in range(jobs_per_device)] or ["cpu"]
    if threads is not None and threads < 1:
        raise PIADError(f"--threads must be >= 1, got {threads}")
    if threads is None:
        threads = 1 if backend == "ray" else default_threads(len(slots))
    echo = echo or (lambda line: tqdm.write(line, file=sys.stderr))
    where = f"backend {backend}" + (f", slots {','.join(slots)}" if backend != "ray" else "")
    echo(
        f"{len(jobs)} jobs: {len(summary.skipped)} already done, {len(todo)} to run ({where}); "
        f"results in {out}"
    )
    if not todo:
        return summary
    bar = tqdm(total=len(todo), unit="job", desc="jobs", disable=not progress, file=sys.stderr)

    def on_done(result: Result) -> None:
        summary.results.append(result)
        bar.update(1)
        n_failed = len(summary.failed)
        if n_failed:
            bar.set_postfix(failed=n_failed)
        what = (
            f"AUC {result.auc:.4f}"
            if result.ok and result.auc is not None
            else f"FAILED: {result.error} (log: {JobFolder.of(result.job, out).log})"
        )
        echo(f"[{len(summary.results)}/{len(todo)}] {result.job.slug}: {what}")

    try:
        run_backend(
            backend, todo, data_root, out, list(devices), jobs_per_device, threads, progress,
            on_done,
        )  # fmt: skip
    finally:
        bar.close()
    return summary


__all__ = ["RunSummary", "run_jobs"]
