"""Fixtures of the ``piad`` command-line tests: image folders of real digits (the ``mnist5k``
and ``files`` fixtures of tests/unit/piad/conftest.py), a tiny preset, the command in-process."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ones_and_sevens(tmp_path, mnist5k, files) -> Path:
    """train/ (40 ones, PNG) and test/normal (20 ones) + test/anomaly (20 sevens), PNG+JPEG."""
    write_images, digits = files.write_images, files.digits
    write_images(tmp_path / "train", digits(mnist5k, 1, 40))
    write_images(tmp_path / "test" / "normal", digits(mnist5k, 1, 10, start=100))
    write_images(tmp_path / "test" / "normal", digits(mnist5k, 1, 10, start=110), ".jpg")
    write_images(tmp_path / "test" / "anomaly", digits(mnist5k, 7, 20, start=100))
    return tmp_path


@pytest.fixture
def kde_model(ones_and_sevens, cli) -> Path:
    """A KDE model file fit on ``ones_and_sevens``' train/ folder."""
    out = ones_and_sevens / "kde.pt"
    code, _, err = cli(
        "fit", ones_and_sevens / "train", "--out", out, "--method", "kde", "--no-progress"
    )
    assert code == 0, err
    return out


@pytest.fixture
def tiny_json(tmp_path) -> Path:
    """The tests' tiny PIAD (8 px, MSE distance: no VGG-19) as a --preset JSON file."""
    import json

    from piad_tiny import tiny_config

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config().to_dict()))
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    from piad.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``piad`` in-process: ``cli("fit", dir, "--out", m)`` -> (code, stdout, stderr)."""
    return lambda *argv: run_cli(capsys, *argv)


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    """Exit code 2 and exactly one stderr line "error: ..." holding every needle."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.fixture
def one_line_error():
    return assert_one_line_error
