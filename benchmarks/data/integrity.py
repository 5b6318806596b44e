"""Is every dataset file a job will read whole? Cheap checks before any job, full ones on demand.

:func:`damaged_files` looks at the files the loader of a dataset will actually read (the IDX
folder it picks, CIFAR-10's batch files, COIL-100's folder or zip, CelebA's tables) and at the
catalogue's files present under the root, and returns one :class:`Damage` per damaged file.
Only files that exist are judged: a missing file is :func:`benchmarks.data.acquire.availability`'s
business.

Cheap (the preflight of every run): sizes against what the format or the catalogue states (an
IDX header against the file's size, the size in the catalogue or in ``piad-data.lock.json``,
CIFAR-10's 10,000 images per batch, COIL-100's 7,200 images, CelebA's 202,599), and gzip, zip
and tar files read to the end when they are under :data:`FULL_READ_BYTES`. ``verify=True``
(``python -m benchmarks.fetch --verify``) adds the checksums (published or recorded) and reads
every archive to its end whatever its size.

>>> from pathlib import Path
>>> damaged_files("mnist5k", Path("/nonexistent"))
[]
"""

from __future__ import annotations

import gzip
import pickle
import shlex
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.data import sources as _sources
from benchmarks.data.datalock import read_records
from benchmarks.data.idx import (
    IDX_DTYPES,
    IDX_FILES,
    find_idx_file,
    has_idx_set,
    idx_folder_candidates,
)
from benchmarks.data.source_types import RemoteFile
from piad.errors import PIADError, one_line

#: archives (gz, zip, tar) at most this large are read to their end by the cheap check
FULL_READ_BYTES = 100 * 10**6
FETCH_COMMAND = "python -m benchmarks.fetch"
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, zipfile.BadZipFile, tarfile.TarError)
CIFAR_BATCH_IMAGES = 10_000
COIL_IMAGES = 7_200


@dataclass(frozen=True)
class Damage:
    """A damaged file: where it is, what is wrong, and what replaces it."""

    path: Path
    problem: str
    fix: str

    def line(self) -> str:
        """One line: path, what is wrong, the command that replaces it."""
        return f"{self.path}: {self.problem}; {self.fix}"


def _fix(dataset: str, root: Path, delete: Path) -> str:
    command = f"{FETCH_COMMAND} {dataset} --data-root {shlex.quote(str(root))}"
    what = "rm -r" if delete.is_dir() else "rm"
    return f"replace it: {what} {shlex.quote(str(delete))} && {command}"


# --------------------------------------------------------------------------- formats


def _read_through_gzip(path: Path) -> tuple[bytes, int]:
    """(the first 64 bytes, the whole length) of a gzip file's content; raises when damaged."""
    head, total = b"", 0
    with gzip.open(path, "rb") as f:
        while block := f.read(1 << 20):
            if len(head) < 64:
                head += block[: 64 - len(head)]
            total += len(block)
    return head, total


