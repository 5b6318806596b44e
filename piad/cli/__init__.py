"""The ``piad`` command line (also ``python -m piad``): PIAD on a folder of your own images.

::

    piad fit NORMAL_DIR --out MODEL.pt [--preset mnist|...|FILE.json] [--size S] [--channels 1|3]
             [--iters N] [--device D] [--seed K] [--workdir DIR] [--method piad|ocsvm|kde|...]
    piad score MODEL.pt DIR_OR_FILES... --out scores.csv [--labels auto|CSV]
    piad report MODEL.pt DIR --out report/ [--k 8] [--labels auto|CSV]

Bad input (a missing, empty or image-less folder, an unreadable image with ``--strict``, mixed
grayscale and RGB images without ``--channels``, a file that is not a model, images unlike the
training ones, an ``--out`` of the wrong kind) is one line ``error: ...`` on stderr naming the
file and the fix, exit code 2; files are written atomically and only after success.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from piad.errors import PIADError, command, one_line

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    from piad.cli import fit, report, score
    from piad.cli.common import Parser

    parser = Parser(
        prog="piad",
        description="Perceptual Image Anomaly Detection on your own images: train on a folder "
        "of normal images, score new ones, write a report.",
        epilog="`piad COMMAND --help` explains each command. Bad input exits with code 2 and "
        "one line 'error: ...'.",
        allow_abbrev=False,
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    fit.add_parser(sub)
    score.add_parser(sub)
    report.add_parser(sub)
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``piad`` command; returns the exit code (0; 2 for bad input; 130 on Ctrl-C).

    Bad input ends through :func:`piad.errors.command`: one line "error: ..." on stderr.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a usage error (one line, code 2)
        return int(done.code or 0) if not isinstance(done.code, str) else EXIT_BAD_INPUT
    args.argv = argv
    try:
        return int(args.run(args))
    except BrokenPipeError:
        raise  # output piped into `head`: command() ends quietly
    except OSError as error:  # a path that cannot be read or written (permissions, disk full)
        raise PIADError(f"{one_line(error)}; check the path, its permissions and space") from error


__all__ = ["EXIT_BAD_INPUT", "build_parser", "main"]
