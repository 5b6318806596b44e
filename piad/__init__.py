"""PIAD: Perceptual Image Anomaly Detection (Tuluptceva et al., 2019).

>>> from piad import PIAD, PIADConfig          # doctest: +SKIP
>>> model = PIAD(PIADConfig.preset("mnist")).fit(train_images)   # doctest: +SKIP
>>> scores = model.score(test_images)   # higher = more anomalous   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from piad.errors import MissingInputError, PIADError, TrainingDivergedError

__all__ = ["PIAD", "MissingInputError", "PIADConfig", "PIADError", "TrainingDivergedError"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from piad.config import PIADConfig
    from piad.model import PIAD


def __getattr__(name: str) -> Any:  # lazy: importing piad must not import torch
    if name == "PIAD":
        from piad.model import PIAD

        return PIAD
    if name == "PIADConfig":
        from piad.config import PIADConfig

        return PIADConfig
    raise AttributeError(name)
