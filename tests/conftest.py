"""Fixtures shared by the test files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
