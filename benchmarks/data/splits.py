"""The ``Split`` type: which images train a model and which test it, saved as a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import PIADError
from piad.io import atomic_save_npz


@dataclass(frozen=True, eq=False)
class Split:
    """Train indices (normal images only), test indices and a label per test image.

    Indices point into the dataset's image array. ``test_labels[i]`` is 1 when
    ``test[i]`` is an anomaly. ``groups`` names subsets of anomalies that are scored
    separately (CelebA: one per attribute): each maps to positions into ``test`` of
    that group's anomalies; a group's AUC uses all normal test images plus the group.
    """

    dataset: str
    protocol: str
    normal: str
    seed: int
    fingerprint: str
    train: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("train", "test", "test_labels"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        object.__setattr__(
            self, "groups", {k: np.asarray(v, dtype=np.int64) for k, v in self.groups.items()}
        )
        if len(self.test) != len(self.test_labels):
            raise ValueError("test and test_labels differ in length")
        if not set(np.unique(self.test_labels).tolist()) <= {0, 1}:
            raise ValueError("test_labels must be 0 (normal) or 1 (anomaly)")

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "protocol": self.protocol,
            "normal": self.normal,
            "seed": self.seed,
            "fingerprint": self.fingerprint,
            "n_train": len(self.train),
            "n_test": len(self.test),
            "n_anomalies": int(self.test_labels.sum()),
            "groups": sorted(self.groups),
        }

    def group_mask(self, group: str) -> np.ndarray:
        """Boolean mask over ``test``: all normal images plus the group's anomalies."""
        mask = self.test_labels == 0
        mask[self.groups[group]] = True
        return mask

    def save(self, path: str | Path) -> Path:
        """Write the manifest as one ``.npz`` (arrays + a JSON header), atomically."""
        arrays = {f"group__{k}": v for k, v in self.groups.items()}
        return atomic_save_npz(
            path,
            meta=np.array(json.dumps(self.meta)),
            train=self.train,
            test=self.test,
            test_labels=self.test_labels,
            **arrays,
        )

    @classmethod
    def load(cls, path: str | Path) -> Split:
        path = Path(path)
        if not path.exists():
            raise PIADError(f"split manifest {path} does not exist; rerun the job to rebuild it")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                groups = {k[len("group__") :]: z[k] for k in z.files if k.startswith("group__")}
                return cls(
                    dataset=meta["dataset"],
                    protocol=meta["protocol"],
                    normal=meta["normal"],
                    seed=int(meta["seed"]),
                    fingerprint=meta["fingerprint"],
                    train=z["train"],
                    test=z["test"],
                    test_labels=z["test_labels"],
                    groups=groups,
                )
        except (OSError, ValueError, KeyError) as err:
            raise PIADError(
                f"split manifest {path} is corrupt ({err}); delete it and rerun"
            ) from err

    def same_as(self, other: Split) -> bool:
        return (
            self.meta == other.meta
            and np.array_equal(self.train, other.train)
            and np.array_equal(self.test, other.test)
            and np.array_equal(self.test_labels, other.test_labels)
            and self.groups.keys() == other.groups.keys()
            and all(np.array_equal(self.groups[k], other.groups[k]) for k in self.groups)
        )
