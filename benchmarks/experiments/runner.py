"""Run a list of jobs: skip the done ones, run the rest on a backend, report each as it ends.

:func:`run_jobs` skips done jobs (``result.json`` with status ok), reruns failed ones, and lets
unfinished PIAD jobs resume from the checkpoints in their ``work/`` folder. One job end to end
is :mod:`benchmarks.experiments.single_job`; where jobs run is
:mod:`benchmarks.experiments.backends`.

Plugins: modules named in ``$PIAD_PLUGINS`` (comma-separated) are imported in the command
line and in every worker, so they can register extra datasets, methods or suites.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.experiments.backends import NotRun, StopControl, run_backend, stop_signals
from benchmarks.experiments.fusion import default_fuse, describe, parse_fuse, plan_tasks
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.placement import default_threads, device_slots
from benchmarks.experiments.preflight import check_job_folders, check_out_folder, preflight
from benchmarks.experiments.results import Result
from benchmarks.experiments.single_job import job_state
from piad.errors import PIADError
from piad.training.checkpoint import signal_name


@dataclass
class RunSummary:
    """What :func:`run_jobs` did: results of the jobs it ran, and the jobs already done.

    ``results`` holds one entry per job it handed out: a :class:`Result`, or a
    :class:`~benchmarks.experiments.backends.NotRun` for a job interrupted by a stop signal,
    held by another runner, or stopped by a full disk. ``not_started`` are the jobs a stop
    left untouched; ``signum`` the stop signal, ``disk_full`` the full disk's one line.
    """

    results: list[Result] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    not_started: list[Job] = field(default_factory=list)
    signum: int | None = None
    disk_full: str | None = None

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def interrupted(self) -> list[Result]:
        return [r for r in self.results if r.status == "interrupted"]

    @property
    def held(self) -> list[Result]:
        """Jobs another live runner on the same ``--out`` holds (or finished meanwhile)."""
        return [r for r in self.results if r.status == "held"]

    @property
    def exit_code(self) -> int | None:
        """128 + the stop signal (130 SIGINT, 143 SIGTERM), 1 on a full disk, else ``None``."""
        if self.signum is not None:
            return 128 + self.signum
        return 1 if self.disk_full else None

    def stop_line(self) -> str:
        """The one line a stopped run ends with."""
        done = sum(1 for r in self.results if r.ok)
        counts = (
            f"{done} done, {len(self.interrupted)} interrupted (checkpoints kept), "
            f"{len(self.not_started)} not started"
        )
        if self.signum is not None:
            return (
                f"stopped by {signal_name(self.signum)}: {counts}; rerun the same command to "
                "resume (nothing was half-written)"
            )
        return f"error: {self.disk_full} ({counts})"


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
    fetch: bool = True,
    yes: bool = False,
    fuse: int | str | None = None,
) -> RunSummary:
    """Run every job not yet done; failed jobs are recorded and the others go on.

    ``devices`` are device names (see :func:`parse_devices`); each gets
    ``jobs_per_device`` slots. ``threads`` is the CPU threads of each job (default:
    :func:`default_threads`; Ray: 1).
    ``echo`` receives one line per finished job (default: stderr).
    Before any job starts, the datasets of the jobs to run are checked and, with ``fetch``,
    the missing ones downloaded (``yes`` confirms downloads of 20 GB and more); a dataset that
    is still missing stops everything with one line each (:mod:`.preflight`).
    ``fuse`` trains compatible PIAD jobs as fused groups of that size (``"auto"``: as many as
    the device's measured memory holds; ``None``: :func:`.fusion.default_fuse`).
    """
    from tqdm.auto import tqdm

    slots = device_slots(backend, devices, jobs_per_device)
    threads = _threads(threads, backend, slots)
    fuse = parse_fuse(fuse)
    out = check_out_folder(out).resolve()
    data_root = str(Path(data_root).resolve())
    jobs = list(dict.fromkeys(jobs))
    check_job_folders(jobs, out)  # a damaged result.json or checkpoint.pt: named, not rerun
    summary = RunSummary()
    todo: list[Job] = []
    for job in jobs:
        (summary.skipped if job_state(job, out) == "done" else todo).append(job)
    echo = echo or (lambda line: tqdm.write(line, file=sys.stderr))
    where = f"backend {backend}" + (f", slots {','.join(slots)}" if backend != "ray" else "")
    echo(
        f"{len(jobs)} jobs: {len(summary.skipped)} already done, {len(todo)} to run ({where}); "
        f"results in {out}"
    )
    if not todo:
        return summary
    fetched = preflight(
        (j.dataset for j in todo), data_root, fetch_missing=fetch, yes=yes, progress=progress
    )
    if fetched:
        echo(f"fetched into {data_root}: {', '.join(fetched)}")
    fuse_k = default_fuse(slots) if fuse is None else fuse
    tasks = plan_tasks(todo, fuse_k, slots, jobs_per_device, data_root)
    if len(tasks) < len(todo):
        echo(f"--fuse {fuse_k}: {describe(tasks)}")
    bar = tqdm(total=len(todo), unit="job", desc="jobs", disable=not progress, file=sys.stderr)
    control = StopControl()
    handed: set[Job] = set()

    def on_done(result: Result) -> None:
        summary.results.append(result)
        handed.add(result.job)
        bar.update(1)
        if summary.failed:
            bar.set_postfix(failed=len(summary.failed))
        text, disk_full = _job_line(result, out)
        if disk_full:
            control.stop_for(disk_full)
        echo(f"[{len(summary.results)}/{len(todo)}] {result.job.slug}: {text}")

    try:
        with stop_signals(control):
            run_backend(
                backend, tasks, data_root, out, slots, threads, progress, on_done, control,
                ray_devices=(list(devices), jobs_per_device),
            )  # fmt: skip
    finally:
        bar.close()
    return _finish(summary, control, [j for j in todo if j not in handed], out, echo)


def _threads(threads: int | None, backend: str, slots: Sequence[str]) -> int:
    """CPU threads per job: as given, else 1 on Ray, else the cores shared by the slots."""
    if threads is not None and threads < 1:
        raise PIADError(f"--threads must be >= 1, got {threads}")
    if threads is None:
        return 1 if backend == "ray" else default_threads(len(slots))
    return threads


_NOT_RUN_WORDS = {"held": "skipped", "interrupted": "interrupted", "disk-full": "stopped"}


def _job_line(result: Result, out: Path) -> tuple[str, str | None]:
    """What the run prints for a finished job, and the full disk's line when it found one."""
    if isinstance(result, NotRun):
        text = f"{_NOT_RUN_WORDS[result.status]}: {result.error}"
        return text, result.error if result.status == "disk-full" else None
    if result.ok and result.auc is not None:
        return f"AUC {result.auc:.4f}", None
    return f"FAILED: {result.error} (log: {JobFolder.of(result.job, out).log})", None


def _finish(
    summary: RunSummary,
    control: StopControl,
    not_handed: list[Job],
    out: Path,
    echo: Callable[[str], None],
) -> RunSummary:
    """The summary of a run that ended (or stopped): its stop, the jobs left, the held ones."""
    summary.signum = control.signum
    summary.disk_full = control.reason
    if control.stopping:
        summary.not_started = not_handed
    if summary.held:
        echo(
            f"{len(summary.held)} job(s) skipped: another runner on {out} holds them "
            "(their job.lock); they are done when it ends, or rerun this command then"
        )
    return summary


__all__ = ["RunSummary", "run_jobs"]
