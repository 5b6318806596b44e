"""Run jobs: one job end to end (:func:`execute`), and a whole list on local slots or Ray.

:func:`execute` loads the dataset, builds the split (saved as ``split.npz``), trains the
method, scores the test set, computes the ROC AUC (per group for CelebA attributes) and
writes ``scores.npz``, ``roc.png`` and, last, ``result.json``: a job is done exactly when its
``result.json`` says ``"status": "ok"``. :func:`run_jobs` skips done jobs, reruns failed ones,
and resumes unfinished PIAD jobs from the checkpoints in their ``work/`` folder.

Backends:

- ``local``: one worker process per device slot (``devices x jobs_per_device``), each pinned
  to its device; a job's exception or its worker's death is recorded as a failed result and
  the suite goes on.
- ``ray``: each job is a Ray task asking for ``1 / jobs_per_device`` GPU (or one CPU);
  connects to a running cluster (``ray.init(address="auto")``) or starts a local one. The
  output folder must be on a file system every node sees.
- ``inline``: sequentially in this process (debugging and tests; a crash is not contained).

Plugins: modules named in ``$PIAD_PLUGINS`` (comma-separated) are imported in the command
line and in every worker, so they can register extra datasets, methods or suites.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.jobs import Job
from benchmarks.results import (
    RESULT_FILE,
    Result,
    environment_info,
    failed_result,
    now_iso,
)
from piad.errors import PIADError

SPLIT_FILE = "split.npz"
SCORES_FILE = "scores.npz"
ROC_FILE = "roc.png"
LOG_FILE = "job.log"
WORK_DIR = "work"
HOLDOUT_FRACTION = 0.1  # Deep SVDD's labelled hold-out for OC-SVM's gamma (10% of the test set)
BACKENDS = ("local", "ray", "inline")
PLUGINS_ENV = "PIAD_PLUGINS"

log = logging.getLogger("benchmarks.runner")


# --------------------------------------------------------------------------- plugins


def plugin_names() -> list[str]:
    """The module names in ``$PIAD_PLUGINS`` (comma-separated)."""
    return [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]


def load_plugins(names: Sequence[str] | None = None) -> list[str]:
    """Import the plugin modules (default: ``$PIAD_PLUGINS``); returns their names."""
    if names is None:
        names = plugin_names()
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise PIADError(
                f"plugin module {name!r} from ${PLUGINS_ENV} cannot be imported ({err}); "
                "fix the name or PYTHONPATH"
            ) from err
    return list(names)


# --------------------------------------------------------------------------- one job

_DATASET_CACHE: dict[tuple[Any, ...], Any] = {}


def _load_dataset(name: str, root: Path) -> Any:
    """``load_dataset`` with a one-entry cache per process (workers run many jobs).

    Loading (and any download) holds a lock file in the data root, so parallel workers
    never download the same files at once.
    """
    from benchmarks.datasets import DATASETS, load_dataset

    key = (name, str(root), DATASETS.get(name))
    if key not in _DATASET_CACHE:
        _DATASET_CACHE.clear()
        with _data_lock(root):
            _DATASET_CACHE[key] = load_dataset(name, root)
    return _DATASET_CACHE[key]


@contextlib.contextmanager
def _data_lock(root: Path) -> Iterator[None]:
    """An exclusive lock per data root, held in the temporary folder (never in the root)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"piad-data-{digest}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checked_split(job: Job, dataset: Any, folder: Path) -> Any:
    """The job's split; an existing manifest must equal the rebuilt one (resume safety)."""
    from benchmarks.protocols import check_protocol, make_split
    from benchmarks.splits import Split

    check_protocol(job.protocol, job.dataset)
    split = make_split(job.protocol, dataset, job.normal, job.seed)
    path = folder / SPLIT_FILE
    if path.exists():
        saved = Split.load(path)
        if not saved.same_as(split):
            raise PIADError(
                f"the split rebuilt for {job.slug} differs from its saved manifest {path} "
                f"(dataset fingerprint {saved.fingerprint[:12]} -> {split.fingerprint[:12]}); "
                f"the data changed: delete {folder} to run this job afresh"
            )
    else:
        split.save(path)
    return split