def idx_problem(path: Path, full: bool = False) -> str | None:
    """What is wrong with an IDX file (plain or gzipped), or ``None``.

    A plain file's size must equal its header's; a gzipped one is read to its end when it is
    under :data:`FULL_READ_BYTES` (or ``full``), else only its header is read.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            if full or path.stat().st_size <= FULL_READ_BYTES:
                head, length = _read_through_gzip(path)
            else:
                with gzip.open(path, "rb") as g:
                    head, length = g.read(64), -1
        else:
            with open(path, "rb") as f:
                head = f.read(64)
            length = path.stat().st_size
    except _READ_ERRORS as err:
        return f"a damaged gzip file ({one_line(err)})"
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_DTYPES:
        shown = head[:4].hex() or "none"
        return f"not an IDX file (magic bytes {shown}, expected 0000<type><ndim>)"
    ndim = head[3]
    header = 4 + 4 * ndim
    if len(head) < header:
        return "truncated inside its IDX header"
    shape = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = 1
    for s in shape:
        count *= s
    need = header + count * IDX_DTYPES[head[2]].itemsize
    if length >= 0 and length != need:
        return f"holds {length:,} bytes but its IDX header {tuple(shape)} needs {need:,}"
    return None


def archive_problem(path: Path, full: bool = False) -> str | None:
    """What is wrong with a gzip, zip or tar(.gz) file, or ``None``.

    Read to its end (every CRC checked) when under :data:`FULL_READ_BYTES` or ``full``; a zip
    larger than that has only its central directory read.
    """
    small = full or path.stat().st_size <= FULL_READ_BYTES
    try:
        if zipfile.is_zipfile(path) or path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip() if small else None
            if bad is not None:
                return f"a damaged zip archive: member {bad} fails its CRC"
        elif small and (path.name.endswith((".tar", ".tar.gz", ".tgz"))):
            with tarfile.open(path, mode="r:*") as tf:
                for member in tf:
                    if member.isfile():
                        stream = tf.extractfile(member)
                        while stream is not None and stream.read(1 << 20):
                            pass
        elif small and path.suffix == ".gz":
            _read_through_gzip(path)
    except _READ_ERRORS as err:
        return f"a damaged or truncated archive ({one_line(err)})"
    return None


def _size_problem(path: Path, expected: int | None, where: str) -> str | None:
    got = path.stat().st_size
    if expected is not None and got != expected:
        return f"{got:,} bytes, {where} states {expected:,}"
    return None


# --------------------------------------------------------------------------- the catalogue


def _catalogue(dataset: str, root: Path, verify: bool) -> Iterable[tuple[Path, str]]:
    """Damage of the catalogue's own files that are on disk (before they are unpacked)."""
    records = read_records(root)
    for f in _sources.dataset_source(dataset).files:
        path = root / f.path
        if not path.is_file():
            continue
        record = records.get(f.path) or {}
        if f.extract is not None and record.get("extracted"):
            continue  # kept after unpacking (COIL-100's zip is checked below)
        problem = _catalogue_file(f, path, record, verify)
        if problem is not None:
            yield path, problem


def _catalogue_file(f: RemoteFile, path: Path, record: dict[str, Any], verify: bool) -> str | None:
    if f.size is not None:
        problem = _size_problem(path, f.size, "the catalogue")
        if problem is not None and recompressed_idx(path):
            return None  # the same IDX content gzipped again (gpu_bundle does): checked whole
    else:
        problem = _size_problem(path, record.get("size"), f"{_sources.LOCK_FILE}")
    if problem is None and path.name.endswith((".gz", ".zip", ".tar", ".tgz")):
        problem = archive_problem(path, full=verify)
    if problem is None and verify:
        checksum = f.checksum
        if checksum is None and "sha256" in record:
            checksum = _sources.Checksum("sha256", str(record["sha256"]))
        if checksum is not None:
            digest = _sources.file_digest(path, checksum.algorithm)
            if digest != checksum.hexdigest:
                problem = f"{checksum.algorithm} {digest}, expected {checksum.hexdigest}"
    return problem


def recompressed_idx(path: Path) -> bool:
    """A gzipped IDX file of another size than the published one whose whole content agrees
    with its IDX header: the same data compressed again, not a damaged download."""
    return path.name.endswith("-ubyte.gz") and idx_problem(path, full=True) is None


# --------------------------------------------------------------------------- what loaders read


def _idx(dataset: str, root: Path, verify: bool) -> Iterable[tuple[Path, str]]:
    folder = next((c for c in idx_folder_candidates(dataset, root) if has_idx_set(c)), None)
    if folder is None:
        return
    for stem in IDX_FILES.values():
        path = find_idx_file(folder, stem)
        if path is not None and (problem := idx_problem(path, full=verify)) is not None:
            yield path, problem


