"""User-facing errors: every message names the problem and the fix."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import ParamSpec

P = ParamSpec("P")


class PIADError(Exception):
    """An error caused by input or environment, with a message a user can act on.

    The command line prints ``str(error)`` as one line and exits non-zero; nothing
    already computed is lost because every result is written atomically.
    """

    exit_code = 2  # bad input or environment; a command that ends with it returns this


class DiskFullError(PIADError):
    """A write found no space (ENOSPC, EDQUOT); the file it would replace is intact."""

    exit_code = 1  # not bad input: the same command, rerun with space, completes


class MissingInputError(PIADError):
    """Data, weights or statistics that are needed are not on this machine."""


class TrainingDivergedError(PIADError):
    """A loss became NaN or inf during training."""


class ProblemsError(PIADError):
    """Several independent problems found at once (one per missing dataset), one line each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(" ".join(str(p).split()) for p in problems)
        super().__init__("; ".join(self.problems))


def print_error(error: BaseException) -> None:
    """How every command reports a :class:`PIADError`: one line "error: ..." on stderr
    (one line per problem for a :class:`ProblemsError`)."""
    lines = error.problems if isinstance(error, ProblemsError) else (str(error),)
    for line in lines:
        print("error: " + " ".join(line.split()), file=sys.stderr)


def command(main: Callable[P, int]) -> Callable[P, int]:
    """Decorator for every command's ``main``: how bad input ends, the same everywhere.

    A :class:`PIADError` prints one line "error: ..." on stderr and returns its ``exit_code``
    (2; 1 for a :class:`DiskFullError`);
    Ctrl-C returns 130 with a hint that rerunning resumes; output piped into ``head`` and the
    like ends quietly with 0 (no BrokenPipeError traceback).

    >>> @command
    ... def main() -> int:
    ...     raise PIADError("no such file x.pt; give an existing model")
    >>> main()
    2
    """

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except PIADError as error:
            print_error(error)
            return error.exit_code
        except KeyboardInterrupt:
            print("interrupted; rerun the same command to resume", file=sys.stderr)
            return 130
        except BrokenPipeError:  # stdout closed early (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return wrapper


def one_line(error: BaseException) -> str:
    """``"TypeName: message"`` on one line (for error messages that quote another error)."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def unknown_name(kind: str, name: object, known: Iterable[object]) -> PIADError:
    """Error for a name that is not in a registry, listing the names that are.

    >>> str(unknown_name("dataset", "mnsit", ["mnist", "cifar10"]))
    "unknown dataset 'mnsit'; known: cifar10, mnist"
    """
    names = ", ".join(sorted(str(k) for k in known))
    return PIADError(f"unknown {kind} {name!r}; known: {names}")


def lookup(registry: dict, kind: str, name: str):  # type: ignore[type-arg]
    """``registry[name]``, or a :class:`PIADError` that lists the known names."""
    try:
        return registry[name]
    except KeyError:
        raise unknown_name(kind, name, registry) from None
