"""A plugin that adds a method and a suite to the runner, from outside the packages.

Run it from the repository root::

    PIAD_PLUGINS=my_method PYTHONPATH=examples/plugins python run_all.py --suite my_suite

The method, ``meandist``, scores an image by its distance to the mean training image, the
simplest detector that learns anything from the normal class. The suite ``my_suite`` runs it,
and KDE to compare with, on the offline MNIST subset ``mnist5k`` with digit 3 normal, seed 0.
The walkthrough is ``docs/plugins.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.info import DatasetInfo
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.suites import Cell, SuiteSpec
from benchmarks.registry import register_method, register_suite


def _pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(N, H, W, C)`` as float rows ``(N, H * W * C)`` in [0, 1]."""
    return np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0


class MeanImageDistance:
    """Anomaly score: the Euclidean distance of an image to the mean training image."""

    needs_holdout = False  # True: fit() also gets labelled test images as ``holdout``

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None

    def fit(self, images: np.ndarray, holdout: Any = None) -> MeanImageDistance:
        """Learn from the normal training images.

        Args:
            images: uint8 ``(N, H, W, C)``, normal images only.
            holdout: unused (``needs_holdout`` is False).

        Returns:
            The fitted estimator.
        """
        self.mean = _pixels(images).mean(axis=0)
        return self

    def score(self, images: np.ndarray) -> np.ndarray:
        """One score per image, higher = more anomalous.

        Args:
            images: uint8 ``(N, H, W, C)``, the test images.

        Returns:
            float ``(N,)``.
        """
        if self.mean is None:
            raise RuntimeError("call fit() before score()")
        return np.linalg.norm(_pixels(images) - self.mean, axis=1)

    def info(self) -> dict[str, Any]:
        """What ``result.json`` records about the fitted method (JSON-able)."""
        return {
            "method": "mean-image distance",
            "pixels": 0 if self.mean is None else self.mean.size,
        }


def build_meandist(
    job: Job,
    info: DatasetInfo,
    device: str,
    workdir: Path,
    progress: bool = False,
    threads: int = 1,
) -> MeanImageDistance:
    """The runner calls this once per job for a fresh estimator.

    Args:
        job: the job (``job.seed``, ``job.variant``, ``job.iters``, ...).
        info: the dataset's facts (``info.image_size``, ``info.channels``, ...).
        device: ``"cpu"`` or ``"cuda:K"``, the device the job runs on.
        workdir: the job's own folder for checkpoints and logs.
        progress: whether to show progress bars.
        threads: the CPU threads the job may use.

    Returns:
        An estimator with ``fit``, ``score`` and ``info``.
    """
    return MeanImageDistance()


register_method("meandist", build_meandist, display="Mean-image distance")
register_suite(
    SuiteSpec(
        name="my_suite",
        description="example plugin: mean-image distance and KDE on mnist5k, digit 3, seed 0",
        cells=(Cell("mnist5k", "one_vs_all", ("meandist", "kde"), classes=("3",)),),
        seeds=(0,),
    )
)
