"""Kernel density estimation baseline (Gaussian kernel) on Deep SVDD-preprocessed images.

Deep SVDD's recipe (Ruff et al. 2018): the bandwidth is chosen by a 5-fold cross-validated
grid search over ``logspace(-4.5, 5, 20, base=2)`` maximising the held-out log-likelihood of
the *training* data (no labels). The anomaly score is minus the log density.

By default the density is evaluated exactly (log-sum-exp over all training points) rather than
with scikit-learn's ``KernelDensity``, whose tree-based evaluation with a Gaussian kernel can be
off by tens of nats for points far from the training data, i.e. exactly for anomalies; its result
even changed with the other images in the batch in our tests (scikit-learn issues #7492, #25799).

``density="sklearn"`` uses scikit-learn's ``KernelDensity(kernel="gaussian")`` with its defaults,
as Deep SVDD's code does (lukasruff/Deep-SVDD, ``src/kde.py``); the ``"deepsvdd"`` variants
(``VARIANTS``) follow that code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity

from baselines.base import ShallowBaseline, variant_name
from piad.errors import PIADError, lookup

DEFAULT_BANDWIDTHS = np.logspace(-4.5, 5, 20, base=2)  # Deep SVDD's grid
DENSITIES = {"exact": "exact log-sum-exp", "sklearn": "scikit-learn KernelDensity (tree-based)"}

#: variant name -> constructor keywords (the runner's ``Job.variant``)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # Deep SVDD's code: sklearn KernelDensity, whole batches of 200 training images, GCN (the
    # recipe as published and as run for CIFAR-10)
    "deepsvdd": {"density": "sklearn", "train_multiple": 200},
    # ... and without GCN, as the authors' MNIST shell script runs it (no --gcn)
    "deepsvdd-nogcn": {"density": "sklearn", "train_multiple": 200, "gcn": False},
}
# the constructor settings that tell the variants apart (bandwidth grids and cv do not)
_VARIANT_KEYS = {"density": "exact", "gcn": True, "train_multiple": None}


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
        density: str = "exact",
        gcn: bool = True,
        train_multiple: int | None = None,
    ) -> None:
        super().__init__(
            max_train=max_train, seed=seed, n_jobs=n_jobs, gcn=gcn, train_multiple=train_multiple
        )
        lookup(DENSITIES, "KDE density", density)
        bw = np.asarray(bandwidths, dtype=np.float64).reshape(-1)
        if len(bw) == 0 or not np.isfinite(bw).all() or (bw <= 0).any():
            raise PIADError("KDE bandwidths must be a non-empty list of positive numbers")
        if cv < 2:
            raise PIADError(f"KDE needs cv >= 2 folds for the bandwidth search, got {cv}")
        self.bandwidths = bw
        self.cv = cv
        self.density = density
        self.model_: GaussianKDE | KernelDensity | None = None
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
            self.model_ = self._new_model(float(self.bandwidths[0])).fit(z)
            return
        # Deep SVDD passes cv=5 (unshuffled KFold) on training images it shuffled beforehand;
        # shuffled, seeded folds on our index-ordered images are the same in distribution
        folds = KFold(n_splits=self.cv, shuffle=True, random_state=self.seed)
        # GridSearchCV scores with the model's .score: the held-out total log-likelihood
        search = GridSearchCV(
            self._new_model(1.0),
            {"bandwidth": [float(b) for b in self.bandwidths]},
            cv=folds,
            n_jobs=self.n_jobs,
        )
        search.fit(z)
        self.model_ = search.best_estimator_
        self.cv_loglik_ = [float(v) for v in search.cv_results_["mean_test_score"]]

    def _new_model(self, bandwidth: float) -> GaussianKDE | KernelDensity:
        if self.density == "sklearn":
            return KernelDensity(kernel="gaussian", bandwidth=bandwidth)  # its defaults
        return GaussianKDE(bandwidth=bandwidth)

    def _score_features(self, z: np.ndarray) -> np.ndarray:
        assert self.model_ is not None
        return -self.model_.score_samples(z)

    @property
    def variant(self) -> str:
        """Name of the ``VARIANTS`` entry these settings equal ("custom" if none)."""
        settings = {"density": self.density, "gcn": self.gcn, "train_multiple": self.train_multiple}
        return variant_name(settings, VARIANTS, _VARIANT_KEYS)

    def _model_info(self) -> dict[str, Any]:
        assert self.model_ is not None
        bw = float(self.model_.bandwidth)
        return {
            "variant": self.variant,
            "uses_test_labels": False,
            "kernel": "gaussian",
            "density": self.density,
            "bandwidth": bw,
            "bandwidth_grid": [float(b) for b in self.bandwidths],
            # the best bandwidth on the edge of the grid means the grid was too narrow
            "bandwidth_at_grid_edge": bool(
                len(self.bandwidths) > 1 and bw in (self.bandwidths.min(), self.bandwidths.max())
            ),
            "cv_folds": self.cv,
            "cv_mean_loglik": self.cv_loglik_,
        }
