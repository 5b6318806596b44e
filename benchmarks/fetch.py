"""``python -m benchmarks.fetch SUITE|DATASET... [--data-root DIR] [--dry-run] [--yes]
[--no-progress] [--verify]``: the command line of :mod:`benchmarks.data.acquire`.

Suite names expand to the datasets of the suite (:mod:`benchmarks.experiments.suites`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.data import sources as _sources
from benchmarks.data.acquire import FETCH_COMMAND, availability, fetch, human_size, plan
from benchmarks.data.integrity import damaged_files
from piad.errors import PIADError, command


def resolve(
    names: Sequence[str], suite_datasets: Callable[[str], list[str] | None] | None = None
) -> list[str]:
    """Dataset names from suite and dataset names, in order, each once."""
    known = _sources.known_datasets()
    out: list[str] = []
    for name in names:
        if name in known:
            out.append(name)
            continue
        expanded = suite_datasets(name) if suite_datasets is not None else None
        if expanded is None:
            what = "suite or dataset" if suite_datasets is not None else "dataset"
            raise PIADError(f"unknown {what} {name!r}; known datasets: {', '.join(known)}")
        out += expanded
    return list(dict.fromkeys(out))


def dry_run_table(datasets: Sequence[str], root: str | Path, verify: bool = False) -> str:
    """The ``--dry-run`` listing: one row per file, then each dataset's terms and fallback."""
    from tabulate import tabulate

    rows, notes = [], []
    for name in datasets:
        source = _sources.dataset_source(name)
        statuses = plan(name, root, verify=verify)
        for s in statuses:
            size = human_size(s.size) if s.size is not None else human_size(s.size_hint, True)
            if s.size is None and s.size_hint is None:
                size = "stated by server"
            state = s.state + (f" ({s.detail})" if s.detail else "")
            rows.append([s.dataset, s.file, s.source, size, s.checksum, state])
        if not statuses:
            problem = source.builtin() if source.builtin else None
            rows.append([name, source.layout, "-", "-", "-", problem or "present (built in)"])
        note = f"{name}: {source.licence.text} ({source.licence.url})"
        if source.mirror is not None:
            rev = (source.mirror.revision or "latest")[:7]
            note += f"; if the official files fail: {source.mirror.page} at revision {rev}"
        notes.append(note)
    headers = ["dataset", "file", "source", "size", "checksum", "state"]
    table = tabulate(rows, headers=headers, tablefmt="simple")
    return table + "\n\nterms of use:\n" + "\n".join(f"  {n}" for n in notes)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m benchmarks.fetch``."""
    parser = argparse.ArgumentParser(
        prog=FETCH_COMMAND,
        description="Download and verify the datasets of a suite (or of named datasets).",
    )
    parser.add_argument("names", nargs="+", metavar="SUITE|DATASET")
    parser.add_argument("--data-root", default="data", help="datasets folder (default ./data)")
    parser.add_argument("--dry-run", action="store_true", help="list the files, fetch nothing")
    parser.add_argument("--yes", action="store_true", help="allow downloads of 20 GB and more")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="re-hash present files and read every archive to its end (the run's preflight "
        "checks sizes and small archives only)",
    )
    return parser


@command
def main(
    argv: Sequence[str] | None = None,
    suite_datasets: Callable[[str], list[str] | None] | None = None,
) -> int:
    """``python -m benchmarks.fetch``; 0 on success, 2 on a one-line error.

    Bad input ends through :func:`piad.errors.command` ("error: ..." on stderr); Ctrl-C
    returns 130 with a line saying that partial downloads resume.
    """
    args = build_parser().parse_args(argv)
    try:
        return _fetch(args, suite_datasets)
    except KeyboardInterrupt:
        print(
            "error: interrupted; partial downloads stay as .part files and resume next time",
            file=sys.stderr,
        )
        return 130


def _fetch(
    args: argparse.Namespace, suite_datasets: Callable[[str], list[str] | None] | None
) -> int:
    """Everything after parsing; raises :class:`PIADError` for bad input."""
    names = resolve(args.names, suite_datasets)
    if args.dry_run:
        print(dry_run_table(names, args.data_root, verify=args.verify))
        return _report_damage(names, args.data_root, args.verify)
    placed = fetch(names, args.data_root, progress=not args.no_progress, yes=args.yes)
    for name in names:
        problem = availability(name, args.data_root)
        print(f"{name}: {'ready' if problem is None else problem}")
    if not placed:
        print(f"nothing to download: everything is in {args.data_root}")
    return _report_damage(names, args.data_root, args.verify)


def _report_damage(names: Sequence[str], root: str | Path, verify: bool) -> int:
    """The preflight's integrity check (full with ``verify``): one line per damaged file, 2."""
    damage = [d for name in names for d in damaged_files(name, root, verify=verify)]
    for d in damage:
        print(f"error: {d.line()}", file=sys.stderr)
    return 2 if damage else 0


__all__ = ["build_parser", "dry_run_table", "main", "resolve"]


if __name__ == "__main__":
    from benchmarks.experiments.suites import suite_datasets

    sys.exit(main(sys.argv[1:], suite_datasets=suite_datasets))
