"""Plugin module for the full-disk tests: one write of a named file finds the disk full.

``PIAD_TEST_FULL_DISK="result.json:/path/marker"`` makes the first write of ``result.json``
(``"checkpoint.pt@2:..."``: the second write of ``checkpoint.pt`` in a process) fail with ENOSPC
inside the suite's one write helper (:func:`piad.io._write_fd`), as the kernel would, and
creates ``marker`` so that the fault happens once per test, whatever the process.
Load it with ``PIAD_PLUGINS=runner_plugin,full_disk_plugin``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import piad.io

ENV = "PIAD_TEST_FULL_DISK"
_real_write_fd = piad.io._write_fd
_seen: dict[str, int] = {}


def _target(fd: int) -> str:
    """The name of the file ``fd`` is open on (the atomic helpers' ``.<name>.<random>.tmp``)."""
    return Path(os.readlink(f"/proc/self/fd/{fd}")).name


def _write_fd(fd: int, data: bytes) -> None:
    spec, _, marker = os.environ.get(ENV, "").partition(":")
    name, _, nth = spec.partition("@")
    if name and _target(fd).startswith(f".{name}."):
        _seen[name] = _seen.get(name, 0) + 1
        hit = _seen[name] == int(nth or 1)
    else:
        hit = False
    if hit and not os.path.exists(marker):
        Path(marker).touch()
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    _real_write_fd(fd, data)


piad.io._write_fd = _write_fd
