"""One-class SVM baseline (RBF kernel) on Deep SVDD-preprocessed images.

Two ways to set its hyper-parameters (``VARIANTS``):

- ``"default"``: nu = 0.1 and gamma = "scale" (scikit-learn: 1 / (n_features * Var(X)) on the
  preprocessed training data). Uses no test labels.
- ``"holdout"``: Deep SVDD's protocol (Ruff et al. 2018): nu in {0.01, 0.1} and gamma in
  2^-10 .. 2^-1, the pair with the best ROC AUC on a *labelled* hold-out (10% of the test set,
  see :func:`baselines.base.holdout_split`) wins; that hold-out must be removed from the test
  set. It uses test labels, so every table must name it as such.
- ``"deepsvdd"``: the hold-out protocol with the rest of Deep SVDD's code
  (lukasruff/Deep-SVDD, ``src/svm.py``, ``src/datasets/*.py``): whole batches of 200 training
  images, GCN; ``"deepsvdd-nogcn"`` without GCN, as the authors' MNIST shell script runs it.
  Their code fixes nu per run (a script argument) and picks gamma alone on the hold-out; here
  nu in {0.01, 0.1} is picked on the same hold-out (pass ``nu_grid=(0.1,)`` to fix it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from baselines.base import ShallowBaseline, variant_name
from piad.errors import PIADError, lookup

GAMMA_SELECTIONS = {"none": "nu and gamma as given", "holdout": "grid chosen by hold-out AUC"}
DEFAULT_NU_GRID = (0.01, 0.1)  # Deep SVDD
DEFAULT_GAMMA_GRID = tuple(2.0 ** np.arange(-10, 0))  # 2^-10 .. 2^-1, Deep SVDD

#: variant name -> constructor keywords (the runner's ``Job.variant``)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"nu": 0.1, "gamma": "scale", "gamma_selection": "none"},
    "holdout": {"gamma_selection": "holdout"},
    "deepsvdd": {"gamma_selection": "holdout", "train_multiple": 200},
    "deepsvdd-nogcn": {"gamma_selection": "holdout", "train_multiple": 200, "gcn": False},
}
# the constructor settings that tell the variants apart (nu, gamma and the grids do not)
_VARIANT_KEYS = {"gamma_selection": "none", "gcn": True, "train_multiple": None}


def _resolve_gamma(gamma: float | str, z: np.ndarray) -> float:
    """The number scikit-learn uses for gamma "scale" / "auto" on training features ``z``."""
    if gamma == "scale":
        var = float(z.var())
        return 1.0 / (z.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / z.shape[1]
    return float(gamma)


def _fit_and_rate(
    z: np.ndarray, nu: float, gamma: float, zh: np.ndarray, yh: np.ndarray
) -> tuple[OneClassSVM, float]:
    model = OneClassSVM(kernel="rbf", nu=nu, gamma=gamma).fit(z)
    return model, float(roc_auc_score(yh, -model.decision_function(zh)))


class OCSVM(ShallowBaseline):
    """OC-SVM anomaly detector: ``fit(train_images[, holdout])``, ``score(images)``.

    Score = minus the SVM decision function (higher = more anomalous). With
    ``gamma_selection="holdout"``, ``nu`` and ``gamma`` are not used: the pair comes from
    ``nu_grid`` x ``gamma_grid``.

    >>> rng = np.random.default_rng(0)
    >>> m = OCSVM().fit(rng.normal(size=(40, 6)))
    >>> m.score(rng.normal(size=(3, 6))).shape
    (3,)
    """

    name = "ocsvm"

    def __init__(
        self,
        nu: float = 0.1,
        gamma: float | str = "scale",
        gamma_selection: str = "none",
        max_train: int | None = None,
        seed: int = 0,
        n_jobs: int = 1,
        nu_grid: tuple[float, ...] = DEFAULT_NU_GRID,
        gamma_grid: tuple[float, ...] = DEFAULT_GAMMA_GRID,
        gcn: bool = True,
        train_multiple: int | None = None,
    ) -> None:
        super().__init__(
            max_train=max_train, seed=seed, n_jobs=n_jobs, gcn=gcn, train_multiple=train_multiple
        )
        lookup(GAMMA_SELECTIONS, "OC-SVM gamma_selection", gamma_selection)
        for v in (nu, *nu_grid):
            if not 0.0 < v <= 1.0:
                raise PIADError(f"OC-SVM nu must be in (0, 1], got {v}")
        if isinstance(gamma, bool) or not isinstance(gamma, (str, int, float)):
            raise PIADError(f"OC-SVM gamma must be 'scale', 'auto' or a number, got {gamma!r}")
        if isinstance(gamma, str):
            if gamma not in ("scale", "auto"):
                raise PIADError(f"OC-SVM gamma must be 'scale', 'auto' or a number, got {gamma!r}")
        elif gamma <= 0:
            raise PIADError(f"OC-SVM gamma must be positive, got {gamma}")
        if not nu_grid or not gamma_grid or min(gamma_grid) <= 0:
            raise PIADError("OC-SVM grids must be non-empty with positive gammas")
        self.nu = nu
        self.gamma = gamma
        self.gamma_selection = gamma_selection
        self.nu_grid = tuple(float(v) for v in nu_grid)
        self.gamma_grid = tuple(float(g) for g in gamma_grid)
        self.model_: OneClassSVM | None = None
        self.holdout_auc_: float | None = None
        self.n_holdout_: int = 0
        self.grid_: list[dict[str, float]] = []
        self.gamma_value_: float = float("nan")

    @property
    def needs_holdout(self) -> bool:
        """True when gamma is chosen with labels from a test hold-out (Deep SVDD)."""
        return self.gamma_selection == "holdout"

    @property
    def variant(self) -> str:
        """Name of the ``VARIANTS`` entry these settings equal ("custom" if none)."""
        settings = {
            "gamma_selection": self.gamma_selection,
            "gcn": self.gcn,
            "train_multiple": self.train_multiple,
        }
        return variant_name(settings, VARIANTS, _VARIANT_KEYS)

    def fit(self, images: Any, holdout: tuple[np.ndarray, np.ndarray] | None = None) -> OCSVM:
        """Fit on normal training images; ``holdout`` = (images, labels 1 = anomaly)."""
        if self.needs_holdout and holdout is None:
            raise PIADError(
                "OC-SVM with gamma_selection='holdout' needs holdout=(images, labels); carve "
                "it from the test set with baselines.base.holdout_split and remove it there"
            )
        if not self.needs_holdout and holdout is not None:
            raise PIADError(
                "a hold-out was given but gamma_selection='none' would ignore it; "
                "use gamma_selection='holdout' or drop the hold-out"
            )
        self._fit(images, holdout)
        return self

    def _fit_features(self, z: np.ndarray, holdout: tuple[np.ndarray, np.ndarray] | None) -> None:
        if holdout is None:
            self.model_ = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(z)
            self.gamma_value_ = _resolve_gamma(self.gamma, z)
            return
        zh, yh = holdout
        grid = [(nu, g) for nu in self.nu_grid for g in self.gamma_grid]
        fits = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_and_rate)(z, nu, g, zh, yh) for nu, g in grid
        )
        aucs = [auc for _, auc in fits]
        best = int(np.argmax(aucs))  # ties: the first in grid order
        self.model_ = fits[best][0]
        self.gamma_value_ = grid[best][1]
        self.holdout_auc_ = aucs[best]
        self.n_holdout_ = len(yh)
        self.grid_ = [{"nu": nu, "gamma": g, "auc": a} for (nu, g), a in zip(grid, aucs)]

    def _score_features(self, z: np.ndarray) -> np.ndarray:
        assert self.model_ is not None
        return -self.model_.decision_function(z)

    def _model_info(self) -> dict[str, Any]:
        assert self.model_ is not None
        out: dict[str, Any] = {
            "variant": self.variant,
            "gamma_selection": self.gamma_selection,
            "uses_test_labels": self.needs_holdout,
            "nu": float(self.model_.nu),
            "gamma": self.model_.gamma
            if isinstance(self.model_.gamma, str)
            else float(self.model_.gamma),
            "gamma_value": self.gamma_value_,  # "scale"/"auto" resolved to a number
        }
        if self.needs_holdout:
            out.update(
                holdout_auc=self.holdout_auc_,
                n_holdout=self.n_holdout_,
                grid=self.grid_,
                # the best gamma on the edge of the grid means the grid was too narrow
                gamma_at_grid_edge=self.gamma_value_
                in (min(self.gamma_grid), max(self.gamma_grid)),
            )
        return out
