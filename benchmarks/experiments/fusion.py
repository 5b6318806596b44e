"""Fused groups of jobs (``--fuse K|auto``): compatible PIAD jobs trained as one computation.

The runner's unit of work is a *task*: a tuple of jobs. A task of one job runs as always
(:func:`benchmarks.experiments.single_job.run_job`); a task of several is a fused group
(:func:`run_group`): their models train as one computation (:meth:`piad.PIAD.fit_fused`), and
every job still has its own folder, split manifest, resumable ``work/checkpoint.pt``,
``scores.npz``, ``job.log`` and ``result.json``. A group whose members are partly
done re-forms from the unfinished ones (done jobs are skipped before tasks are planned), a job
started solo finishes fused and vice versa (same checkpoint format), and a member that diverges
fails alone.

Jobs are compatible when their method is registered ``fusable=True`` and their estimators'
:meth:`fusion_key` agree (PIAD: the whole config but seed and bookkeeping, see
:func:`piad.training.fused.fusable_key`); normal classes, seeds and datasets of one family may
differ.

>>> parse_fuse("auto"), parse_fuse("4"), parse_fuse(None)
('auto', 4, None)
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.data.info import dataset_info
from benchmarks.experiments.evaluate import Member, evaluate_fused
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.methods import build_estimator
from benchmarks.experiments.results import Result, now_iso
from benchmarks.experiments.single_job import (
    job_logging,
    log_end,
    log_start,
    prepare,
    record_failure,
    save_ok,
)
from benchmarks.registry import METHODS, resolve
from piad.errors import PIADError
from piad.io import is_disk_full

Task = tuple[Job, ...]

#: ``--fuse`` on a CPU when not given: the group size that measured fastest there
#: (``benchmarks.perf.fused_speed``, README "Fused training"); 1 = every job alone.
CPU_DEFAULT_FUSE = 1
#: ``--fuse`` on CUDA when not given: as many members as the measured memory allows.
CUDA_DEFAULT_FUSE = "auto"
#: share of a device's free memory ``--fuse auto`` plans to fill (allocator fragmentation)
AUTO_MEMORY_SHARE = 0.85
#: the largest group ``--fuse auto`` forms (the grouped kernels gain little beyond this)
AUTO_MAX_GROUP = 64


def parse_fuse(value: str | int | None) -> int | str | None:
    """``--fuse``: ``None`` (the device's default), ``"auto"`` or a group size K >= 1."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise PIADError(f"--fuse {value!r}: give a group size K >= 1 or 'auto'") from None
    if k < 1:
        raise PIADError(f"--fuse {value!r}: give a group size K >= 1 or 'auto'")
    return k


def default_fuse(devices: Sequence[str]) -> int | str:
    """The ``--fuse`` a run gets when it gives none: ``auto`` on CUDA, the CPU's measured best."""
    return CUDA_DEFAULT_FUSE if any(d.startswith("cuda") for d in devices) else CPU_DEFAULT_FUSE


def fusion_key(job: Job) -> Hashable | None:
    """What must agree for ``job`` to train fused with others; ``None``: it always runs alone."""
    entry = METHODS.get(job.method)
    if not entry.fusable:
        return None
    if entry.fusion_key is not None:  # from the job alone
        return (job.method, resolve(entry.fusion_key)(job, dataset_info(job.dataset)))
    with tempfile.TemporaryDirectory() as tmp:  # the estimator is built, never fitted, here
        estimator = build_estimator(job, dataset_info(job.dataset), "cpu", Path(tmp))
    key = getattr(estimator, "fusion_key", None)
    return (job.method, key()) if callable(key) else None


def plan_tasks(
    jobs: Sequence[Job],
    fuse: int | str,
    devices: Sequence[str] = ("cpu",),
    jobs_per_device: int = 1,
    data_root: str | Path = "data",
) -> list[Task]:
    """Cut ``jobs`` into tasks: compatible jobs in groups of ``fuse`` (``"auto"``: measured per
    device), the others alone; tasks keep the jobs' order of first appearance."""
    if fuse == 1:
        return [(job,) for job in jobs]
    keyed: dict[Hashable, list[Job]] = {}
    order: list[tuple[str, Any]] = []
    for job in jobs:
        key = fusion_key(job)
        if key is None:
            order.append(("solo", job))
            continue
        if key not in keyed:
            keyed[key] = []
            order.append(("group", key))
        keyed[key].append(job)
    tasks: list[Task] = []
    for kind, item in order:
        if kind == "solo":
            tasks.append((item,))
            continue
        members = keyed[item]
        size = (
            fuse
            if isinstance(fuse, int)
            else auto_group_size(members, devices, jobs_per_device, data_root)
        )
        tasks.extend(tuple(members[i : i + size]) for i in range(0, len(members), size))
    return tasks


def auto_group_size(
    jobs: Sequence[Job],
    devices: Sequence[str],
    jobs_per_device: int,
    data_root: str | Path,
    probe: Callable[[Job, Any, int, str], tuple[int, int]] | None = None,
    free_memory: Callable[[str], int] | None = None,
) -> int:
    """``--fuse auto``: on CUDA, as many members as the device's free memory holds, from a
    measured probe (``probe``, default :func:`measure_member_memory`; ``free_memory``, default
    :func:`piad.training.runtime.free_memory_bytes`); on a CPU, :data:`CPU_DEFAULT_FUSE`."""
    cuda = [d for d in devices if d.startswith("cuda")]
    if not cuda:
        return min(len(jobs), CPU_DEFAULT_FUSE)
    from benchmarks.experiments.evaluate import load_split
    from piad.training.runtime import free_memory_bytes

    job = jobs[0]
    info = dataset_info(job.dataset)
    # the feature cache grows with the training set: probe with the group's largest
    n_train = max(len(load_split(j.dataset, j.protocol, j.normal, j.seed, data_root)[1].train)
                  for j in jobs)  # fmt: skip
    base, per_member = (probe or measure_member_memory)(job, info, n_train, cuda[0])
    free = (free_memory or free_memory_bytes)(cuda[0])
    return group_size_from_probe(base, per_member, free, jobs_per_device, len(jobs))


def group_size_from_probe(
    base: int,
    per_member: int,
    free: int,
    jobs_per_device: int,
    n_jobs: int,
    share: float = AUTO_MEMORY_SHARE,
    cap: int = AUTO_MAX_GROUP,
) -> int:
    """The group ``--fuse auto`` forms from a probe: ``base`` bytes shared by a group,
    ``per_member`` bytes per member, ``free`` bytes free on the device, split between
    ``jobs_per_device`` groups; at most ``n_jobs`` and ``cap`` members.

    >>> GiB = 1 << 30
    >>> group_size_from_probe(2 * GiB, 1 * GiB, 100 * GiB, 1, 60)   # (85 - 2) // 1
    60
    >>> group_size_from_probe(2 * GiB, 1 * GiB, 100 * GiB, 2, 60)   # (42.5 - 2) // 1
    40
    """
    budget = share * free / max(1, jobs_per_device)
    if base + per_member > budget:
        gib = 1 << 30
        raise PIADError(
            f"--fuse auto: one model needs {(base + per_member) / gib:.2f} GiB of device memory "
            f"(measured), but a slot has {budget / gib:.2f} GiB ({share:.0%} of "
            f"{free / gib:.2f} GiB free, {jobs_per_device} job(s) per device); use a smaller "
            "--jobs-per-device, free the device, or --fuse 1"
        )
    k = int((budget - base) // max(per_member, 1))
    return max(1, min(k, n_jobs, cap))


def measure_member_memory(job: Job, info: Any, n_train: int, device: str) -> tuple[int, int]:
    """(base bytes, bytes per member) of a fused group of ``job``'s config on ``device``,
    measured: peak device memory of groups of 1 and 2 members over ``n_weight + 1`` iterations
    (a weight-policy iteration included) with ``n_train`` random training images each."""
    import torch

    from piad.model import PIAD
    from piad.training.runtime import allocated_bytes, peak_memory_bytes, reset_peak_memory

    estimator: Any = build_estimator(job, info, device, Path(tempfile.gettempdir()))
    config = estimator.config.replace(iterations=estimator.config.n_weight + 1, device=device)
    shape = (n_train, config.in_channels, config.image_size, config.image_size)
    peaks = []
    for k in (1, 2):
        reset_peak_memory(device)
        before = allocated_bytes(device)
        models = [PIAD(config.replace(seed=i)) for i in range(k)]
        images = [torch.randint(0, 256, shape, dtype=torch.uint8) for _ in range(k)]
        PIAD.fit_fused(models, images, progress=False)
        peak = peak_memory_bytes(device)
        if peak is None:
            raise PIADError(f"--fuse auto measures device memory, which {device} does not track")
        peaks.append(peak - before)
        del models, images
    per_member = max(peaks[1] - peaks[0], 1)
    return max(peaks[0] - per_member, 0), per_member


class _Tee:
    """A text stream writing to several job logs at once (a group's shared output)."""

    def __init__(self, streams: Sequence[Any]) -> None:
        self.streams = list(streams)

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def run_group(
    jobs: Sequence[Job],
    data_root: str | Path,
    out: str | Path,
    device: str = "cpu",
    *,
    progress: bool = False,
    threads: int = 1,
) -> list[Result]:
    """Run two or more compatible jobs as one fused group; one :class:`Result` per job.

    Each job's log gets the group's shared output; each job's files are written as a solo
    run (:func:`~benchmarks.experiments.single_job.run_job`) writes them, through
    :func:`~benchmarks.experiments.evaluate.evaluate_fused`. A job that fails to prepare,
    diverges or fails to score is recorded as failed; the others go on. An error of the whole
    group (e.g. out of memory) fails each.
    """
    jobs = list(jobs)
    if len(jobs) < 2:
        raise PIADError(f"a fused group needs two jobs or more, got {len(jobs)}; use run_job")
    started, t0 = now_iso(), time.perf_counter()
    results: dict[Job, Result] = {}
    slugs = [j.slug for j in jobs]

    def fail(job: Job, err: BaseException | str) -> None:
        if isinstance(err, BaseException) and is_disk_full(err):
            raise err  # not the job's failure: the run stops (backends.run_task), nothing lost
        results[job] = record_failure(
            job, out, err, device, threads, started=started,
            wall_time_s=round(time.perf_counter() - t0, 3),
        )  # fmt: skip

    folders = [JobFolder.of(j, out) for j in jobs]
    for f in folders:
        f.path.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(open(f.log, "a", encoding="utf-8")) for f in folders]
        for job, stream in zip(jobs, streams):
            log_start(job, device, started, stream)
            print(f"fused group of {len(jobs)}: {', '.join(slugs)}", file=stream, flush=True)
        tee = _Tee(streams)
        with job_logging(tee):
            members: list[tuple[Job, JobFolder, Member]] = []
            for job, stream in zip(jobs, streams):
                try:
                    dataset, split, folder = prepare(job, data_root, out)
                    est = build_estimator(job, dataset.info, device, folder.work, progress, threads)
                    members.append((job, folder, Member(est, dataset, split, job.seed, job.slug)))
                except Exception as err:
                    traceback.print_exc(file=stream)
                    fail(job, err)
            if members:
                try:
                    evaluations = evaluate_fused([m for _, _, m in members])
                except Exception as group_err:  # the whole group (out of memory, a bug)
                    traceback.print_exc(file=tee)
                    evaluations = [group_err] * len(members)
                for (job, folder, member), evaluation in zip(members, evaluations):
                    stream = streams[jobs.index(job)]
                    try:
                        if isinstance(evaluation, Exception):
                            raise evaluation
                        fused = {"k": len(jobs), "group": slugs}
                        info = {**member.estimator.info(), "fused": fused}
                        seconds = evaluation.fit_seconds + evaluation.score_seconds
                        results[job] = save_ok(
                            job, folder, evaluation, info, device, threads, started, seconds
                        )
                    except Exception as err:
                        traceback.print_exc(file=stream)
                        fail(job, err)
        for job, stream in zip(jobs, streams):
            log_end(results[job], stream)
    return [results[j] for j in jobs]


def describe(tasks: Sequence[Task]) -> str:
    """One line: how many tasks are fused groups, and their sizes."""
    groups = [len(t) for t in tasks if len(t) > 1]
    if not groups:
        return "no fused groups"
    sizes = ", ".join(str(k) for k in groups[:8]) + (", ..." if len(groups) > 8 else "")
    models = sum(groups)
    plural = "s" if len(groups) > 1 else ""
    return f"{len(groups)} fused group{plural} of {sizes} models ({models} jobs fused)"


__all__ = [
    "AUTO_MAX_GROUP",
    "CPU_DEFAULT_FUSE",
    "CUDA_DEFAULT_FUSE",
    "Task",
    "auto_group_size",
    "default_fuse",
    "describe",
    "fusion_key",
    "measure_member_memory",
    "parse_fuse",
    "plan_tasks",
    "run_group",
]
