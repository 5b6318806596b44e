"""What OC-SVM and KDE share: input checks, training subsampling, the fit/score skeleton.

Both baselines follow the Deep SVDD recipe (Ruff et al. 2018, the paper's [22]): images are
flattened, preprocessed by :class:`baselines.preprocessing.Preprocessor` fit on the training
images only, and scored by a scikit-learn model. Scores are "higher = more anomalous", like
every estimator of the suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from baselines.preprocessing import Preprocessor
from piad.errors import PIADError


def as_feature_matrix(images: Any, what: str = "images") -> np.ndarray:
    """Images as a float64 matrix (N, D), one flattened image per row.

    Accepts uint8 images (N, H, W[, C]) with pixels 0..255, which are divided by 255 (the
    recipe's first step), or float arrays/tensors of any layout (N, ...), e.g. [-1, 1] images.
    The scale does not matter afterwards: global contrast normalisation removes any positive
    affine change of an image's pixel values.

    >>> as_feature_matrix(np.full((2, 4, 4, 1), 255, dtype=np.uint8)).shape
    (2, 16)
    """
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise PIADError(f"{what} must be a numeric array, got dtype {arr.dtype}; pass pixel arrays")
    if arr.ndim < 2:
        raise PIADError(
            f"{what} must have shape (N, ...) with one image per row, got shape {arr.shape}; "
            "add the batch axis (e.g. images[None])"
        )
    if arr.shape[0] == 0:
        raise PIADError(f"{what} is empty (0 images); pass at least one image")
    if arr[0].size == 0:
        raise PIADError(f"{what} have no pixels (shape {arr.shape}); check the array")
    x = arr.reshape(arr.shape[0], -1)
    x = x.astype(np.float64) / 255.0 if arr.dtype == np.uint8 else x.astype(np.float64)
    if not np.isfinite(x).all():
        raise PIADError(f"{what} contain NaN or inf values; clean the input first")
    return x


def _count(images: Any, what: str) -> int:
    """Number of images along the first axis, without loading a lazily read array."""
    shape = getattr(images, "shape", None)
    if shape is None:
        shape = np.shape(images)  # lists and other array-likes
    if len(shape) < 2:
        raise PIADError(
            f"{what} must have shape (N, ...) with one image per row, got shape {tuple(shape)}; "
            "add the batch axis (e.g. images[None])"
        )
    return int(shape[0])


def as_labels(labels: Any, n: int, what: str = "labels") -> np.ndarray:
    """Binary labels (1 = anomaly) of length ``n`` with both classes present."""
    y = np.asarray(labels).reshape(-1)
    if len(y) != n:
        raise PIADError(f"{what} has {len(y)} entries for {n} images; pass one label per image")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise PIADError(f"{what} must be 0 (normal) or 1 (anomaly)")
    if len(np.unique(y)) < 2:
        raise PIADError(f"{what} must contain both normal (0) and anomalous (1) images")
    return y.astype(np.int64)


def subsample_indices(n: int, max_train: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_train`` of ``n`` training images, chosen with ``seed``.

    >>> subsample_indices(5, None, 0).tolist()
    [0, 1, 2, 3, 4]
    """
    if max_train is None or n <= max_train:
        return np.arange(n)
    if max_train < 1:
        raise PIADError(f"max_train must be a positive number of images, got {max_train}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_train, replace=False))


def holdout_split(
    labels: Any, fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a labelled hold-out (``fraction`` of a test set) and of the rest.

    Deep SVDD's OC-SVM variant picks gamma on such a hold-out and removes it from the test
    set. The split is stratified (same anomaly rate in both parts) and seeded.

    >>> h, rest = holdout_split([0] * 10 + [1] * 90, 0.1, seed=0)
    >>> len(h), len(rest), int(np.asarray([0] * 10 + [1] * 90)[h].sum())
    (10, 90, 9)
    """
    y = np.asarray(labels).reshape(-1)
    if not 0.0 < fraction < 1.0:
        raise PIADError(f"hold-out fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for value in (0, 1):
        pos = np.flatnonzero(y == value)
        if len(pos) < 2:
            raise PIADError(
                f"a hold-out needs at least 2 test images of label {value}, got {len(pos)}"
            )
        k = min(max(1, round(fraction * len(pos))), len(pos) - 1)
        held.append(rng.choice(pos, size=k, replace=False))
    hold = np.sort(np.concatenate(held))
    rest = np.setdiff1d(np.arange(len(y)), hold)
    return hold, rest


def variant_name(
    settings: dict[str, Any], variants: dict[str, dict[str, Any]], defaults: dict[str, Any]
) -> str:
    """The first variant whose distinguishing settings equal ``settings``, else "custom".

    ``defaults`` maps each distinguishing constructor keyword to its default value.

    >>> variant_name({"gcn": False}, {"default": {}, "nogcn": {"gcn": False}}, {"gcn": True})
    'nogcn'
    """
    for name, kwargs in variants.items():
        wanted = {k: kwargs.get(k, v) for k, v in defaults.items()}
        if all(settings[k] == wanted[k] for k in defaults):
            return name
    return "custom"


class ShallowBaseline(ABC):
    """fit(images) -> self; score(images) -> anomaly scores (higher = more anomalous)."""

    name: str = "baseline"

    def __init__(
        self,
        max_train: int | None = None,
        seed: int = 0,
        n_jobs: int = 1,
        gcn: bool = True,
        train_multiple: int | None = None,
    ) -> None:
        if max_train is not None and max_train < 2:
            raise PIADError(f"max_train must be at least 2 images, got {max_train}")
        if train_multiple is not None and train_multiple < 1:
            raise PIADError(f"train_multiple must be a positive number, got {train_multiple}")
        self.max_train = max_train
        self.seed = seed
        self.n_jobs = n_jobs
        self.gcn = gcn
        # Deep SVDD's data loaders keep a random floor(N / 200) * 200 training images (whole
        # batches of 200) even for the shallow baselines (src/datasets/mnist.py, cifar10.py)
        self.train_multiple = train_multiple
        self.preprocessor_: Preprocessor | None = None
        self.n_train_: int = 0
        self.n_train_available_: int = 0

    @property
    def needs_holdout(self) -> bool:
        """True when ``fit`` needs a labelled hold-out (only OC-SVM's "holdout" variant)."""
        return False

    # -- subclasses -------------------------------------------------------------------
    @abstractmethod
    def _fit_features(self, z: np.ndarray, holdout: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Fit the model on preprocessed training features ``z`` (N, k)."""

    @abstractmethod
    def _score_features(self, z: np.ndarray) -> np.ndarray:
        """Anomaly scores of preprocessed features, higher = more anomalous."""

    @abstractmethod
    def _model_info(self) -> dict[str, Any]:
        """JSON-able hyper-parameters chosen by the fit."""

    # -- shared -----------------------------------------------------------------------
    #: images converted to float64 at a time when scoring (bounds memory on CelebA/LSUN)
    score_chunk: int = 4096

    def _fit(self, images: Any, holdout: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.preprocessor_ = None  # a failed fit leaves the estimator unfitted
        if not hasattr(images, "shape"):
            images = np.asarray(images)
        n = _count(images, "training images")
        if n == 1:
            raise PIADError(f"{self.name} needs at least 2 training images, got 1")
        keep = subsample_indices(n, self.max_train, self.seed)
        if self.train_multiple is not None and len(keep) >= self.train_multiple:
            whole = len(keep) // self.train_multiple * self.train_multiple
            keep = keep[subsample_indices(len(keep), whole, self.seed + 1)]
        if len(keep) < n:  # index first: a lazily read dataset is loaded only where needed
            images = images[keep]
        x = as_feature_matrix(images, "training images")
        preprocessor = Preprocessor(gcn=self.gcn).fit(x)
        z_holdout = None
        if holdout is not None:
            h_images, h_labels = holdout
            xh = preprocessor.transform(as_feature_matrix(h_images, "hold-out images"))
            z_holdout = (xh, as_labels(h_labels, len(xh), "hold-out labels"))
        self._fit_features(preprocessor.transform(x), z_holdout)
        self.preprocessor_ = preprocessor
        self.n_train_available_, self.n_train_ = n, len(keep)

    def score(self, images: Any) -> np.ndarray:
        """Anomaly score per image (float64, higher = more anomalous).

        Each image's score depends on that image alone (not on the rest of the batch).
        """
        if self.preprocessor_ is None:
            raise PIADError(f"{self.name} is not fitted; call fit(train_images) before score()")
        if not hasattr(images, "shape"):
            images = np.asarray(images)
        n = _count(images, "images")
        parts = [
            self._score_features(
                self.preprocessor_.transform(
                    as_feature_matrix(images[start : start + self.score_chunk], "images")
                )
            )
            for start in range(0, max(n, 1), self.score_chunk)
        ]
        return np.concatenate(parts).astype(np.float64)

    def info(self) -> dict[str, Any]:
        """JSON-able record of the fit: variant, hyper-parameters, PCA size, data used."""
        if self.preprocessor_ is None:
            raise PIADError(f"{self.name} is not fitted; call fit(train_images) before info()")
        return {
            "method": self.name,
            **self._model_info(),
            **self.preprocessor_.info(),
            "n_train": self.n_train_,
            "n_train_available": self.n_train_available_,
            "fraction_train_used": self.n_train_ / self.n_train_available_,
            "max_train": self.max_train,
            "train_multiple": self.train_multiple,
            "seed": self.seed,
        }
