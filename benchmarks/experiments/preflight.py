"""Before any job runs: is every dataset the jobs need here and whole, or can it be fetched now?

:func:`preflight` checks each dataset the selected jobs need: first that every file its loader
will read is whole (:func:`benchmarks.data.integrity.damaged_files`: sizes against the format
and the catalogue, small archives read to the end; one line per damaged file with the command
that replaces it), then that it is there (:func:`benchmarks.data.acquire.availability`), fetching
the missing ones with the same code as ``python -m benchmarks.fetch``. Any problem raises one
:class:`~piad.errors.ProblemsError`, one line per damaged file or missing dataset, before a
single job folder exists. :func:`check_out_folder` does the same for ``--out``, and
:func:`check_job_folders` for the files a rerun would resume from (a truncated ``result.json``
or ``checkpoint.pt`` is named with its fix, never silently trained over).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from benchmarks.data import acquire as fetching
from benchmarks.data.info import dataset_info
from benchmarks.data.integrity import damaged_files
from benchmarks.data.sources import known_datasets
from benchmarks.experiments.jobs import Job, JobFolder
from piad.errors import PIADError, ProblemsError, one_line


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
    for name in dict.fromkeys(dataset_info(d).files for d in datasets):
        if name not in known:
            continue
        damage = damaged_files(name, root)
        if damage:  # never replaced behind the user's back: each named with its command
            problems += [d.line() for d in damage]
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
                problems += [d.line() for d in damaged_files(name, root)]
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


def _damaged_checkpoint(path: Path) -> str | None:
    """Why ``path`` (a torch zip checkpoint) cannot be whole, from its zip directory (cheap)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            zf.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        return f"a truncated or damaged checkpoint ({one_line(err)})"
    return None


def job_folder_problems(jobs: Iterable[Job], out: str | os.PathLike[str]) -> list[str]:
    """One line per damaged ``result.json`` or ``work/checkpoint.pt`` of ``jobs`` under ``out``."""
    from benchmarks.experiments.results import Result
    from piad.training.checkpoint import CHECKPOINT_NAME

    problems = []
    for job in jobs:
        folder = JobFolder.of(job, Path(out))
        if folder.result.is_file():
            try:
                Result.load(folder.result)
            except PIADError as err:
                problems.append(
                    f"{folder.result}: a damaged result.json ({one_line(err)[:160]}); delete it "
                    "and rerun the same command (the job runs again; PIAD resumes from "
                    f"{JobFolder.WORK}/{CHECKPOINT_NAME})"
                )
        checkpoint = folder.work / CHECKPOINT_NAME
        if checkpoint.is_file() and (why := _damaged_checkpoint(checkpoint)) is not None:
            problems.append(
                f"{checkpoint}: {why}; delete it to train this job again from iteration 0, "
                "then rerun the same command (nothing else of the job is lost)"
            )
    return problems


def check_job_folders(jobs: Iterable[Job], out: str | os.PathLike[str]) -> None:
    """Raise :class:`ProblemsError`, one line per damaged file, when a rerun would meet one."""
    problems = job_folder_problems(jobs, out)
    if problems:
        raise ProblemsError(problems)


__all__ = ["check_job_folders", "check_out_folder", "job_folder_problems", "preflight"]
