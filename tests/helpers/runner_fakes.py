"""A plugin for the runner's tests: a tiny striped-image dataset, a tiny PIAD, failing methods.

Each fake is added with one ``register_*`` call, as any plugin does. Tests call
:func:`register` with their ``monkeypatch`` (the registries are restored after each test); the
runner's worker processes and command-line subprocesses get the fakes through the plugin module
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
from pathlib import Path
from typing import Any

import numpy as np
from piad_tiny import tiny_config

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DatasetInfo
from benchmarks.data.protocols import Protocol
from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.methods import PIADEstimator
from benchmarks.experiments.suites import Cell, SuiteSpec
from benchmarks.registry import (
    DATASETS,
    METHODS,
    PROTOCOLS,
    SUITES,
    register_dataset,
    register_method,
    register_protocol,
    register_suite,
)

TOY_CLASSES = ("h", "v", "c")
TOY_INFO = DatasetInfo(
    name="toy",
    family="custom",
    image_size=16,
    channels=1,
    classes=TOY_CLASSES,
    protocol="one_vs_all",
    source="built by tests/runner_fakes.py",
    protocols=("toy_groups",),
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


class TinyPIAD(PIADEstimator):
    """The real PIAD at toy size: 16 px, 8 channels, MSE distance, checkpoints every 20 it."""


def build_tinypiad(
    job: Job, info: Any, device: str, workdir: Path, progress: bool = False, threads: int = 1
) -> PIADEstimator:
    config = tiny_config(
        image_size=16,
        in_channels=1,
        latent_dim=8,
        gen_channels=(8, 8, 8),
        enc_channels=(8, 8, 8),
        dx_channels=(8, 8, 8),
        dz_hidden=(16, 16),
        batch_size=16,
        n_weight=100,
        iterations=job.iters or 60,
        checkpoint_every=20,
        log_every=20,
        sample_every=10_000,
        seed=job.seed,
        device=device,
    ).replace(**job.overrides_dict)
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


def register(monkeypatch: Any = None) -> None:
    """Add the fakes, one ``register_*`` call each; with a ``monkeypatch``, undone after a test."""
    if monkeypatch is not None:
        for registry in (DATASETS, PROTOCOLS, METHODS, SUITES):
            monkeypatch.setattr(registry, "entries", dict(registry.entries))
    register_dataset(TOY_INFO, load_toy)
    register_protocol(Protocol("toy_groups", toy_groups, layout="groups", groups=("v", "c")))
    register_method("tinypiad", build_tinypiad, display="tiny PIAD", trains=True, fusable=True)
    register_method("crash", lambda *a, **k: Crash())
    register_method("die", lambda *a, **k: Die())
    register_method("slow", build_slow)
    register_suite(
        SuiteSpec(
            name="toy",
            description="test suite: toy stripes, tiny PIAD + OC-SVM + KDE, 2 seeds",
            cells=(Cell("toy", "one_vs_all", ("tinypiad", "ocsvm", "kde")),),
            seeds=(0, 1),
        )
    )
    register_suite(
        SuiteSpec(
            name="toyfail",
            description="test suite: one good method, one raising, one killing its worker",
            cells=(Cell("toy", "one_vs_all", ("kde", "crash", "die"), ("h",)),),
            seeds=(0,),
        )
    )
    register_suite(
        SuiteSpec(
            name="toyslow",
            description="test suite: slow KDE jobs (for killing mid-run)",
            cells=(Cell("toy", "one_vs_all", ("slow",)),),
            seeds=(0,),
        )
    )
