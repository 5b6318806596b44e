"""The shallow baselines' preprocessing, fit on training images only.

Deep SVDD's published recipe (Ruff et al. 2018; ``shared/notes/fidelity-facts.md``,
"Baselines"): pixels / 255 -> global contrast normalisation with the L1 norm (per image) ->
min-max scaling to [0, 1] with the *training* minimum and maximum -> PCA keeping 95% of the
training variance. Like Deep SVDD, the min-max scaling uses one minimum and one maximum over all
training pixels (not one per pixel), so test images may fall slightly outside [0, 1].

``gcn=False`` skips the normalisation, as the authors' MNIST shell scripts for the shallow
baselines do (``src/scripts/mnist_{kde,ocsvm}.sh`` pass no ``--gcn``; CIFAR-10's pass
``--gcn 1``; repository lukasruff/Deep-SVDD).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from piad.errors import PIADError


def global_contrast_normalization(x: np.ndarray) -> np.ndarray:
    """Per row: subtract its mean, divide by its mean absolute deviation (L1 scale).

    A constant row becomes all zeros.

    >>> global_contrast_normalization(np.array([[0.0, 2.0]])).tolist()
    [[-1.0, 1.0]]
    """
    centred = x - x.mean(axis=1, keepdims=True)
    scale = np.abs(centred).mean(axis=1, keepdims=True)
    return centred / np.where(scale > 0, scale, 1.0)


class Preprocessor:
    """GCN (L1) -> min-max with training statistics -> PCA (95% variance), fit once.

    ``fit`` learns ``min_``, ``max_`` and ``pca_`` from training rows; ``transform`` only
    applies them, so scoring any test set leaves them unchanged.

    >>> rng = np.random.default_rng(0)
    >>> p = Preprocessor().fit(rng.normal(size=(50, 8)))
    >>> p.transform(rng.normal(size=(3, 8))).shape[0]
    3
    """

    def __init__(self, variance: float | None = 0.95, gcn: bool = True) -> None:
        if variance is not None and not 0.0 < variance <= 1.0:
            raise PIADError(f"PCA variance to keep must be in (0, 1], got {variance}")
        self.variance = variance
        self.gcn = gcn
        self.n_features_in_: int | None = None
        self.min_: float = 0.0
        self.max_: float = 1.0
        self.pca_: PCA | None = None

    def fit(self, x: np.ndarray) -> Preprocessor:
        """Learn the min-max range and the PCA from training rows (N, D)."""
        if x.ndim != 2 or len(x) < 2:
            raise PIADError(f"preprocessing needs at least 2 training rows (N, D), got {x.shape}")
        g = self._normalise(x)
        lo, hi = float(g.min()), float(g.max())
        if hi <= lo:
            raise PIADError(
                "all training images are constant (no contrast); the baselines cannot be fit"
            )
        self.n_features_in_ = x.shape[1]
        self.min_, self.max_ = lo, hi
        if self.variance is not None:
            # fit on training data only; "full" SVD is exact and needs no seed
            self.pca_ = PCA(n_components=self.variance, svd_solver="full")
            self.pca_.fit((g - lo) / (hi - lo))
        return self

    def _normalise(self, x: np.ndarray) -> np.ndarray:
        return global_contrast_normalization(x) if self.gcn else x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Apply the fitted steps to rows (N, D); nothing is re-estimated."""
        if self.n_features_in_ is None:
            raise PIADError("preprocessing is not fitted; call fit(train) before transform()")
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            got = x.shape[1] if x.ndim == 2 else x.shape
            raise PIADError(
                f"images have {got} values each but the model was fit on {self.n_features_in_}; "
                "use the same image size and channels as for training"
            )
        z = (self._normalise(x) - self.min_) / (self.max_ - self.min_)
        return self.pca_.transform(z) if self.pca_ is not None else z

    def info(self) -> dict[str, Any]:
        """JSON-able summary: input size, min-max range, PCA components kept."""
        out: dict[str, Any] = {
            "n_features_in": self.n_features_in_,
            "gcn": self.gcn,
            "minmax_range": [self.min_, self.max_],
            "pca_variance": self.variance,
        }
        if self.pca_ is not None:
            out["pca_components"] = int(self.pca_.n_components_)
            out["pca_explained_variance"] = float(self.pca_.explained_variance_ratio_.sum())
        return out
