"""The unit of work of a suite, a :class:`Job`, and its folder, a :class:`JobFolder`.

A job is one run of one method on one split: (suite, dataset, protocol, normal class, method,
variant, seed, budget, PIAD overrides). It carries everything that defines the run, so nothing
downstream looks its suite back up. Its folder holds every file of the run; only
:class:`JobFolder` knows their names.

>>> job = Job("table2", "mnist", "one_vs_all", "3", "piad", "code", 0)
>>> job.slug, JobFolder.of(job, "results").split.as_posix()
('mnist/piad-code/3/seed0', 'results/mnist/piad-code/3/seed0/split.npz')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.experiments.method_spec import MethodSpec


def path_safe(text: str) -> str:
    """A path-safe form of a name (class names such as 'T-shirt/top')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "_"


def job_slug(dataset: str, method_label: str, normal: str, seed: int) -> str:
    """A job's folder below ``--out`` and its name in logs and tables:
    ``dataset/method[-variant]/normal/seed<k>``, each part path-safe.

    >>> job_slug("fmnist", "ocsvm-holdout", "T-shirt/top", 2)
    'fmnist/ocsvm-holdout/T-shirt_top/seed2'
    """
    parts = (dataset, method_label, normal)
    return "/".join(path_safe(p) for p in parts) + f"/seed{seed}"


def freeze_overrides(overrides: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """A mapping of config overrides as a sorted tuple of pairs (hashable, comparable)."""
    return tuple(sorted((overrides or {}).items()))


@dataclass(frozen=True)
class Tracking:
    """How a job is watched while it trains (``--eval-every``, ``--eval-subset``,
    ``--tensorboard``); it never changes what the job computes, so it is no part of the job's
    identity, folder or recorded job."""

    eval_every: int | None = None  # score the test split every N iterations (work/eval.csv)
    eval_subset: int | None = None  # ... on a fixed, seeded, class-stratified subset of K
    tensorboard: bool = False  # event files under work/tb/

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, order=True)
class Job:
    """One run of one method on one split.

    ``normal`` is the normal class name (or ``"normal"`` for protocols whose normal set is
    fixed, such as CelebA attributes and LSUN bedrooms). ``iters`` overrides the method's
    training budget (``None`` = the paper's); ``overrides`` are the method's configuration
    changes the suite asks for (PIAD: e.g. ``perceptual_weights``); both are recorded in
    every result. ``tracking`` (:class:`Tracking`) travels with the job to its worker but is
    neither compared nor recorded in the job's record.
    """

    suite: str
    dataset: str
    protocol: str
    normal: str
    method: str
    variant: str = ""
    seed: int = 0
    iters: int | None = None
    overrides: tuple[tuple[str, Any], ...] = field(default=())
    tracking: Tracking = field(default=Tracking(), compare=False, repr=False)

    @property
    def spec(self) -> MethodSpec:
        """The method, its variant and fidelity, decoded from ``method`` and ``variant``."""
        return MethodSpec.from_job(self.method, self.variant)

    @property
    def method_label(self) -> str:
        return f"{self.method}-{self.variant}" if self.variant else self.method

    @property
    def overrides_dict(self) -> dict[str, Any]:
        return dict(self.overrides)

    @property
    def slug(self) -> str:
        return job_slug(self.dataset, self.method_label, self.normal, self.seed)

    def folder(self, out: str | Path) -> Path:
        """``<out>/<dataset>/<method>[-<variant>]/<normal>/seed<k>/``."""
        return Path(out) / self.slug

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tracking")
        d["overrides"] = self.overrides_dict
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        values = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        values["overrides"] = freeze_overrides(values.get("overrides"))
        return cls(**values)

    def same_run(self, recorded: Mapping[str, Any]) -> bool:
        """Whether a ``result.json`` job record describes this job.

        Records written before jobs carried their overrides have no ``overrides`` key; they
        match on every other field.
        """
        other = Job.from_dict(recorded)
        if "overrides" not in recorded:
            other = Job(**{**other.to_dict(), "overrides": self.overrides})
        return other == self


@dataclass(frozen=True)
class JobFolder:
    """The folder of one job and the name of every file in it."""

    path: Path

    RESULT = "result.json"  # written last, atomically: the job is done when it says "ok"
    SPLIT = "split.npz"
    SCORES = "scores.npz"
    ROC = "roc.png"
    LOG = "job.log"
    WORK = "work"  # the method's working folder (PIAD: checkpoint.pt, log.csv, samples/,
    # eval.csv with --eval-every, tb/ with --tensorboard)

    @classmethod
    def of(cls, job: Job, out: str | Path) -> JobFolder:
        return cls(job.folder(out))

    @property
    def result(self) -> Path:
        return self.path / self.RESULT

    @property
    def split(self) -> Path:
        return self.path / self.SPLIT

    @property
    def scores(self) -> Path:
        return self.path / self.SCORES

    @property
    def roc(self) -> Path:
        return self.path / self.ROC

    @property
    def log(self) -> Path:
        return self.path / self.LOG

    @property
    def work(self) -> Path:
        return self.path / self.WORK


__all__ = ["Job", "JobFolder", "Tracking", "freeze_overrides", "job_slug", "path_safe"]
