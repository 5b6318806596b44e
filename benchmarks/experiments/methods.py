"""The built-in methods (PIAD, OC-SVM, KDE) as estimator factories, registered by name.

Every estimator has one shape, so the runner never knows which method it runs::

    est = build_estimator(job, info, device="cpu", workdir=folder / "work")
    est.fit(train_images, holdout=None)      # holdout only when est.needs_holdout
    scores = est.score(test_images)          # numpy, higher = more anomalous
    est.info()                               # JSON-able config / provenance

The job's :class:`~benchmarks.experiments.method_spec.MethodSpec` selects the variant: PIAD
fidelity ``code``/``paper`` and optionally an ablation row of Table 3 (right) such as
``ablation-perc``; OC-SVM ``""`` (no test labels used) or ``"holdout"`` (Deep SVDD's gamma
chosen on a labelled 10% of the test set, which :func:`benchmarks.experiments.evaluate.evaluate`
removes from it); KDE ``""``. A plugin adds a method with one call,
:func:`benchmarks.registry.register_method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmarks.experiments.jobs import Job
from benchmarks.registry import METHODS, register_method
from piad.errors import PIADError


class Estimator(Protocol):
    """What the runner needs from a method."""

    @property
    def needs_holdout(self) -> bool: ...

    def fit(self, images: Any, holdout: Any = None) -> Any: ...

    def score(self, images: Any) -> np.ndarray: ...

    def info(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AblationRow:
    """One row of the ablation study (Table 3 right, sec. 4.2): PIAD's training distance, its
    weight policy and the row's name in the table. The score distance is the training distance
    ("MSE as reconstruction error during training and as anomaly score")."""

    reconstruction: str
    weights: str
    label: str


#: The five rows of the ablation study, as PIAD variants, in the paper's order.
ABLATIONS: dict[str, AblationRow] = {
    "ablation-mse-fixed": AblationRow("mse", "fixed", "baseline"),
    "ablation-mse-gradnorm": AblationRow("mse", "gradnorm", "+ gr-norm w"),
    "ablation-perc": AblationRow("perc", "gradnorm", "+ gr-norm w + perc"),  # eq. 2
    "ablation-perc_l1": AblationRow("perc_l1", "gradnorm", "+ gr-norm w + perc-L1"),
    "ablation-rel_perc_l1": AblationRow("rel_perc_l1", "gradnorm", "+ gr-norm w + rel-perc-L1"),
}


def piad_config(job: Job, family: str, device: str) -> Any:
    """The :class:`~piad.config.PIADConfig` of a PIAD job: preset + fidelity + ablation row +
    the job's overrides + budget + seed."""
    from piad.config import PIADConfig

    spec = job.spec
    changes: dict[str, Any] = job.overrides_dict
    if spec.variant:
        if spec.variant not in ABLATIONS:
            spec.check()  # one line listing the known variants
        row = ABLATIONS[spec.variant]
        changes.update(reconstruction=row.reconstruction, weights=row.weights)
        changes["score_distance"] = row.reconstruction
    if job.iters is not None:
        changes["iterations"] = int(job.iters)
    changes.update(seed=job.seed, device=device)
    return PIADConfig.preset(family, variant=spec.fidelity or "code").replace(**changes)


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
        tracking: Any = None,
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
        self.tracking = tracking  # benchmarks.experiments.jobs.Tracking, or None
        self.eval_data: tuple[Any, Any] | None = None  # set by evaluate.attach_eval_data

    def _tracking_kwargs(self) -> dict[str, Any]:
        """``eval_every``/``eval_data``/``tensorboard`` of PIAD.fit from the job's tracking."""
        t = self.tracking
        if t is None:
            return {}
        from piad.training.tracking import TB_DIR

        every = t.eval_every if self.eval_data is not None else None
        return {
            "eval_every": every,
            "eval_data": self.eval_data if every else None,
            "tensorboard": self.workdir / TB_DIR if t.tensorboard else None,
        }

    def fit(self, images: Any, holdout: Any = None) -> PIADEstimator:
        self.model.fit(
            images, workdir=self.workdir, progress=self.progress, **self._tracking_kwargs()
        )
        return self

    def fusion_key(self) -> Any:
        """Estimators with equal keys can train as one fused group (``--fuse``)."""
        from piad.training.fused import fusable_key

        return fusable_key(self.config)

    @staticmethod
    def fit_fused(estimators: list[PIADEstimator], images: list[Any]) -> list[Any]:
        """Fit ``estimators[k]`` on ``images[k]`` as one fused computation, each resuming
        from and checkpointing to its own workdir; one error (or ``None``) per estimator."""
        from piad.model import PIAD

        kwargs = [e._tracking_kwargs() for e in estimators]
        every = next((k["eval_every"] for k in kwargs if k.get("eval_every")), None)
        return PIAD.fit_fused(
            [e.model for e in estimators],
            images,
            workdirs=[e.workdir for e in estimators],
            progress=any(e.progress for e in estimators),
            eval_every=every,
            eval_data=[k.get("eval_data") for k in kwargs],
            tensorboard=[k.get("tensorboard") for k in kwargs],
        )

    def score(self, images: Any) -> np.ndarray:
        return np.asarray(self.model.score(images), dtype=np.float64)

    def info(self) -> dict[str, Any]:
        provenance = self.model.provenance()
        tracking = self.tracking.to_dict() if self.tracking is not None else None
        return {
            **({"tracking": tracking} if tracking and any(tracking.values()) else {}),
            "method": "piad",
            "config": self.config.to_dict(),
            "paper_iterations": self.paper_iterations,
            "budget": {
                "unit": "iterations",
                "run": provenance.get("iterations"),
                "paper": self.paper_iterations,
            },
            "provenance": provenance,
        }


