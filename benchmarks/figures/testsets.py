"""The trained model and the test set a figure is drawn from: a job folder, or a model file
and a dataset split, loaded through the suite's one evaluation path.

A trained model is a file written by :meth:`piad.model.PIAD.save`, a training checkpoint
(``checkpoint.pt``) or its workdir, or a runner job folder (whose ``work/`` holds the
checkpoint and whose ``split.npz`` gives the test set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.info import dataset_info
from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.splits import Split
from benchmarks.experiments.evaluate import load_split
from benchmarks.experiments.jobs import JobFolder
from benchmarks.experiments.results import Result
from piad.errors import MissingInputError, PIADError
from piad.model import PIAD
from piad.training.checkpoint import CHECKPOINT_NAME


def load_model(path: str | os.PathLike[str], device: str = "auto") -> PIAD:
    """A trained PIAD from a model file, a checkpoint, a training workdir or a job folder."""
    path = Path(path)
    if path.is_dir():
        work = JobFolder(path).work
        for candidate in (path, work):
            if (candidate / CHECKPOINT_NAME).is_file():
                return PIAD.from_checkpoint(candidate, device=device)
        raise MissingInputError(
            f"no {CHECKPOINT_NAME} in {path} or {work}; give a model file "
            "(PIAD.save) or the folder of a PIAD job that trained"
        )
    if not path.is_file():
        raise MissingInputError(f"no model file at {path}; give a PIAD.save file or a job folder")
    return PIAD.load(path, device=device)


@dataclass
class EvalImages:
    """Test images (uint8 (N, H, W, C)) with labels (1 = anomaly) and anomaly groups.

    ``images`` is an array, or a :class:`SplitImages` view that reads only the images indexed
    (CelebA and LSUN are read lazily). ``groups`` maps a group (CelebA attribute) to positions
    of its anomalies in ``images``.
    """

    images: Any
    labels: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.images) != len(self.labels):
            raise PIADError(f"{len(self.images)} images but {len(self.labels)} labels")

    def subset(self, max_images: int | None, seed: int = 0) -> EvalImages:
        """A seeded random subset of ``max_images`` images (all when None or more)."""
        n = len(self.labels)
        if max_images is None or max_images >= n:
            return self
        if max_images < 2:
            raise PIADError(f"max_images must be >= 2, got {max_images}")
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_images, replace=False))
        new_pos = -np.ones(n, dtype=np.int64)
        new_pos[keep] = np.arange(len(keep))
        groups = {g: new_pos[p][new_pos[p] >= 0] for g, p in self.groups.items()}
        return EvalImages(self.images[keep], self.labels[keep], groups, self.name)


class SplitImages:
    """The test images of a split as an indexable view: ``view[positions]`` reads only those.

    ``np.asarray(view)`` reads them all.
    """

    def __init__(self, dataset: Any, index: np.ndarray) -> None:
        self.dataset = dataset
        self.index = np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, positions: Any) -> np.ndarray:
        return self.dataset.take(self.index[positions])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        images = self[np.arange(len(self))]
        return images if dtype is None else images.astype(dtype)


def _eval_images(dataset: Any, split: Split, name: str) -> EvalImages:
    images = SplitImages(dataset, split.test)
    return EvalImages(images, split.test_labels, dict(split.groups), name)


def job_eval_images(
    job_folder: str | os.PathLike[str], data_root: str | os.PathLike[str]
) -> EvalImages:
    """The test set of a runner job: its saved ``split.npz`` applied to its dataset."""
    folder = JobFolder(Path(job_folder))
    result = Result.load(folder.path)
    split = Split.load(folder.split)
    dataset = load_dataset(result.job.dataset, data_root)
    if dataset.fingerprint != split.fingerprint:
        raise PIADError(
            f"the {result.job.dataset} data under {data_root} differ from the data of job "
            f"{result.job.slug} (fingerprint); point --data-root at the data it ran on"
        )
    return _eval_images(dataset, split, result.job.slug)


def split_eval_images(
    dataset: str,
    normal: str,
    data_root: str | os.PathLike[str],
    protocol: str | None = None,
    seed: int = 0,
) -> EvalImages:
    """The test set of ``dataset`` under a protocol (default: the dataset's own) and seed."""
    protocol = protocol or dataset_info(dataset).protocol
    data, split = load_split(dataset, protocol, normal, seed, data_root)
    return _eval_images(data, split, f"{dataset}/{protocol}/{normal}/seed{seed}")


__all__ = ["EvalImages", "SplitImages", "job_eval_images", "load_model", "split_eval_images"]
