"""Kernel density estimation baseline (Gaussian kernel) on Deep SVDD-preprocessed images.

Deep SVDD's recipe (Ruff et al. 2018): the bandwidth is chosen by a 5-fold cross-validated
grid search over ``logspace(-4.5, 5, 20, base=2)`` maximising the held-out log-likelihood of
the *training* data (no labels). The anomaly score is minus the log density.

The density is evaluated exactly (log-sum-exp over all training points) rather than with
scikit-learn's ``KernelDensity``, whose tree-based evaluation with a Gaussian kernel can be off by
tens of nats for points far from the training data, i.e. exactly for anomalies; its result even
changed with the other images in the batch in our tests (scikit-learn issues #7492, #25799).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import GridSearchCV, KFold

from baselines.base import ShallowBaseline
from piad.errors import PIADError

DEFAULT_BANDWIDTHS = np.logspace(-4.5, 5, 20, base=2)  # Deep SVDD's grid

#: variant name -> constructor keywords (the runner's ``Job.variant``)
VARIANTS: dict[str, dict[str, Any]] = {"default": {}}


class GaussianKDE(BaseEstimator):
    """Exact Gaussian kernel density, scikit-learn style (usable in ``GridSearchCV``).

    log p(x) = logsumexp_i(-|x - x_i|^2 / (2 h^2)) - log N - d/2 log(2 pi h^2)

    >>> GaussianKDE(bandwidth=1.0).fit(np.zeros((1, 1))).score_samples(np.zeros((1, 1)))
    array([-0.91893853])
    """

    def __init__(self, bandwidth: float = 1.0, chunk: int = 2**22) -> None:
        self.bandwidth = bandwidth
        self.chunk = chunk  # distance-matrix entries per block, bounds memory

    def fit(self, x: np.ndarray, y: Any = None) -> GaussianKDE:
        self.x_ = np.asarray(x, dtype=np.float64)
        return self

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x``."""
        x = np.asarray(x, dtype=np.float64)
        n, d = self.x_.shape
        h = float(self.bandwidth)
        log_norm = np.log(n) + 0.5 * d * np.log(2.0 * np.pi * h * h)
        rows = max(1, self.chunk // n)
        out = np.empty(len(x))
        for start in range(0, len(x), rows):
            sq = euclidean_distances(x[start : start + rows], self.x_, squared=True)
            out[start : start + rows] = logsumexp(-0.5 * sq / (h * h), axis=1)
        return out - log_norm

    def score(self, x: np.ndarray, y: Any = None) -> float:
        """Total log-likelihood of ``x`` (what the bandwidth search maximises)."""
        return float(self.score_samples(x).sum())


class KDE(ShallowBaseline):
    """Gaussian KDE anomaly detector: ``fit(train_images)``, ``score(images)`` = -log p(x).

    >>> rng = np.random.default_rng(0)
    >>> m = KDE(cv=2).fit(rng.normal(size=(20, 4)))
    >>> m.score(rng.normal(size=(3, 4))).shape
    (3,)
    """

    name = "kde"

    def __init__(
        self,
        bandwidths: Any = DEFAULT_BANDWIDTHS,
        cv: int = 5,
        max_train: int | None = None,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        super().__init__(max_train=max_train, seed=seed, n_jobs=n_jobs)
        bw = np.asarray(bandwidths, dtype=np.float64).reshape(-1)
        if len(bw) == 0 or not np.isfinite(bw).all() or (bw <= 0).any():
            raise PIADError("KDE bandwidths must be a non-empty list of positive numbers")
        if cv < 2:
            raise PIADError(f"KDE needs cv >= 2 folds for the bandwidth search, got {cv}")
        self.bandwidths = bw
        self.cv = cv
        self.model_: GaussianKDE | None = None
        self.cv_loglik_: list[float] = []

    def fit(self, images: Any, holdout: None = None) -> KDE:
        """Fit on normal training images; the bandwidth comes from cross-validation.

        ``holdout`` exists only for a uniform ``fit`` call; KDE uses no labels.
        """
        if holdout is not None:
            raise PIADError("KDE uses no labelled hold-out (needs_holdout is False); drop it")
        self._fit(images, None)
        return self

    def _fit_features(self, z: np.ndarray, holdout: tuple[np.ndarray, np.ndarray] | None) -> None:
        if len(z) < self.cv:
            raise PIADError(
                f"KDE's {self.cv}-fold bandwidth search needs at least {self.cv} training "
                f"images, got {len(z)}; pass more images or a smaller cv"
            )
        if len(self.bandwidths) == 1:
            self.model_ = GaussianKDE(bandwidth=float(self.bandwidths[0])).fit(z)
            return
        folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.seed)
        # GridSearchCV scores with GaussianKDE.score: the held-out total log-likelihood
        search = GridSearchCV(
            GaussianKDE(),
            {"bandwidth": [float(b) for b in self.bandwidths]},
            cv=folds,
            n_jobs=self.n_jobs,
        )
        search.fit(z)
        self.model_ = search.best_estimator_
        self.cv_loglik_ = [float(v) for v in search.cv_results_["mean_test_score"]]

    def _score_features(self, z: np.ndarray) -> np.ndarray:
        assert self.model_ is not None
        return -self.model_.score_samples(z)

    def _model_info(self) -> dict[str, Any]:
        assert self.model_ is not None
        bw = float(self.model_.bandwidth)
        return {
            "variant": "default",
            "uses_test_labels": False,
            "kernel": "gaussian",
            "bandwidth": bw,
            "bandwidth_grid": [float(b) for b in self.bandwidths],
            # the best bandwidth on the edge of the grid means the grid was too narrow
            "bandwidth_at_grid_edge": bool(
                len(self.bandwidths) > 1 and bw in (self.bandwidths.min(), self.bandwidths.max())
            ),
            "cv_folds": self.cv,
            "cv_mean_loglik": self.cv_loglik_,
        }
