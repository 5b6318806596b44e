"""What the ``piad`` commands share: argument types, ``--out`` checks, ranks and score tables."""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from piad.errors import PIADError


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line ("piad fit: error: ... (see --help)"), exit code 2.

    The parser of ``piad`` and of ``run_all.py``: no usage block before the error.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type of a count such as ``--iters``: a whole number >= 1.

    >>> positive_int("3")
    3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _check_parents(out: Path) -> None:
    """The nearest existing parent of ``--out`` must be a folder."""
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PIADError(f"--out {out}: {parent} is a file, not a folder; give another path")
            break


def check_out_file(path: str | Path, example: str) -> Path:
    """``--out`` names a file to write: refuse a folder (or a file where a folder must be)."""
    out = Path(path)
    if out.is_dir():
        raise PIADError(f"--out {out} is a folder; give a file name such as {out / example}")
    _check_parents(out)
    return out


def check_out_dir(path: str | Path) -> Path:
    """``--out`` names a folder to write into (created): refuse an existing file."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise PIADError(f"--out {out} is a file; give a folder name for the report (it is created)")
    _check_parents(out)
    return out


def ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of each score, 1 = the highest (most anomalous); ties keep the file order.

    >>> ranks(np.array([0.1, 0.9, 0.5, 0.9])).tolist()
    [4, 1, 3, 2]
    """
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.int64)
    out[order] = np.arange(1, len(scores) + 1)
    return out


def scores_csv(paths: Sequence[Path], scores: np.ndarray, labels: np.ndarray | None) -> str:
    """The score table: one row per image (path, score, rank[, label]), in file order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "score", "rank", *(["label"] if labels is not None else [])])
    r = ranks(scores)
    for i, path in enumerate(paths):
        row: list[Any] = [str(path), repr(float(scores[i])), int(r[i])]
        if labels is not None:
            row.append(int(labels[i]))
        writer.writerow(row)
    return buf.getvalue()


def skipped_record(skipped: Sequence[tuple[Path, str]], limit: int = 100) -> list[dict[str, str]]:
    """JSON-able list of skipped files (at most ``limit``)."""
    return [{"path": str(p), "reason": why} for p, why in skipped[:limit]]


__all__ = [
    "Parser",
    "check_out_dir",
    "check_out_file",
    "non_negative_int",
    "positive_int",
    "ranks",
    "scores_csv",
    "skipped_record",
]