def _cifar10(dataset: str, root: Path, verify: bool) -> Iterable[tuple[Path, str]]:
    _, _, base, members = _sources._cifar10_table()
    folder = root / base
    if not folder.is_dir():
        return
    for name, md5 in members:
        path = folder / name
        if not path.is_file():
            yield path, "missing from the extracted folder"
            continue
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f, encoding="bytes")
        except Exception as err:  # truncated pickles raise many kinds
            yield path, f"a damaged CIFAR-10 batch file ({one_line(err)[:120]})"
            continue
        if name == "batches.meta":
            ok = isinstance(entry, dict) and len(entry.get(b"label_names", ())) == 10
            what = "no 10 label names"
        else:
            data = entry.get(b"data") if isinstance(entry, dict) else None
            labels = entry.get(b"labels", ()) if isinstance(entry, dict) else ()
            shape = getattr(data, "shape", None)
            ok = shape == (CIFAR_BATCH_IMAGES, 3072) and len(labels) == CIFAR_BATCH_IMAGES
            what = (
                f"images {shape} and {len(labels)} labels, expected {CIFAR_BATCH_IMAGES:,} of each"
            )
        if not ok:
            yield path, f"not a whole CIFAR-10 batch ({what})"
        elif verify and (got := _sources.file_digest(path, "md5")) != md5:
            yield path, f"md5 {got}, expected {md5}"


def _coil100(dataset: str, root: Path, verify: bool) -> Iterable[tuple[Path, str]]:
    folder, archive = root / "coil-100", root / "coil-100.zip"
    if folder.is_dir():  # what the loader reads first
        names = [p for p in folder.iterdir() if _sources._COIL_MEMBER.search(p.name)]
        empty = [p for p in names if p.stat().st_size == 0]
        if len(names) != COIL_IMAGES:
            yield folder, f"{len(names):,} COIL-100 images, expected {COIL_IMAGES:,}"
        for p in empty[:3]:
            yield p, "an empty image file"
        return
    if not archive.is_file():
        return
    record = read_records(root).get("coil-100.zip") or {}
    problem = _size_problem(archive, record.get("size"), _sources.LOCK_FILE)
    if problem is None:
        problem = archive_problem(archive, full=verify)
    if problem is None:
        with zipfile.ZipFile(archive) as zf:
            n = sum(1 for name in zf.namelist() if _sources._COIL_MEMBER.search(name))
        if n != COIL_IMAGES:
            problem = f"a zip of {n:,} COIL-100 images, expected {COIL_IMAGES:,}"
    if problem is None and verify and "sha256" in record:
        digest = _sources.file_digest(archive, "sha256")
        if digest != record["sha256"]:
            problem = f"sha256 {digest}, expected {record['sha256']} (recorded)"
    if problem is not None:
        yield archive, problem


def _celeba(dataset: str, root: Path, verify: bool) -> Iterable[tuple[Path, str]]:
    folder = root / "celeba"
    expected = _sources.celeba_image_count()
    images = folder / "img_align_celeba"
    if images.is_dir():
        count = sum(1 for p in images.iterdir() if p.suffix == ".jpg")
        if count != expected:
            yield images, f"{count:,} JPEGs, expected {expected:,}"
    for name, header in (("list_attr_celeba.txt", 2), ("list_eval_partition.txt", 0)):
        path = folder / name
        if not path.is_file():
            continue
        with open(path, "rb") as f:
            lines = sum(1 for line in f if line.strip())
        if lines != expected + header:
            yield path, f"{lines - header:,} rows, expected {expected:,}"


_LOADER_CHECKS = {
    "mnist": _idx,
    "fmnist": _idx,
    "cifar10": _cifar10,
    "coil100": _coil100,
    "celeba": _celeba,
}


def damaged_files(dataset: str, root: str | Path, verify: bool = False) -> list[Damage]:
    """One :class:`Damage` per damaged file of ``dataset`` under ``root`` (empty: all whole)."""
    root = Path(root)
    name = dataset
    source = _sources.dataset_source(name)
    if source.builtin is not None:
        return []
    found: dict[Path, str] = {}
    checks = [_catalogue, _LOADER_CHECKS.get(name)]
    for check in checks:
        if check is None:
            continue
        try:
            for path, problem in check(name, root, verify):
                found.setdefault(path, problem)
        except PIADError as err:  # e.g. an unreadable lock file
            found.setdefault(root / _sources.LOCK_FILE, one_line(err))
    out = []
    for path, problem in found.items():
        delete = root / "cifar-10-batches-py" if path.parent.name == "cifar-10-batches-py" else path
        out.append(Damage(path, problem, _fix(name, root, delete)))
    return out


__all__ = ["FULL_READ_BYTES", "Damage", "archive_problem", "damaged_files", "idx_problem"]
