"""Algorithm 1 and what it needs: the trainer, its batch source, checkpoints, runtime, cache.

- :mod:`piad.training.trainer`: :class:`Trainer`, the steps and the loop of Algorithm 1;
- :mod:`piad.training.data`: :class:`BatchSource`, the seeded, resumable stream of batches;
- :mod:`piad.training.checkpoint`: the checkpoint format, resume checks and ``log.csv``;
- :mod:`piad.training.runtime`: device, bf16 autocast, memory layout, derived seeds;
- :mod:`piad.training.feature_cache`: the training images' VGG features, computed once.

>>> trainer = Trainer(config, images, workdir="runs/mnist-0")   # doctest: +SKIP
>>> networks = trainer.run()                                    # doctest: +SKIP
"""

from piad.training.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_NAME, LOG_COLUMNS, LOG_NAME
from piad.training.data import BatchSource
from piad.training.feature_cache import FEATURE_CACHE_MODES, FeatureCache
from piad.training.runtime import (
    AUTOCAST_MODES,
    autocast_context,
    derived_seeds,
    network_layout,
    resolve_device,
)
from piad.training.trainer import Trainer

__all__ = [
    "AUTOCAST_MODES",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "FEATURE_CACHE_MODES",
    "LOG_COLUMNS",
    "LOG_NAME",
    "BatchSource",
    "FeatureCache",
    "Trainer",
    "autocast_context",
    "derived_seeds",
    "network_layout",
    "resolve_device",
]
