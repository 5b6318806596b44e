"""Folders the tests use: the repository, tests, helpers, golden files, shared data."""

from __future__ import annotations

from pathlib import Path

HELPERS = Path(__file__).resolve().parent  # on PYTHONPATH for subprocess tests (plugins)
TESTS = HELPERS.parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
#: the authors' VGG statistics, shared with the developers (never committed); tests skip without
SHARED_DATA = ROOT.parent / "shared" / "data"

#: the device the ``cuda`` tests run on: CUDA, or this variable's value (``gpu_check --device
#: cpu`` sets it to ``cpu`` to run the same tests' code paths on a machine without a GPU)
TEST_DEVICE_ENV = "PIAD_TEST_DEVICE"
NO_CUDA = (
    "CUDA variants: torch.cuda.is_available() is False here; run `pytest -m cuda` on a GPU "
    f"machine (or {TEST_DEVICE_ENV}=cpu to run these paths on the CPU)"
)


def plugin_env(plugins: str = "runner_plugin", **extra: str) -> dict[str, str]:
    """This process's environment for a subprocess that loads the test plugins ``plugins``
    (``$PIAD_PLUGINS``) from the helpers folder, with ``extra`` variables set."""
    import os

    env = dict(os.environ)
    env["PIAD_PLUGINS"] = plugins
    env["PYTHONPATH"] = os.pathsep.join([str(HELPERS), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env
