"""Where jobs run: devices, CPU threads, and the backends (local worker processes, Ray, inline).

- ``local``: one worker process per device slot (``devices x jobs_per_device``), each pinned
  to its device; a job's exception or its worker's death is recorded as a failed result and
  the suite goes on.
- ``ray``: each job is a Ray task asking for ``1 / jobs_per_device`` GPU (or one CPU);
  connects to a running cluster (``ray.init(address="auto")``) or starts a local one. The
  output folder must be on a file system every node sees.
- ``inline``: sequentially in this process (debugging and tests; a crash is not contained).

The unit of work is a task (:data:`benchmarks.experiments.fusion.Task`): one job, or a fused
group of compatible PIAD jobs (``--fuse``), run by :func:`benchmarks.experiments.fusion.run_group`
(a single job goes to :func:`benchmarks.experiments.single_job.run_job`). A fused group is one
worker task and one Ray task; its crash is recorded for each of its jobs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.experiments import locks
from benchmarks.experiments.fusion import Task, run_group
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import Result
from benchmarks.experiments.single_job import job_state, record_failure, run_job
from benchmarks.registry import load_plugins, plugin_names
from piad.errors import PIADError
from piad.io import DiskFullError, disk_full, is_disk_full
from piad.training.checkpoint import (
    Interrupted,
    clear_stop,
    install_stop_handlers,
    signal_name,
    stop_armed,
)

# --------------------------------------------------------------------------- one task


@dataclass
class NotRun(Result):
    """A job this run did not finish, and not a failure; never saved as ``result.json``.

    ``status`` is ``"interrupted"`` (a stop signal; its checkpoint is kept and the same command
    resumes it), ``"held"`` (another live runner holds its lock, or finished it meanwhile) or
    ``"disk-full"`` (a write found no space; ``error`` names the disk and the folder).
    """

    def __post_init__(self) -> None:
        if self.status not in NOT_RUN:
            raise PIADError(f"not-run status must be one of {NOT_RUN}, got {self.status!r}")

    def save(self, folder: str | Path) -> Path:
        raise PIADError(f"{self.job.slug} did not run ({self.status}): it has no result to save")


NOT_RUN = ("interrupted", "held", "disk-full")


def _log_line(job: Job, out: Path, line: str) -> None:
    with contextlib.suppress(OSError), open(JobFolder.of(job, out).log, "a", encoding="utf-8") as f:
        print(line, file=f)


def run_task(
    task: Task, data_root: str, out: str | Path, device: str, progress: bool, threads: int
) -> list[Result]:
    """Run one task (a job or a fused group) here, holding each job's lock while it runs.

    Jobs another live runner holds, or that it finished meanwhile, are not run
    (:class:`NotRun` ``"held"``). A stop signal ends the task at the next iteration boundary
    (checkpoint written) as :class:`NotRun` ``"interrupted"``; a full disk as ``"disk-full"``.
    """
    out = Path(out)
    results: dict[Job, Result] = {}
    with contextlib.ExitStack() as stack:
        mine: list[Job] = []
        for job in task:
            folder = JobFolder.of(job, out)
            if stack.enter_context(locks.hold(folder.path)) is None:
                who = locks.holder(folder.path) or "another process"
                results[job] = NotRun(job, "held", error=f"held by another runner ({who})")
            elif job_state(job, out) == "done":
                results[job] = NotRun(job, "held", error="finished by another runner meanwhile")
            else:
                mine.append(job)
        if mine:
            try:
                with stop_armed():
                    if len(mine) == 1:  # a job alone
                        ran = [run_job(mine[0], data_root, out, device, progress=progress,
                                       threads=threads)]  # fmt: skip
                    else:  # a fused group
                        ran = run_group(
                            mine, data_root, out, device, progress=progress, threads=threads
                        )
                    for result in ran:
                        results[result.job] = result
            except Interrupted as stop:
                for job in mine:
                    if job not in results:
                        line = f"=== interrupted: {stop.describe()}; rerun the same command"
                        _log_line(job, out, line)
                        results[job] = NotRun(job, "interrupted", error=stop.describe())
            except (DiskFullError, OSError) as err:  # or ENOSPC from a plain write (job.log)
                if not is_disk_full(err):
                    raise
                line = str(err)
                if isinstance(err, OSError):
                    written = Path(err.filename) if err.filename else JobFolder.of(mine[0], out).log
                    line = str(disk_full(written, err))
                for job in mine:
                    if job not in results:
                        results[job] = NotRun(job, "disk-full", error=line)
    return [results[j] for j in task]


# --------------------------------------------------------------------------- stopping


class StopControl:
    """What the runner does with SIGTERM and SIGINT: record the first, pass each on.

    Backends register how to pass a signal to their workers (:meth:`on_signal`); the runner
    stops handing out tasks once :attr:`signum` is set. A second signal kills the workers.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.reason: str | None = None  # set when the run stops itself (a full disk)
        self._forward: list[Callable[[int, bool], None]] = []

    @property
    def stopping(self) -> bool:
        return self.signum is not None or self.reason is not None

    def forward_to(self, forward: Callable[[int, bool], None]) -> None:
        """``forward(signum, kill)`` is called on every signal (``kill``: the second one)."""
        self._forward.append(forward)

    def on_signal(self, signum: int) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        for forward in self._forward:
            with contextlib.suppress(Exception):
                forward(signum, self.count > 1)

    def stop_for(self, reason: str) -> None:
        """Stop the run from inside (a full disk): workers stop as on SIGTERM."""
        if self.reason is None:
            self.reason = reason
            for forward in self._forward:
                with contextlib.suppress(Exception):
                    forward(signal.SIGTERM, False)