def _auc(labels: np.ndarray, scores: np.ndarray, what: str) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        raise PIADError(f"{what}: the test set needs normal and anomalous images for a ROC AUC")
    return float(roc_auc_score(labels, scores))


def _iters_run(info: dict[str, Any]) -> int | None:
    prov = info.get("provenance") or {}
    for key in ("iterations_run", "iteration", "iterations"):
        if isinstance(prov.get(key), int):
            return int(prov[key])
    config = info.get("config") or {}
    return int(config["iterations"]) if isinstance(config.get("iterations"), int) else None


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
    from baselines.base import holdout_split
    from benchmarks.methods import build_estimator
    from benchmarks.reports import plot_roc

    folder = job.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    started, t0 = now_iso(), time.perf_counter()
    dataset = _load_dataset(job.dataset, Path(data_root))
    split = _checked_split(job, dataset, folder)
    log.info("split: %s", split.meta)

    work = folder / WORK_DIR
    if work.is_dir() and any(work.iterdir()):
        log.info("resuming: %s holds %s", work, sorted(p.name for p in work.iterdir()))
    estimator = build_estimator(job, dataset.info, device, work, progress, threads)
    labels = split.test_labels
    evaluated = np.arange(len(split.test))
    held = np.zeros(0, dtype=np.int64)
    holdout = None
    if getattr(estimator, "needs_holdout", False):
        # the labelled hold-out is removed from the test set: its images are never scored
        held, evaluated = holdout_split(labels, HOLDOUT_FRACTION, seed=job.seed)
        holdout = (dataset.take(split.test[held]), labels[held])
    if holdout is None:
        estimator.fit(dataset.take(split.train))
    else:
        estimator.fit(dataset.take(split.train), holdout=holdout)
    scores = np.asarray(estimator.score(dataset.take(split.test[evaluated])), dtype=np.float64)
    if scores.shape != (len(evaluated),):
        raise PIADError(
            f"{job.method} returned scores of shape {scores.shape} for {len(evaluated)} images"
        )
    if not np.isfinite(scores).all():
        raise PIADError(f"{job.method} returned NaN/inf anomaly scores; see the job log")
    y = labels[evaluated]
    auc = _auc(y, scores, job.slug)
    aucs = {}
    for group in sorted(split.groups):  # CelebA: one AUC per anomaly attribute
        mask = split.group_mask(group)[evaluated]
        aucs[group] = _auc(y[mask], scores[mask], f"{job.slug} group {group}")

    from piad.io import atomic_save_npz

    atomic_save_npz(
        folder / SCORES_FILE,
        scores=scores,
        labels=y,
        test_index=split.test[evaluated],
        holdout_index=split.test[held],
    )
    curves = {g: split.group_mask(g)[evaluated] for g in sorted(split.groups)} or None
    plot_roc(y, scores, folder / ROC_FILE, title=f"{job.slug}  AUC {auc:.3f}", groups=curves)
    info = estimator.info()
    result = Result(
        job=job,
        status="ok",
        auc=auc,
        aucs=aucs,
        scores_file=SCORES_FILE,
        split_file=SPLIT_FILE,
        roc_file=ROC_FILE,
        log_file=LOG_FILE,
        split={**split.meta, "n_holdout": len(held)},
        method_info=info,
        environment=environment_info(device),
        iters_run=_iters_run(info) if "provenance" in info else None,  # PIAD-like methods
        iters_paper=info.get("paper_iterations"),
        device=device,
        wall_time_s=round(time.perf_counter() - t0, 3),
        started=started,
        finished=now_iso(),
    )
    result.save(folder)  # the done marker, written last
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
    folder = job.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    started, t0 = now_iso(), time.perf_counter()
    with open(folder / LOG_FILE, "a", encoding="utf-8") as stream, _job_logging(stream):
        print(f"=== {job.slug} on {device}, started {started}", file=stream, flush=True)
        print(f"job: {job.to_dict()}", file=stream, flush=True)
        try:
            result = execute(job, data_root, out, device, progress=progress, threads=threads)
        except Exception as err:
            traceback.print_exc(file=stream)
            result = failed_result(
                job,
                err,
                log_file=LOG_FILE,
                device=device,
                started=started,
                finished=now_iso(),
                wall_time_s=round(time.perf_counter() - t0, 3),
                environment=environment_info(device),
            )
            result.save(folder)
        print(
            f"=== {result.status}"
            + (f": {result.error}" if result.error else f", AUC {result.auc:.4f}")
            + f", {result.wall_time_s:.1f} s",
            file=stream,
            flush=True,
        )
    return result


