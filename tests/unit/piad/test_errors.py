"""piad.errors: one-line messages, how every command ends (exit codes and the "error: ..."
line), and registry lookups that list the known names."""

from __future__ import annotations

import os
import sys

import pytest

from piad.errors import (
    DiskFullError,
    MissingInputError,
    PIADError,
    ProblemsError,
    TrainingDivergedError,
    command,
    lookup,
    one_line,
    print_error,
    unknown_name,
)


def test_one_line_names_the_type_and_joins_the_lines():
    assert one_line(ValueError("bad\n  value\tgiven ")) == "ValueError: bad value given"
    assert one_line(OSError(2, "No such file")) == "FileNotFoundError: [Errno 2] No such file"


def test_error_classes_and_their_exit_codes():
    assert PIADError.exit_code == 2 and DiskFullError.exit_code == 1
    for cls in (DiskFullError, MissingInputError, TrainingDivergedError, ProblemsError):
        assert issubclass(cls, PIADError)
    assert MissingInputError("x").exit_code == TrainingDivergedError("x").exit_code == 2


def test_print_error_is_one_line_or_one_per_problem(capsys):
    print_error(PIADError("no such folder x;\n  give an existing one"))
    assert capsys.readouterr().err == "error: no such folder x; give an existing one\n"
    problems = ProblemsError(["mnist is missing:\n fetch it", "cifar10 is missing"])
    assert problems.problems == ("mnist is missing: fetch it", "cifar10 is missing")
    assert str(problems) == "mnist is missing: fetch it; cifar10 is missing"
    print_error(problems)
    assert capsys.readouterr().err.splitlines() == [
        "error: mnist is missing: fetch it",
        "error: cifar10 is missing",
    ]


def _ends_with(error: BaseException):
    @command
    def main(value: int = 0) -> int:
        if error is not None:
            raise error
        return value

    return main


def test_command_returns_the_value_or_the_errors_exit_code(capsys):
    assert _ends_with(None)(7) == 7 and capsys.readouterr().err == ""
    assert _ends_with(PIADError("bad input x; fix it"))() == 2
    assert capsys.readouterr().err == "error: bad input x; fix it\n"
    assert _ends_with(DiskFullError("no space left writing m.pt"))() == 1
    assert capsys.readouterr().err == "error: no space left writing m.pt\n"
    assert _ends_with(KeyboardInterrupt())() == 130
    assert capsys.readouterr().err == "interrupted; rerun the same command to resume\n"


def test_command_lets_other_exceptions_through():
    with pytest.raises(ZeroDivisionError):
        _ends_with(ZeroDivisionError("a bug, not bad input"))()


def test_a_closed_pipe_ends_quietly_with_0(tmp_path, monkeypatch):
    with open(tmp_path / "stdout.txt", "w") as out:
        monkeypatch.setattr(sys, "stdout", out)
        assert _ends_with(BrokenPipeError())() == 0
        os.write(out.fileno(), b"more output")  # stdout now goes to os.devnull
        monkeypatch.undo()
    assert (tmp_path / "stdout.txt").read_bytes() == b""


def test_lookup_returns_the_entry_or_lists_the_known_names():
    registry = {"mnist": 1, "cifar10": 2}
    assert lookup(registry, "dataset", "cifar10") == 2
    with pytest.raises(PIADError) as info:
        lookup(registry, "dataset", "mnsit")
    assert str(info.value) == "unknown dataset 'mnsit'; known: cifar10, mnist"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    error = unknown_name("suite", 3, [10, 2])
    assert isinstance(error, PIADError) and str(error) == "unknown suite 3; known: 10, 2"
