"""Unpack a verified archive into the loader's layout, all or nothing.

The archive is extracted into a staging folder next to its destination (same file system),
its expected top-level entries are checked, and only then moved into place, each by one
atomic rename. A damaged or truncated archive raises one :class:`~piad.errors.PIADError`
line and leaves the destination as it was. Member paths that would leave the staging
folder (absolute, ``..``, links) are refused.
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from piad.errors import PIADError, one_line

STAGING_PREFIX = ".piad-extract-"
_EXTRACT_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
)


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts


def _extract_zip(archive: Path, staging: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not _safe_name(info.filename):
                raise PIADError(f"{archive.name} has an unsafe member path {info.filename!r}")
            zf.extract(info, staging)  # a bad CRC raises BadZipFile at the member's end


def _extract_tar(archive: Path, staging: Path) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:
            if not _safe_name(member.name) or not (member.isfile() or member.isdir()):
                raise PIADError(f"{archive.name} has an unsafe member {member.name!r}")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the library checks too
                tf.extract(member, staging, set_attrs=False, filter="data")
            else:  # pragma: no cover - older Pythons: the checks above only
                tf.extract(member, staging, set_attrs=False)


def remove_stale_staging(folder: Path) -> None:
    """Delete staging folders left by an extraction that was killed."""
    if folder.is_dir():
        for stale in folder.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)


def extract(
    archive: Path,
    kind: str,
    dest: Path,
    outputs: Sequence[str],
    verify: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Unpack ``archive`` (``"zip"`` or ``"tar.gz"``) so that ``dest/<output>`` exist.

    ``verify`` is called on the staging folder (laid out like ``dest``) before anything is
    placed. Entries of the archive other than ``outputs`` are dropped. Returns the placed
    paths. Existing ``dest/<output>`` entries are replaced (never merged).
    """
    dest.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(dest)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    try:
        try:
            if kind == "zip":
                _extract_zip(archive, staging)
            elif kind == "tar.gz":
                _extract_tar(archive, staging)
            else:
                raise PIADError(f"unknown archive kind {kind!r}; use zip or tar.gz")
        except _EXTRACT_ERRORS as err:
            raise PIADError(
                f"cannot extract {archive.name}: {one_line(err)}; the archive is damaged or "
                "truncated"
            ) from err
        missing = [out for out in outputs if not (staging / out).exists()]
        if missing:
            raise PIADError(f"{archive.name} does not contain {', '.join(missing)}")
        if verify is not None:
            try:
                verify(staging)
            except PIADError as err:
                raise PIADError(f"{archive.name} unpacks wrongly: {err}") from err
        placed = []
        for out in outputs:
            target = dest / out
            old = staging / f".replaced-{PurePosixPath(out).name}"
            if target.exists() or target.is_symlink():
                target.rename(old)
            (staging / out).rename(target)
            placed.append(target)
        return placed
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