@contextlib.contextmanager
def _job_logging(stream: Any) -> Iterator[None]:
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
    path = job.folder(out) / RESULT_FILE
    if not path.exists():
        return "todo"
    try:
        result = Result.load(path)
    except PIADError:
        return "todo"
    if result.job != job:
        return "changed"  # e.g. another --iters: rerun (PIAD resumes from its checkpoints)
    return "done" if result.ok else "failed"


# --------------------------------------------------------------------------- devices


def visible_devices() -> list[str]:
    """All visible CUDA devices (``cuda:0``...), or ``["cpu"]`` when there is none."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] or ["cpu"]


def parse_devices(spec: str | Sequence[str] | None, backend: str = "local") -> list[str]:
    """Device list from ``--devices`` (``"cuda:0,cuda:1"``, ``"cuda"`` = all GPUs, ``"cpu"``).

    ``None`` means every visible GPU, else the CPU. For the Ray backend the devices are
    the cluster's: only ``cpu`` or ``cuda`` (GPU tasks) can be asked for.
    """
    tokens = spec.split(",") if isinstance(spec, str) else list(spec or [])
    tokens = [t.strip().lower() for t in tokens if t.strip()]
    if backend == "ray":
        if not tokens:
            return []  # decided from the cluster's resources
        kinds = {"cuda" if t.startswith(("cuda", "gpu")) else t for t in tokens}
        if not kinds <= {"cpu", "cuda"} or len(kinds) > 1:
            raise PIADError(
                f"--devices {','.join(tokens)!r}: with --backend ray give 'cpu' or 'cuda' "
                "(Ray places GPU tasks on the cluster's GPUs)"
            )
        return sorted(kinds)
    if not tokens:
        return visible_devices()
    visible = None
    devices: list[str] = []
    for token in tokens:
        if token == "cpu":
            names = ["cpu"]
        elif token == "cuda" or token.startswith("cuda:"):
            if visible is None:
                visible = [d for d in visible_devices() if d != "cpu"]
            if token == "cuda":
                names = visible
            else:
                names = [token]
            if not names or any(n not in visible for n in names):
                shown = ", ".join(visible) if visible else "none"
                raise PIADError(
                    f"device {token!r} is not available (visible CUDA devices: {shown}); "
                    "use --devices cpu or one of the visible ones"
                )
        else:
            raise PIADError(
                f"unknown device {token!r}; use cpu, cuda (all GPUs) or cuda:N, "
                "comma-separated (e.g. cuda:0,cuda:1)"
            )
        devices.extend(n for n in names if n not in devices)
    return devices


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads(n_slots: int) -> int:
    """CPU threads per job: the idle cores (cores minus the 1-minute load) over the slots.

    OpenMP threads spin while they wait for a core, so on a busy machine more threads than
    idle cores is slower, not faster (measured: a PIAD MNIST iteration took 3x longer with
    2 threads than with 1 on a 2-core machine already running 4 other processes).
    """
    cores = _cpu_count()
    try:
        idle = cores - os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average (Windows)
        idle = cores
    return max(1, min(cores // max(1, n_slots), int(idle + 0.5) // max(1, n_slots)))


# --------------------------------------------------------------------------- many jobs


@dataclass
class RunSummary:
    """What :func:`run_jobs` did: results of the jobs it ran, and the jobs already done."""

    results: list[Result] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]


_WORKER: dict[str, Any] = {"device": "cpu", "threads": 1}


def _init_worker(device: str, threads: int, plugins: list[str]) -> None:
    """Pin a worker process to its device and CPU share; runs once per worker."""
    _WORKER.update(device=device, threads=threads)
    load_plugins(plugins)
    _set_threads(threads)
    import torch

    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))


def _set_threads(threads: int) -> None:
    """Limit torch and the BLAS/OpenMP pools of this process to ``threads``."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    import torch

    torch.set_num_threads(threads)