def build_piad(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> PIADEstimator:
    config = piad_config(job, info.family, device)
    return PIADEstimator(config, workdir, progress, tracking=job.tracking)


def piad_fusion_key(job: Job, info: Any) -> Any:
    """The fused-group key of a PIAD job from its config alone (no networks are built)."""
    from piad.training.fused import fusable_key

    return fusable_key(piad_config(job, info.family, "cpu"))


def build_ocsvm(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> Estimator:
    from baselines import OCSVM
    from baselines.ocsvm import VARIANTS

    return OCSVM(**VARIANTS[job.spec.variant or "default"], seed=job.seed, n_jobs=threads)


def build_kde(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> Estimator:
    from baselines import KDE
    from baselines.kde import VARIANTS

    return KDE(**VARIANTS[job.spec.variant or "default"], seed=job.seed, n_jobs=threads)


def deep_svdd_budget(iters: int | None, family: str) -> tuple[int | None, int | None]:
    """(pre-training, training) epochs of a ``--iters`` budget (total epochs), split as the
    published schedule splits them; ``None``: the published budget.

    >>> deep_svdd_budget(None, "mnist"), deep_svdd_budget(30, "mnist")
    ((None, None), (15, 15))
    >>> deep_svdd_budget(10, "cifar10")  # 350 + 150 published
    (7, 3)
    """
    if iters is None:
        return None, None
    from baselines.deep_svdd.model import RECIPES

    recipe = RECIPES[family]
    pretrain = round(iters * recipe.pretrain_epochs / (recipe.pretrain_epochs + recipe.epochs))
    return pretrain, iters - pretrain


def build_deep_svdd(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> Estimator:
    """Deep SVDD (Ruff et al. 2018): the LeNet-type network of MNIST for one-channel data, of
    CIFAR-10 for colour; ``--iters`` is a budget in epochs (REDUCED BUDGET below 300 / 500)."""
    from baselines.deep_svdd import DeepSVDD

    family = "mnist" if info.channels == 1 else "cifar10"
    pretrain, epochs = deep_svdd_budget(job.iters, family)
    objective = "soft-boundary" if job.spec.variant == "soft" else "one-class"
    return DeepSVDD(
        objective=objective,
        family=family,
        seed=job.seed,
        device=device,
        epochs=epochs,
        pretrain_epochs=pretrain,
        workdir=workdir,
        progress=progress,
    )


DEEP_SVDD_TABLE = "deep_svdd_table1"  # results/reported/: the recipes these variants follow
register_method(
    "piad",
    build_piad,
    display="PIAD",
    variants={"": "PIAD", **{v: row.label for v, row in ABLATIONS.items()}},
    fidelity=True,
    reported={v: f"piad-{v}" for v in ABLATIONS},  # the ablation rows of Table 3
    trains=True,
    fusable=True,
    fusion_key=piad_fusion_key,
)
register_method(
    "ocsvm",
    build_ocsvm,
    display="OC-SVM",
    variants={
        "": "OC-SVM",
        "holdout": "",
        "deepsvdd": "OC-SVM Deep SVDD recipe (hold-out)",
        "deepsvdd-nogcn": "OC-SVM Deep SVDD recipe, no GCN (hold-out)",
    },
    reported={v: f"{DEEP_SVDD_TABLE}:ocsvm" for v in ("deepsvdd", "deepsvdd-nogcn")},
)
register_method(
    "kde",
    build_kde,
    display="KDE",
    variants={
        "": "KDE",
        "deepsvdd": "KDE Deep SVDD recipe",
        "deepsvdd-nogcn": "KDE Deep SVDD recipe, no GCN",
    },
    reported={v: f"{DEEP_SVDD_TABLE}:kde" for v in ("deepsvdd", "deepsvdd-nogcn")},
)
register_method(
    "deep-svdd",
    build_deep_svdd,
    display="Deep SVDD",
    variants={"": "Deep SVDD", "soft": "Deep SVDD soft-boundary"},
    reported_as="deep_svdd",  # PIAD's Table 2 quotes one-class Deep SVDD
    reported={"soft": f"{DEEP_SVDD_TABLE}:deep_svdd_soft"},
    trains=True,
)


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
    job.spec.check()  # unknown methods and variants: one line listing the known ones
    estimator = METHODS.get(job.method).build(job, info, device, Path(workdir), progress, threads)
    for attr in ("fit", "score", "info"):
        if not callable(getattr(estimator, attr, None)):
            raise PIADError(f"method {job.method!r} built an estimator without {attr}()")
    if hasattr(estimator, "tracking") and getattr(estimator, "tracking", None) is None:
        estimator.tracking = job.tracking  # --eval-every / --tensorboard (PIADEstimator kinds)
    return estimator


__all__ = [
    "ABLATIONS",
    "AblationRow",
    "Estimator",
    "PIADEstimator",
    "build_estimator",
    "piad_config",
]
