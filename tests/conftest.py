"""Fixtures shared by the test files."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from paths import NO_CUDA, TEST_DEVICE_ENV

# helpers are imported by the tests, never collected: runner_plugin registers fakes on import,
# which the doctest collection (--doctest-modules) would otherwise do for the whole session
collect_ignore = ["helpers"]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, and 2-core CI machines stay responsive."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def accel() -> str:
    """The accelerator of a ``@pytest.mark.cuda`` test; skips (one reason line) without one."""
    import torch

    device = os.environ.get(TEST_DEVICE_ENV, "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(NO_CUDA)
    return device


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``cuda`` test must take the ``accel`` fixture, so it skips cleanly without a GPU."""
    for item in items:
        if item.get_closest_marker("cuda") and "accel" not in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(f"{item.nodeid} is marked cuda but does not use `accel`")
