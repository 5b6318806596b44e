"""benchmarks/data/__init__.py: load_dataset and make_split are reached lazily through the
package; importing it loads neither torch nor the loaders."""

from __future__ import annotations

import subprocess
import sys

import pytest
from paths import ROOT

import benchmarks.data as data
from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.protocols import make_split


def test_the_two_entry_points_are_the_modules_functions():
    assert data.load_dataset is load_dataset
    assert data.make_split is make_split
    from benchmarks.data import load_dataset as again

    assert again is load_dataset
    assert sorted(data.__all__) == ["load_dataset", "make_split"]


def test_another_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="cached_dataset"):
        data.cached_dataset  # noqa: B018 - only the two entry points are lazy
    assert not hasattr(data, "no_such_thing")


def test_importing_the_package_loads_neither_torch_nor_a_loader():
    code = (
        "import sys, benchmarks.data\n"
        "print(sorted(m for m in ('torch', 'benchmarks.data.load_by_name',"
        " 'benchmarks.data.protocols') if m in sys.modules))\n"
        "benchmarks.data.load_dataset\n"
        "print('benchmarks.data.load_by_name' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]
