"""Atomic file writes: a reader never sees a half-written file.

Every result, manifest and checkpoint of the suite goes through these helpers
(temporary file in the same folder, fsync, then ``os.replace``); every byte goes through
:func:`stage_bytes`, where a full disk becomes one :class:`DiskFullError` line naming the disk
and the folder, with the previous file left intact.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(err: BaseException) -> bool:
    """A :class:`DiskFullError`, or an ``OSError`` for lack of space (ENOSPC, EDQUOT)."""
    return isinstance(err, DiskFullError) or (isinstance(err, OSError) and err.errno in _FULL)


def mount_of(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(mount point, device) of the file system holding ``path`` (its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    dev = p.stat().st_dev
    while p != p.parent and p.parent.stat().st_dev == dev:
        p = p.parent
    device = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[1] == str(p):
                device = fields[0]
    return str(p), device


def disk_full(path: str | os.PathLike[str], err: OSError) -> DiskFullError:
    """The one line of a write that found no space: the disk, the folder, the fix."""
    mount, device = mount_of(Path(path).parent)
    return DiskFullError(
        f"disk full: no space left on {device} (mounted at {mount}) writing {Path(path).name} "
        f"in {Path(path).parent} ({os.strerror(err.errno or errno.ENOSPC)}); the file it "
        "replaces is intact: free space there, then rerun the same command to resume"
    )


def _write_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` and fsync it: the one place the suite's files get their bytes."""
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def stage_bytes(path: str | os.PathLike[str], data: bytes) -> str:
    """``data`` in a synced temporary file next to ``path`` (same file system); returns its name.

    ``os.replace(tmp, path)`` then gives ``path`` its new content atomically. A full disk
    raises :class:`DiskFullError` (one line naming the disk and the folder) and leaves nothing.
    """
    path = Path(path)
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        _write_fd(fd, data)
    except BaseException as err:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno in _FULL:
            raise disk_full(path, err) from err
        raise
    return tmp


def append_csv_row(
    path: str | os.PathLike[str], fieldnames: Sequence[str], row: Mapping[str, Any]
) -> None:
    """Append one CSV row to ``path`` in one write (the header first when the file is new).

    Appends are not atomic: a write the disk cannot take is cut back to the file's previous
    size (never a half row) and raises :class:`DiskFullError`.
    """
    path = Path(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(fieldnames))
    new = not path.exists()
    if new:
        writer.writeheader()
    writer.writerow(dict(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0 if new else path.stat().st_size
    try:
        with open(path, "a", newline="") as f:
            f.write(text.getvalue())
    except OSError as err:
        with contextlib.suppress(OSError):
            os.truncate(path, size)
        if err.errno in _FULL:
            raise disk_full(path, err) from err
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; creates parent folders."""
    path = Path(path)
    tmp = stage_bytes(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stubs: allow_pickle
    return atomic_write_bytes(path, buf.getvalue())


def torch_bytes(obj: Any) -> bytes:
    """``torch.save(obj)`` as bytes (written by the helpers above)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    return atomic_write_bytes(path, torch_bytes(obj))


def read_torch_file(
    path: str | os.PathLike[str], what: str, hint: str = "", mmap: bool = False
) -> Any:
    """``torch.load`` onto the CPU with ``weights_only``; an unreadable file raises one
    :class:`~piad.errors.PIADError` line, "cannot read <what> <path>: <error><hint>".

    ``mmap`` maps zip-format files instead of reading them (legacy files are read whole).
    """
    import torch

    from piad.errors import PIADError, one_line

    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy format
    except Exception as e:
        raise PIADError(f"cannot read {what} {path}: {one_line(e)}{hint}") from e


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (memoised per path, size and mtime: weight files are large)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]