@contextlib.contextmanager
def stop_signals(control: StopControl) -> Iterator[None]:
    """SIGTERM and SIGINT go to ``control`` while inside (main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    restore = install_stop_handlers(control.on_signal)
    try:
        yield
    finally:
        restore()
        clear_stop()


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies (a runner killed by SIGKILL
    leaves no worker training on): the worker checkpoints and ends."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent was already gone
            os.kill(os.getpid(), signal.SIGTERM)


# --------------------------------------------------------------------------- workers


_WORKER: dict[str, Any] = {"device": "cpu", "threads": 1}


def _init_worker(device: str, threads: int, plugins: list[str]) -> None:
    """Pin a worker process to its device and CPU share; runs once per worker."""
    install_stop_handlers()  # SIGTERM/SIGINT: checkpoint at the next iteration, then end
    _die_with_parent()
    _WORKER.update(device=device, threads=threads)
    load_plugins(plugins)
    set_threads(threads)
    import torch

    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))


def set_threads(threads: int) -> None:
    """Limit torch and the BLAS/OpenMP pools of this process to ``threads``."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    import torch

    torch.set_num_threads(threads)


def _worker_run(task: Task, data_root: str, out: str, progress: bool) -> list[Result]:
    try:
        return run_task(task, data_root, out, _WORKER["device"], progress, _WORKER["threads"])
    finally:
        _stop_joblib_workers()


def _stop_joblib_workers() -> None:
    """Stop the joblib (loky) processes a scikit-learn ``n_jobs`` left behind.

    They idle for 300 s before they exit, and a worker process waits for its children when
    it ends: without this, the suite's end waited five minutes after any KDE/OC-SVM job.
    """
    with contextlib.suppress(Exception):
        from joblib.externals.loky import reusable_executor

        executor = getattr(reusable_executor, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True)


