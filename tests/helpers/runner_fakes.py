"""A plugin for the runner's tests: a tiny striped-image dataset, a tiny PIAD, failing methods.

Tests call :func:`register` with ``monkeypatch.setitem`` (undone after each test); the runner's
worker processes and command-line subprocesses get the fakes through the plugin module
``runner_plugin`` (``PIAD_PLUGINS=runner_plugin``, this folder on ``PYTHONPATH``).
Registers:

- dataset ``toy`` (classes ``h``, ``v``, ``c``: horizontal stripes, vertical stripes,
  checkerboards; 16x16 grey; 40 train + 12 test images per class; official train/test
  partition) under protocol ``one_vs_all``, and protocol ``toy_groups`` (``h`` normal, the
  anomalies scored per group ``v`` and ``c``, like CelebA's attributes);
- methods ``tinypiad`` (the real PIAD with a tiny network and the MSE distance),
  ``crash`` (raises), ``die`` (kills its own process) and ``slow`` (KDE after a pause);
- suites ``toy`` (tinypiad + OC-SVM + KDE, 2 seeds), ``toyfail`` (KDE, crash, die, 1 seed)
  and ``toyslow`` (slow KDE, 3 classes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import datasets, methods, protocols, suites
from benchmarks.datasets import DatasetInfo, ImageSet
from benchmarks.jobs import Job
from benchmarks.splits import Split

TOY_CLASSES = ("h", "v", "c")
TOY_INFO = DatasetInfo(
    name="toy",
    family="custom",
    image_size=16,
    channels=1,
    classes=TOY_CLASSES,
    protocol="one_vs_all",
    source="built by tests/runner_fakes.py",
)
N_TRAIN, N_TEST = 40, 12


def toy_images(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stripes and checkerboards with pixel noise: (images, labels, partition)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16]
    images, labels, partition = [], [], []
    for label in range(3):
        for i in range(N_TRAIN + N_TEST):
            if label == 0:
                pattern = (yy // 2) % 2
            elif label == 1:
                pattern = (xx // 2) % 2
            else:
                pattern = (yy // 2 + xx // 2) % 2
            noisy = pattern * 180 + 40 + rng.normal(0, 12, size=(16, 16))
            images.append(np.clip(noisy, 0, 255).astype(np.uint8)[..., None])
            labels.append(label)
            partition.append("train" if i < N_TRAIN else "test")
    return np.stack(images), np.array(labels), np.array(partition)


def load_toy(root: Path, download: bool = True) -> ImageSet:
    images, labels, partition = toy_images()
    return ImageSet(TOY_INFO, images, labels, partition)


class TinyPIAD(methods.PIADEstimator):
    """The real PIAD at toy size: 16 px, 8 channels, MSE distance, checkpoints every 20 it."""


def build_tinypiad(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> methods.PIADEstimator:
    from piad.config import PIADConfig

    config = PIADConfig(
        family="custom",
        image_size=16,
        in_channels=1,
        latent_dim=8,
        gen_channels=(8, 8, 8),
        enc_channels=(8, 8, 8),
        dx_channels=(8, 8, 8),
        dz_hidden=(16, 16),
        batch_size=16,
        iterations=job.iters or 60,
        reconstruction="mse",
        checkpoint_every=20,
        log_every=20,
        sample_every=10_000,
        seed=job.seed,
        device=device,
    )
    return TinyPIAD(config, workdir, progress, paper_iterations=60)


class Crash:
    needs_holdout = False

    def fit(self, images: Any, holdout: Any = None) -> Crash:
        raise ValueError("deliberate failure in fit\nsecond line")

    def score(self, images: Any) -> np.ndarray:  # pragma: no cover - never reached
        return np.zeros(len(images))

    def info(self) -> dict[str, Any]:  # pragma: no cover
        return {}


class Die(Crash):
    def fit(self, images: Any, holdout: Any = None) -> Die:
        os._exit(3)  # the worker process dies without a Python exception


def build_slow(job: Job, info: Any, device: str, workdir: Path, progress=False, threads=1):
    from baselines import KDE

    time.sleep(float(os.environ.get("TOY_SLOW_SECONDS", "1.5")))
    return KDE(seed=job.seed)


def toy_groups(ds: ImageSet, normal: str, seed: int) -> Split:
    """Like CelebA attributes: class ``h`` normal, ``v`` and ``c`` scored as separate groups."""
    train = np.flatnonzero((ds.partition == "train") & (ds.labels == 0))
    test = np.flatnonzero(ds.partition == "test")
    labels = (ds.labels[test] != 0).astype(np.int64)
    groups = {name: np.flatnonzero(ds.labels[test] == k) for k, name in ((1, "v"), (2, "c"))}
    return Split("toy", "toy_groups", normal, seed, ds.fingerprint, train, test, labels, groups)


def _setitem(mapping: dict, key: str, value: Any) -> None:
    mapping[key] = value


def register(setitem: Callable[[dict, str, Any], None] = _setitem) -> None:
    """Add the fakes to the registries (tests pass ``monkeypatch.setitem`` to undo it)."""
    setitem(datasets.DATASET_INFO, "toy", TOY_INFO)
    setitem(datasets.DATASETS, "toy", load_toy)
    allowed = protocols.PROTOCOL_DATASETS["one_vs_all"]
    if "toy" not in allowed:
        setitem(protocols.PROTOCOL_DATASETS, "one_vs_all", (*allowed, "toy"))
    setitem(protocols.PROTOCOLS, "toy_groups", toy_groups)
    setitem(protocols.PROTOCOL_DATASETS, "toy_groups", ("toy",))
    setitem(methods.METHODS, "tinypiad", build_tinypiad)
    setitem(methods.METHODS, "crash", lambda *a, **k: Crash())
    setitem(methods.METHODS, "die", lambda *a, **k: Die())
    setitem(methods.METHODS, "slow", build_slow)
    for spec in (
        suites.SuiteSpec(
            name="toy",
            description="test suite: toy stripes, tiny PIAD + OC-SVM + KDE, 2 seeds",
            cells=(suites.Cell("toy", "one_vs_all", ("tinypiad", "ocsvm", "kde")),),
            seeds=(0, 1),
        ),
        suites.SuiteSpec(
            name="toyfail",
            description="test suite: one good method, one raising, one killing its worker",
            cells=(suites.Cell("toy", "one_vs_all", ("kde", "crash", "die"), ("h",)),),
            seeds=(0,),
        ),
        suites.SuiteSpec(
            name="toyslow",
            description="test suite: slow KDE jobs (for killing mid-run)",
            cells=(suites.Cell("toy", "one_vs_all", ("slow",)),),
            seeds=(0,),
        ),
    ):
        setitem(suites.SUITES, spec.name, spec)