def _worker_run(job: Job, data_root: str, out: str, progress: bool) -> Result:
    return run_job(
        job,
        data_root,
        out,
        _WORKER["device"],
        progress=progress,
        threads=_WORKER["threads"],
    )


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


def _record_crash(job: Job, out: Path, device: str, err: BaseException) -> Result:
    folder = job.folder(out)
    if isinstance(err, BrokenProcessPool):
        message = "worker process died while running the job (killed, out of memory or crashed)"
    else:
        message = f"worker process failed while running the job ({type(err).__name__}: {err})"
    with contextlib.suppress(OSError), open(folder / LOG_FILE, "a", encoding="utf-8") as f:
        print(f"=== failed: {message}", file=f)
    result = failed_result(job, message, log_file=LOG_FILE, device=device, finished=now_iso())
    result.save(folder)
    return result


def _run_local(
    todo: list[Job],
    data_root: str,
    out: Path,
    slots: list[str],
    threads: int,
    progress: bool,
    on_done: Callable[[Result], None],
) -> None:
    ctx = multiprocessing.get_context("spawn")  # safe with CUDA and threads
    plugins = plugin_names()
    executors: list[ProcessPoolExecutor | None] = [None] * len(slots)
    pending = deque(todo)
    running: dict[Future[Result], tuple[int, Job]] = {}
    free = list(range(len(slots)))
    job_progress = progress and len(slots) == 1  # parallel bars would overwrite each other
    try:
        with _spawn_safe_main():
            while pending or running:
                while pending and free:
                    slot, job = free.pop(0), pending.popleft()
                    if executors[slot] is None:
                        executors[slot] = ProcessPoolExecutor(
                            max_workers=1,
                            mp_context=ctx,
                            initializer=_init_worker,
                            initargs=(slots[slot], threads, plugins),
                        )
                    executor = executors[slot]
                    assert executor is not None
                    future = executor.submit(_worker_run, job, data_root, str(out), job_progress)
                    running[future] = (slot, job)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    slot, job = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as err:  # killed, out of memory, segfault...
                        result = _record_crash(job, out, slots[slot], err)
                        broken = executors[slot]
                        executors[slot] = None
                        if broken is not None:
                            broken.shutdown(wait=False, cancel_futures=True)
                    except Exception as err:  # e.g. a result that cannot be unpickled
                        result = _record_crash(job, out, slots[slot], err)
                    free.append(slot)
                    on_done(result)
    finally:
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def _ray_task(
    job: Job, data_root: str, out: str, use_gpu: bool, threads: int, plugins: list[str]
) -> Result:
    load_plugins(plugins)
    import torch

    torch.set_num_threads(threads)

    device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
    if device == "cuda":  # Ray sets CUDA_VISIBLE_DEVICES to the GPU it granted
        device = f"cuda:{torch.cuda.current_device()}"
    return run_job(job, data_root, out, device, progress=False, threads=threads)


def _run_ray(
    todo: list[Job],
    data_root: str,
    out: Path,
    devices: list[str],
    jobs_per_device: int,
    threads: int,
    on_done: Callable[[Result], None],
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
        options: dict[str, Any] = {"num_cpus": threads, "max_retries": 0}
        if use_gpu:
            options["num_gpus"] = 1.0 / jobs_per_device
        task = ray.remote(_ray_task).options(**options)
        plugins = plugin_names()
        refs = {
            task.remote(job, data_root, str(out), use_gpu, threads, plugins): job for job in todo
        }
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as err:  # the task's worker died (RayTaskError, WorkerCrashed)
                    result = _record_crash(job, out, "ray", err)
                on_done(result)
    finally:
        if started_here:
            ray.shutdown()


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
            else f"FAILED: {result.error} (log: {result.job.folder(out) / LOG_FILE})"
        )
        echo(f"[{len(summary.results)}/{len(todo)}] {result.job.slug}: {what}")

    try:
        if backend == "inline":
            _set_threads(threads)
            for job in todo:
                on_done(run_job(job, data_root, out, slots[0], progress=progress, threads=threads))
        elif backend == "local":
            _run_local(todo, data_root, out, slots, threads, progress, on_done)
        else:
            _run_ray(todo, data_root, out, list(devices), jobs_per_device, threads, on_done)
    finally:
        bar.close()
    return summary
