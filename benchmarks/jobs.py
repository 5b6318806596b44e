"""The unit of work of a suite: one (dataset, normal class, method, seed) run."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def _safe(text: str) -> str:
    """A path-safe form of a name (class names such as 'T-shirt/top')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "_"


@dataclass(frozen=True, order=True)
class Job:
    """One run of one method on one split.

    ``normal`` is the normal class name (or ``"normal"`` for protocols whose normal set is
    fixed, such as CelebA attributes and LSUN bedrooms). ``iters`` overrides the method's
    training budget (``None`` = the paper's); it is recorded in every result.

    >>> Job("table2", "mnist", "one_vs_all", "3", "piad", "code", 0).slug
    'mnist/piad-code/3/seed0'
    """

    suite: str
    dataset: str
    protocol: str
    normal: str
    method: str
    variant: str = ""
    seed: int = 0
    iters: int | None = None

    @property
    def method_label(self) -> str:
        return f"{self.method}-{self.variant}" if self.variant else self.method

    @property
    def slug(self) -> str:
        return (
            f"{_safe(self.dataset)}/{_safe(self.method_label)}/{_safe(self.normal)}/seed{self.seed}"
        )

    def folder(self, out: str | Path) -> Path:
        """``<out>/<dataset>/<method>[-<variant>]/<normal>/seed<k>/``."""
        return Path(out) / self.slug

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
