"""One job, one runner: an advisory lock per job folder.

The process that runs a job holds ``fcntl.flock`` on ``<job folder>/job.lock`` for as long as
it runs it. The operating system releases the lock when that process ends, however it ends
(a crash, SIGKILL, a lost node): a lock is never stale, and nothing ever deletes the file. A
second runner on the same ``--out`` finds the jobs another live runner holds, skips them (the
report says which and who holds them) and takes the rest. Where ``--out`` is on a network file
system, Linux maps ``flock`` onto the server's byte-range locks (NFSv4 and most cluster file
systems), so runners on different machines exclude each other too.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> with hold(folder) as mine:
...     mine is not None, holder(folder) is not None
(True, True)
>>> holder(folder) is None
True
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "job.lock"


def _describe_me() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def hold(folder: str | os.PathLike[str]) -> Iterator[int | None]:
    """Hold the job's lock while inside; yields the lock's file descriptor, or ``None`` when
    another process holds it (then nothing is held and the job must not run here)."""
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, (_describe_me() + "\n").encode(), 0)
        yield fd
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def holder(folder: str | os.PathLike[str]) -> str | None:
    """Who holds the job's lock ("pid 123 on host"), or ``None`` when no live process does."""
    path = Path(folder) / LOCK_NAME
    if not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 200, 0).decode(errors="replace").strip()
            return text or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


__all__ = ["LOCK_NAME", "hold", "holder"]
