"""piad/__init__.py: the package's errors at once, PIAD and PIADConfig on first use, and
``import piad`` without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import piad


def test_errors_are_exported_as_defined():
    from piad import errors

    assert piad.PIADError is errors.PIADError
    assert piad.MissingInputError is errors.MissingInputError
    assert piad.TrainingDivergedError is errors.TrainingDivergedError
    assert set(piad.__all__) == {
        "PIAD",
        "MissingInputError",
        "PIADConfig",
        "PIADError",
        "TrainingDivergedError",
    }


def test_lazy_exports_are_the_classes_and_unknown_names_raise():
    from piad.config import PIADConfig
    from piad.model import PIAD

    assert piad.PIAD is PIAD and piad.PIADConfig is PIADConfig
    from piad import PIAD as imported

    assert imported is PIAD
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = piad.NoSuchThing
    assert not hasattr(piad, "no_such_thing")


def test_importing_piad_does_not_import_torch():
    code = (
        "import sys, piad; "
        "assert piad.PIADError.exit_code == 2; "
        "print('torch' in sys.modules, 'piad.model' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
