"""Folders the tests use: the repository, tests, helpers, golden files, shared data."""

from __future__ import annotations

from pathlib import Path

HELPERS = Path(__file__).resolve().parent  # on PYTHONPATH for subprocess tests (plugins)
TESTS = HELPERS.parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
#: the authors' VGG statistics, shared with the developers (never committed); tests skip without
SHARED_DATA = ROOT.parent / "shared" / "data"
