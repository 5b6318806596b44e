"""The paper's datasets: facts (:mod:`~benchmarks.data.info`), loaders, protocols and splits,
and how they are fetched and verified (:mod:`~benchmarks.data.acquire`).

``from benchmarks.data import load_dataset, make_split`` are the two entry points.
"""

from typing import Any

__all__ = ["load_dataset", "make_split"]


def __getattr__(name: str) -> Any:  # lazy: importing the package loads neither data nor torch
    if name == "load_dataset":
        from benchmarks.data.load_by_name import load_dataset

        return load_dataset
    if name == "make_split":
        from benchmarks.data.protocols import make_split

        return make_split
    raise AttributeError(name)