@contextlib.contextmanager
def _spawn_safe_main() -> Iterator[None]:
    """Keep spawned workers from re-running the parent's main *script*.

    multiprocessing's "spawn" re-imports a script that was run by path in every worker; a
    script without an ``if __name__ == "__main__":`` guard would start the suite again there.
    Workers need nothing from it (jobs are run by this module), so its path is hidden while
    workers start. Modules run with ``-m`` are imported by name and are left alone.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _record_crash(task: Task, out: Path, device: str, err: BaseException) -> list[Result]:
    what = "the job" if len(task) == 1 else f"its fused group of {len(task)}"
    if isinstance(err, BrokenProcessPool):
        message = f"worker process died while running {what} (killed, out of memory or crashed)"
    else:
        message = f"worker process failed while running {what} ({type(err).__name__}: {err})"
    results = []
    for job in task:
        log = JobFolder.of(job, out).log
        with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as f:
            print(f"=== failed: {message}", file=f)
        results.append(record_failure(job, out, message, device, threads=0))
    return results


def _stopped_crash(task: Task, out: Path, control: StopControl, err: BaseException) -> list[Result]:
    """A worker that died while the run was stopping: its jobs are interrupted, not failed."""
    what = signal_name(control.signum) if control.signum else (control.reason or "a stop")
    message = f"interrupted by {what}: the worker ended before its next checkpoint"
    for job in task:
        _log_line(job, out, f"=== interrupted: {message} ({type(err).__name__})")
    return [NotRun(job, "interrupted", error=message) for job in task]


def _forward_to_workers(executors: list[ProcessPoolExecutor | None]) -> Callable[[int, bool], None]:
    def forward(signum: int, kill: bool) -> None:
        for executor in executors:
            processes = getattr(executor, "_processes", None) or {}
            for pid in list(processes):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL if kill else signum)

    return forward


def _run_local(
    todo: list[Task],
    data_root: str,
    out: Path,
    slots: list[str],
    threads: int,
    progress: bool,
    on_done: Callable[[Result], None],
    control: StopControl,
) -> None:
    ctx = multiprocessing.get_context("spawn")  # safe with CUDA and threads
    plugins = plugin_names()
    executors: list[ProcessPoolExecutor | None] = [None] * len(slots)
    control.forward_to(_forward_to_workers(executors))
    pending = deque(todo)
    running: dict[Future[list[Result]], tuple[int, Task]] = {}
    free = list(range(len(slots)))
    job_progress = progress and len(slots) == 1  # parallel bars would overwrite each other
    try:
        with _spawn_safe_main():
            while (pending and not control.stopping) or running:
                while pending and free and not control.stopping:
                    slot, task = free.pop(0), pending.popleft()
                    if executors[slot] is None:
                        executors[slot] = ProcessPoolExecutor(
                            max_workers=1,
                            mp_context=ctx,
                            initializer=_init_worker,
                            initargs=(slots[slot], threads, plugins),
                        )
                    executor = executors[slot]
                    assert executor is not None
                    future = executor.submit(_worker_run, task, data_root, str(out), job_progress)
                    running[future] = (slot, task)
                if not running:
                    continue
                done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    slot, task = running.pop(future)
                    try:
                        results = future.result()
                    except BrokenProcessPool as err:  # killed, out of memory, segfault...
                        if control.stopping:
                            results = _stopped_crash(task, out, control, err)
                        else:
                            results = _record_crash(task, out, slots[slot], err)
                        broken = executors[slot]
                        executors[slot] = None
                        if broken is not None:
                            broken.shutdown(wait=False, cancel_futures=True)
                    except Exception as err:  # e.g. a result that cannot be unpickled
                        results = _record_crash(task, out, slots[slot], err)
                    free.append(slot)
                    for result in results:
                        on_done(result)
    finally:
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def _ray_task(
    task: Task, data_root: str, out: str, use_gpu: bool, threads: int, plugins: list[str]
) -> list[Result]:
    with contextlib.suppress(ValueError):  # not the main thread: Ray's cancel still interrupts
        install_stop_handlers()  # ray.cancel's interrupt: checkpoint at the next iteration
    load_plugins(plugins)
    import torch

    torch.set_num_threads(threads)

    device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
    if device == "cuda":  # Ray sets CUDA_VISIBLE_DEVICES to the GPU it granted
        device = f"cuda:{torch.cuda.current_device()}"
    return run_task(task, data_root, out, device, False, threads)


#: how often Ray runs a task again whose worker or node was lost (the job resumes from its
#: checkpoint on the shared --out); a task that raised is never retried (it failed)
RAY_MAX_RETRIES = 3


def _run_ray(
    todo: list[Task],
    data_root: str,
    out: Path,
    devices: list[str],
    jobs_per_device: int,
    threads: int,
    on_done: Callable[[Result], None],
    control: StopControl,
) -> None:
    try:
        import ray
    except ImportError:
        raise PIADError("the Ray backend needs ray: pip install 'piad-suite[cluster]'") from None
    started_here = False
    if not ray.is_initialized():
        try:
            ray.init(address="auto", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError):  # no cluster: start a local one
            ray.init(include_dashboard=False, log_to_driver=False)
        started_here = True
    try:
        if devices:
            use_gpu = devices == ["cuda"]
        else:
            use_gpu = ray.cluster_resources().get("GPU", 0) > 0
        if use_gpu and ray.cluster_resources().get("GPU", 0) <= 0:
            raise PIADError("--devices cuda with --backend ray, but the Ray cluster has no GPU")
        options: dict[str, Any] = {
            "num_cpus": threads,
            "max_retries": RAY_MAX_RETRIES,
            "retry_exceptions": False,
        }
        if use_gpu:
            options["num_gpus"] = 1.0 / jobs_per_device
        remote = ray.remote(_ray_task).options(**options)
        plugins = plugin_names()
        refs = {
            remote.remote(task, data_root, str(out), use_gpu, threads, plugins): task
            for task in todo
        }

        def cancel(signum: int, kill: bool) -> None:
            for ref in list(refs):
                ray.cancel(ref, force=kill)

        control.forward_to(cancel)
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                task = refs.pop(ref)
                try:
                    results = ray.get(ref)
                except Exception as err:  # the task's worker died (RayTaskError, WorkerCrashed)
                    if control.stopping:
                        results = _stopped_crash(task, out, control, err)
                    else:
                        results = _record_crash(task, out, "ray", err)
                for result in results:
                    on_done(result)
    finally:
        if started_here:
            ray.shutdown()


def run_backend(
    backend: str,
    todo: list[Task],
    data_root: str,
    out: Path,
    slots: list[str],
    threads: int,
    progress: bool,
    on_done: Callable[[Result], None],
    control: StopControl | None = None,
    ray_devices: tuple[list[str], int] = ([], 1),
) -> None:
    """Run the tasks ``todo`` on ``backend``; ``on_done`` gets each job's result as it ends.

    ``slots`` come from :func:`.placement.device_slots` (which checked the backend's name);
    ``ray_devices`` is Ray's ``(devices, jobs_per_device)``, since Ray places tasks itself.
    ``control`` (the runner's :class:`StopControl`) passes stop signals on to the workers and
    stops handing out tasks; without one, signals keep their default effect.
    """
    control = control or StopControl()
    if backend == "inline":
        set_threads(threads)
        for task in todo:
            if control.stopping:
                break
            for result in run_task(task, data_root, out, slots[0], progress, threads):
                on_done(result)
    elif backend == "local":
        _run_local(todo, data_root, out, slots, threads, progress, on_done, control)
    else:
        devices, jobs_per_device = ray_devices
        _run_ray(todo, data_root, out, devices, jobs_per_device, threads, on_done, control)


__all__ = [
    "NOT_RUN",
    "NotRun",
    "StopControl",
    "run_backend",
    "run_task",
    "set_threads",
    "stop_signals",
]
