"""The data root's records and lock: what was fetched into it, and one fetcher at a time.

- ``<root>/piad-data.lock.json`` records the size and digest of every file fetched into a data
  root (:func:`read_records`, :func:`write_record`): files without a published checksum are
  verified against it later.
- :func:`lock` holds an exclusive, re-entrant lock per data root (a file in the temporary
  folder, keyed by the root's real path), so two processes never fetch into one root at once.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.data import sources as _sources
from piad.errors import PIADError
from piad.io import atomic_write_json

# --------------------------------------------------------------------------- lock file


def lock_file(root: Path) -> Path:
    """``<root>/piad-data.lock.json``: size and digest of every file fetched into ``root``."""
    return Path(root) / _sources.LOCK_FILE


def read_records(root: Path) -> dict[str, dict[str, Any]]:
    """The recorded files, keyed by their path under the root (empty if none)."""
    path = lock_file(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PIADError(
            f"cannot read {path} ({err}); it records the checksums of the data: restore it, "
            "or delete it to record them afresh"
        ) from err
    return files


def write_record(root: Path, rel: str, entry: dict[str, Any] | None) -> None:
    records = read_records(root)
    if entry is None:
        records.pop(rel, None)
    else:
        records[rel] = entry
    atomic_write_json(lock_file(root), {"format": 1, "files": records})


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- process lock


class _Held:
    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.handle: Any = None


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def lock_path(root: str | Path) -> Path:
    """The lock file of a data root: in the temporary folder, keyed by the root's real path.

    The same file as the runner's data lock, so fetching and loading exclude each other.
    """
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"piad-data-{digest}.lock"


@contextlib.contextmanager
def lock(root: str | Path, timeout: float | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``root`` (re-entrant within a thread); yields its path.

    Waits for another process holding it (saying so once on stderr), at most ``timeout``
    seconds when given, then raises :class:`PIADError`.
    """
    path = lock_path(root)
    with _HELD_GUARD:
        held = _HELD.setdefault(str(path), _Held())
    if not held.rlock.acquire(timeout=-1 if timeout is None else timeout):
        raise PIADError(f"another thread is fetching into {root}; try again when it is done")
    try:
        if held.depth == 0:
            handle = open(path, "a")  # noqa: SIM115 - held across the yield
            try:
                _flock(handle, root, path, timeout)
            except BaseException:
                handle.close()
                raise
            held.handle = handle
        held.depth += 1
        try:
            yield path
        finally:
            held.depth -= 1
            if held.depth == 0:
                fcntl.flock(held.handle, fcntl.LOCK_UN)
                held.handle.close()
                held.handle = None
    finally:
        held.rlock.release()


def _flock(handle: Any, root: str | Path, path: Path, timeout: float | None) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        print(f"waiting for another process fetching into {root} (lock {path})", file=sys.stderr)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise PIADError(
                    f"another process is fetching into {root} (lock {path}); wait for it to "
                    "finish and run the command again"
                ) from None
            time.sleep(0.1)


__all__ = ["lock", "lock_file", "lock_path", "now", "read_records", "write_record"]
