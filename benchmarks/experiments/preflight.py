"""Before any job runs: is every dataset the jobs need here, or can it be fetched now?

:func:`preflight` checks each dataset the selected jobs need (:func:`benchmarks.data.fetch.
availability`), fetches the missing ones with the same code as ``python -m benchmarks.fetch``,
and, if any is still missing, raises one :class:`~piad.errors.ProblemsError` with one line per
dataset (what is missing, where it was looked for, the exact command or URL to get it) before
a single job folder exists. :func:`check_out_folder` does the same for ``--out``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from benchmarks.data import fetch as fetching
from benchmarks.data.info import dataset_info
from benchmarks.data.sources import known_datasets
from piad.errors import PIADError, ProblemsError, one_line


def files_of(dataset: str) -> str:
    """The name of the file set a dataset reads (``coil100_bilinear`` reads ``coil100``'s)."""
    return dataset_info(dataset).files_from or dataset


def preflight(
    datasets: Iterable[str],
    root: str | os.PathLike[str],
    *,
    fetch_missing: bool = True,
    yes: bool = False,
    progress: bool = True,
) -> list[str]:
    """Make sure the datasets are under ``root``; returns the ones fetched now.

    Datasets without a known source (plugins) are left to their loader. Raises
    :class:`ProblemsError`, one line per dataset that is missing and could not be fetched.
    """
    root = Path(root)
    problems: list[str] = []
    fetched: list[str] = []
    known = set(known_datasets())
    for name in dict.fromkeys(files_of(d) for d in datasets):
        if name not in known:
            continue
        problem = fetching.availability(name, root)
        if problem is None:
            continue
        if fetch_missing:
            try:
                fetching.fetch([name], root, progress=progress, yes=yes)
            except PIADError as err:
                problem = f"{problem}; fetching it failed: {one_line(err)[:200]}"
            else:
                problem = fetching.availability(name, root)
                fetched.append(name)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ProblemsError(problems)
    return fetched


def check_out_folder(out: str | os.PathLike[str]) -> Path:
    """``--out`` as a folder that is, or can be made, writable; one line saying why not.

    Creates nothing: a command that stops in preflight leaves no folder behind.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PIADError(f"--out {out} is a file, not a folder; give a folder for the results")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PIADError(f"--out {out}: {existing} is a file, not a folder; give another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PIADError(f"--out {out} is not writable ({existing}); give a folder you can write to")
    return out


__all__ = ["check_out_folder", "files_of", "preflight"]
