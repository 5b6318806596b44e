"""piad/cli/__init__.py: the ``piad`` parser (fit, score, report) and how ``main`` ends: 0,
2 with one "error: ..." line for bad input and unusable paths, 130 on Ctrl-C."""

from __future__ import annotations

import sys

import piad.cli as cli_module
from piad.cli import EXIT_BAD_INPUT, build_parser, main
from piad.cli.common import Parser


def test_the_parser_has_the_three_commands_each_with_its_run():
    parser = build_parser()
    assert isinstance(parser, Parser) and parser.prog == "piad"
    commands = next(a for a in parser._actions if a.dest == "command")
    assert sorted(commands.choices) == ["fit", "report", "score"]
    args = parser.parse_args(["score", "m.pt", "imgs", "--out", "s.csv"])
    assert args.command == "score" and callable(args.run)
    assert parser.parse_args(["fit", "d", "--out", "m.pt"]).run is not args.run


def test_help_exits_0_and_usage_errors_2_in_one_line(capsys):
    assert main(["--help"]) == 0
    assert "fit" in capsys.readouterr().out
    assert main([]) == EXIT_BAD_INPUT == 2  # a command is required
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["train", "x"]) == 2
    assert "invalid choice: 'train'" in capsys.readouterr().err
    assert main(["report", "m.pt", "d", "--out", "r", "--k", "0"]) == 2


def _parser_running(run):
    def build() -> Parser:
        parser = Parser(prog="piad")
        parser.add_argument("name")
        parser.set_defaults(run=run)
        return parser

    return build


def test_main_passes_the_arguments_and_returns_the_commands_code(monkeypatch):
    seen = {}

    def run(args):
        seen.update(name=args.name, argv=args.argv)
        return 0

    monkeypatch.setattr(cli_module, "build_parser", _parser_running(run))
    assert main(["x"]) == 0 and seen == {"name": "x", "argv": ["x"]}


def test_an_os_error_becomes_one_line_naming_the_path(monkeypatch, capsys):
    def run(args):
        raise PermissionError(13, "Permission denied", "/out/s.csv")

    monkeypatch.setattr(cli_module, "build_parser", _parser_running(run))
    assert main(["x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: PermissionError: [Errno 13]")
    assert "/out/s.csv" in err and "check the path, its permissions and space" in err


def test_ctrl_c_exits_130_and_a_closed_pipe_is_no_os_error(monkeypatch, capsys, tmp_path):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "build_parser", _parser_running(interrupted))
    assert main(["x"]) == 130 and "rerun the same command" in capsys.readouterr().err

    def closed(args):  # a BrokenPipeError is an OSError, but not an unusable path
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli_module, "build_parser", _parser_running(closed))
    with open(tmp_path / "stdout", "w") as out:  # command() points stdout at os.devnull
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["x"]) == 0
        monkeypatch.setattr(sys, "stdout", sys.__stdout__)
    assert capsys.readouterr().err == ""
