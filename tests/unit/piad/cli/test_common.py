"""One command-line style: the parser and the count type that ``piad`` and ``run_all.py`` share."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import cli as run_all
from benchmarks.registry import SUITES
from piad.cli import build_parser as piad_parser
from piad.cli.common import Parser, positive_int


@pytest.mark.parametrize("text", ["0", "-3", "two", "1.5"])
def test_positive_int_refuses_what_is_no_count(text):
    with pytest.raises(argparse.ArgumentTypeError) as error:
        positive_int(text)
    assert str(error.value) == f"expected a positive whole number, got {text!r}"


def test_parser_errors_are_one_line_and_exit_2(capsys):
    parser = Parser(prog="tool")
    parser.add_argument("--iters", type=positive_int)
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--iters", "0"])
    assert done.value.code == 2
    message = "argument --iters: expected a positive whole number, got '0'"
    assert capsys.readouterr().err == f"tool: error: {message} (see --help)\n"


def test_both_commands_use_the_shared_parser_and_count_type():
    assert isinstance(run_all.build_parser(), Parser) and isinstance(piad_parser(), Parser)
    iters = {a.dest: a for a in run_all.build_parser()._actions}["iters"]
    assert iters.type is positive_int


def test_suite_help_names_the_registered_suites():
    suite = {a.dest: a for a in run_all.build_parser()._actions}["suite"]
    assert suite.help is not None
    for name in SUITES.names():
        assert name in suite.help
    assert suite.help.startswith("quick (default), table2, table3, lsun, ablation")
