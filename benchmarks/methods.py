"""Methods the runner can run: a registry from name to an estimator factory.

Every estimator has one shape, so the runner never knows which method it runs::

    est = build_estimator(job, info, device="cpu", workdir=folder / "work")
    est.fit(train_images, holdout=None)      # holdout only when est.needs_holdout
    scores = est.score(test_images)          # numpy, higher = more anomalous
    est.info()                               # JSON-able config / provenance

``Job.variant`` selects the variant: PIAD ``"code"``/``"paper"`` (fidelity) or an ablation
row of Table 3 (right) such as ``"ablation-perc"`` (``"paper-ablation-perc"`` with the paper's
fidelity); OC-SVM ``""`` (no test labels used) or ``"holdout"`` (Deep SVDD's gamma chosen on
a labelled 10% of the test set, removed from it by the runner); KDE ``""``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmarks.jobs import Job
from piad.errors import PIADError, lookup, unknown_name


class Estimator(Protocol):
    """What the runner needs from a method."""

    @property
    def needs_holdout(self) -> bool: ...

    def fit(self, images: Any, holdout: tuple[np.ndarray, np.ndarray] | None = None) -> Any: ...

    def score(self, images: Any) -> np.ndarray: ...

    def info(self) -> dict[str, Any]: ...


#: PIAD settings of each ablation row (Table 3 right, sec. 4.2); the score distance is the
#: training distance ("MSE as reconstruction error during training and as anomaly score").
ABLATION_SETTINGS: dict[str, dict[str, str]] = {
    "ablation-mse-fixed": {"reconstruction": "mse", "weights": "fixed"},
    "ablation-mse-gradnorm": {"reconstruction": "mse", "weights": "gradnorm"},
    "ablation-perc": {"reconstruction": "perc", "weights": "gradnorm"},
    "ablation-perc_l1": {"reconstruction": "perc_l1", "weights": "gradnorm"},
    "ablation-rel_perc_l1": {"reconstruction": "rel_perc_l1", "weights": "gradnorm"},
}


def piad_variant(variant: str) -> tuple[str, str | None]:
    """Split a PIAD ``Job.variant`` into (fidelity, ablation row or None).

    >>> piad_variant("paper"), piad_variant("ablation-perc"), piad_variant("paper-ablation-perc")
    (('paper', None), ('code', 'ablation-perc'), ('paper', 'ablation-perc'))
    """
    fidelity = "code"
    rest = variant or "code"
    for name in ("code", "paper"):
        if rest == name:
            return name, None
        if rest.startswith(name + "-"):
            fidelity, rest = name, rest[len(name) + 1 :]
            break
    if rest not in ABLATION_SETTINGS:
        known = ["code", "paper", *ABLATION_SETTINGS, *(f"paper-{a}" for a in ABLATION_SETTINGS)]
        raise unknown_name("PIAD variant", variant, known)
    return fidelity, rest


def piad_config(job: Job, family: str, device: str, overrides: dict[str, Any] | None = None):
    """The :class:`~piad.config.PIADConfig` of a PIAD job (preset + variant + budget + seed)."""
    from piad.config import PIADConfig

    fidelity, ablation = piad_variant(job.variant)
    changes: dict[str, Any] = dict(overrides or {})
    if ablation is not None:
        changes.update(ABLATION_SETTINGS[ablation])
        changes["score_distance"] = changes["reconstruction"]
    if job.iters is not None:
        changes["iterations"] = int(job.iters)
    changes.update(seed=job.seed, device=device)
    return PIADConfig.preset(family, variant=fidelity).replace(**changes)


class PIADEstimator:
    """PIAD behind the estimator shape; training resumes from ``workdir``'s checkpoints."""

    needs_holdout = False

    def __init__(
        self,
        config: Any,
        workdir: Path,
        progress: bool = False,
        paper_iterations: int | None = None,
        features: Any = None,
    ) -> None:
        from piad.config import FAMILIES, PIADConfig
        from piad.model import PIAD

        self.config = config
        self.workdir = Path(workdir)
        self.progress = progress
        if paper_iterations is None and config.family in FAMILIES:
            paper_iterations = PIADConfig.preset(config.family, config.variant).iterations
        self.paper_iterations = paper_iterations  # the budget a REDUCED BUDGET flag refers to
        self.model = PIAD(config, features=features)

    def fit(self, images: Any, holdout: Any = None) -> PIADEstimator:
        self.model.fit(images, workdir=self.workdir, progress=self.progress)
        return self

    def score(self, images: Any) -> np.ndarray:
        return np.asarray(self.model.score(images), dtype=np.float64)

    def info(self) -> dict[str, Any]:
        return {
            "method": "piad",
            "config": self.config.to_dict(),
            "paper_iterations": self.paper_iterations,
            "provenance": self.model.provenance(),
        }


def _suite_overrides(job: Job) -> dict[str, Any]:
    from benchmarks.suites import SUITES

    spec = SUITES.get(job.suite)
    return dict(spec.piad_overrides) if spec is not None else {}


def build_piad(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> PIADEstimator:
    config = piad_config(job, info.family, device, _suite_overrides(job))
    return PIADEstimator(config, workdir, progress)


def build_ocsvm(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> Estimator:
    from baselines import OCSVM

    if job.variant not in ("", "holdout"):
        raise unknown_name("OC-SVM variant", job.variant, ["", "holdout"])
    selection = "holdout" if job.variant == "holdout" else "none"
    return OCSVM(gamma_selection=selection, seed=job.seed, n_jobs=threads)


def build_kde(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> Estimator:
    from baselines import KDE

    if job.variant:
        raise unknown_name("KDE variant", job.variant, [""])
    return KDE(seed=job.seed, n_jobs=threads)


MethodFactory = Callable[..., Estimator]

#: name -> factory(job, info: DatasetInfo, device, workdir, progress, threads) -> Estimator
METHODS: dict[str, MethodFactory] = {
    "piad": build_piad,
    "ocsvm": build_ocsvm,
    "kde": build_kde,
}


def build_estimator(
    job: Job,
    info: Any,
    device: str,
    workdir: str | Path,
    progress: bool = False,
    threads: int = 1,
) -> Estimator:
    """The estimator of a job's method and variant, on ``device``, working in ``workdir``.

    ``threads`` is the CPU parallelism the job may use (scikit-learn ``n_jobs``).
    """
    factory = lookup(METHODS, "method", job.method)
    estimator = factory(job, info, device, Path(workdir), progress, threads)
    for attr in ("fit", "score", "info"):
        if not callable(getattr(estimator, attr, None)):
            raise PIADError(f"method {job.method!r} built an estimator without {attr}()")
    return estimator
