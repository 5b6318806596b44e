"""Fetch every file a dataset needs: plan, download, verify, extract, record.

The command line (``python -m benchmarks.fetch``) is :mod:`benchmarks.fetch`; the
records and the lock of a data root are :mod:`benchmarks.data.datalock`.

- :func:`plan` says, per file, where it comes from and whether it is present, absent,
  partial (a ``.part`` download, or an archive not extracted yet) or corrupt. It is cheap:
  sizes and the checksums recorded at download time, no re-hash unless ``verify=True``.
- :func:`fetch` downloads what is missing (resumable, see :mod:`benchmarks.data.download`),
  verifies it, extracts it into the loaders' layout and records it in
  ``<root>/piad-data.lock.json``; a second call downloads nothing.
- :func:`availability` is the preflight's question: ``None`` when a dataset is there, else
  one line with the exact command that fetches it.
- :func:`~benchmarks.data.datalock.lock` keeps two processes from fetching into one data
  root at once.

Files without a published checksum (COIL-100, LSUN) get their size and sha256 recorded on
the first download; a later download that differs is refused.
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.data import download as _download
from benchmarks.data import sources as _sources
from benchmarks.data.archives import extract
from benchmarks.data.datalock import lock, lock_file, now, read_records, write_record
from benchmarks.data.source_types import Checksum, DatasetSource, RemoteFile
from piad.errors import MissingInputError, PIADError, one_line

STATES = ("present", "absent", "partial", "corrupt")
FETCH_COMMAND = "python -m benchmarks.fetch"


@dataclass(frozen=True)
class FileStatus:
    """One file of a dataset: where it comes from and whether it is in place.

    ``file`` is the path under the data root; ``state`` is one of :data:`STATES`;
    ``detail`` says why (e.g. "12,345 of 9,912,422 bytes downloaded").
    """

    dataset: str
    file: str
    source: str
    size: int | None
    checksum: str
    state: str
    detail: str = ""
    size_hint: int | None = None

    @property
    def present(self) -> bool:
        return self.state == "present"


# --------------------------------------------------------------------------- plan


def human_size(n: int | None, approx: bool = False) -> str:
    """``9912422`` -> ``"9.9 MB"`` (decimal units); ``None`` -> ``"unknown"``."""
    if n is None:
        return "unknown"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            text = f"{n / scale:.1f} {unit}"
            break
    else:
        text = f"{n} B"
    return f"about {text}" if approx else text


def _checksum_text(f: RemoteFile, record: dict[str, Any] | None) -> str:
    if f.checksum is not None:
        return str(f.checksum)
    if record and "sha256" in record:
        return f"sha256:{record['sha256']} (recorded)"
    return "sha256 recorded on first download"


def _source_text(f: RemoteFile) -> str:
    more = len(f.urls) - 1
    return f.urls[0] + (f" (+{more} mirror{'s' if more > 1 else ''})" if more > 0 else "")


def _expected(f: RemoteFile, record: dict[str, Any] | None) -> tuple[int | None, Checksum | None]:
    size = f.size if f.size is not None else (record or {}).get("size")
    if f.checksum is not None:
        return size, f.checksum
    if record and "sha256" in record:
        return size, Checksum("sha256", str(record["sha256"]))
    return size, None


def _file_state(
    f: RemoteFile, root: Path, record: dict[str, Any] | None, verify: bool
) -> tuple[str, str]:
    outputs = [root / out for out in f.outputs]
    archive = root / f.path
    part = _download.part_path(archive)
    size, checksum = _expected(f, record)
    if all(p.exists() for p in outputs):
        if f.extract is not None:
            if verify and f.verify_extracted is not None:
                try:
                    f.verify_extracted(root / f.extract.into)
                except PIADError as err:
                    return "corrupt", str(err)
            if record and record.get("extracted"):
                return "present", "fetched and verified"
            return "present", "found (not fetched here: checked when loaded)"
        got = archive.stat().st_size
        if size is not None and got != size:
            from benchmarks.data.integrity import recompressed_idx

            if not recompressed_idx(archive):
                return "corrupt", f"{got:,} bytes, expected {size:,}"
            return "present", "the same IDX data compressed again (read whole, header agrees)"
        if record and f.checksum is not None:
            recorded = record.get(f.checksum.algorithm)
            if recorded is not None and recorded != f.checksum.hexdigest:
                return "corrupt", f"recorded {f.checksum.algorithm} differs from the published one"
        if verify and checksum is not None:
            digest = _sources.file_digest(archive, checksum.algorithm)
            if digest != checksum.hexdigest:
                return "corrupt", f"{checksum.algorithm} {digest}, expected {checksum.hexdigest}"
            return "present", f"{checksum.algorithm} verified now"
        return "present", "fetched and verified" if record else "found (no checksum on record)"
    if part.exists():
        total = f"{size:,}" if size is not None else "?"
        return "partial", f"{part.stat().st_size:,} of {total} bytes downloaded (resumes)"
    if f.extract is not None and archive.is_file():
        return "partial", "downloaded, not extracted yet"
    if any(p.exists() for p in outputs):
        return "partial", "some of " + ", ".join(f.outputs) + " missing"
    return "absent", ""


def _alternate(source: DatasetSource, root: Path) -> str | None:
    for alt in source.alternates:
        if alt.satisfied(root):
            return alt.path
    return None


def plan(dataset: str, root: str | Path, verify: bool = False) -> list[FileStatus]:
    """Each file of ``dataset``: source, size, checksum and whether it is in place.

    Cheap unless ``verify``: sizes and the checksums recorded at download time are compared,
    nothing is re-hashed. With ``verify``, every present file is hashed again (and extracted
    folders are checked, e.g. CIFAR-10's batch md5s). A dataset the loader also finds in
    another layout (torchvision's ``MNIST/raw``, Debian's Fashion-MNIST, a ``coil-100/``
    folder) counts as present. A dataset without files (mnist5k) has an empty plan.
    """
    root = Path(root)
    source = _sources.dataset_source(dataset)
    records = read_records(root)
    rows = []
    for f in source.files:
        record = records.get(f.path)
        state, detail = _file_state(f, root, record, verify)
        size, _ = _expected(f, record)
        rows.append(
            FileStatus(
                dataset,
                f.path,
                _source_text(f),
                size,
                _checksum_text(f, record),
                state,
                detail,
                f.size_hint,
            )
        )
    if not all(r.present for r in rows) and not any(r.state == "corrupt" for r in rows):
        # a corrupt file stays corrupt: the loader reads it (the alternate of an IDX dataset
        # is its own folder first), so another layout being complete does not make it whole
        alt = _alternate(source, root)
        if alt is not None:
            where = alt if Path(alt).is_absolute() else str(root / alt)
            rows = [
                FileStatus(r.dataset, r.file, r.source, r.size, r.checksum, "present",
                           f"the loader uses {where}", r.size_hint)
                for r in rows
            ]  # fmt: skip
    return rows


# --------------------------------------------------------------------------- fetch


def _estimate(
    f: RemoteFile, record: dict[str, Any] | None, ask_server: bool
) -> tuple[int | None, bool]:
    """(size in bytes, whether it is approximate)."""
    size, _ = _expected(f, record)
    if size is not None:
        return size, False
    if ask_server and f.size_hint is not None:
        for url in f.urls:
            stated = _download.remote_size(url)
            if stated is not None:
                return stated, False
    return f.size_hint, f.size_hint is not None


def _check_space(f: RemoteFile, root: Path, size: int | None) -> None:
    if size is None:
        return
    part = _download.part_path(root / f.path)
    need = size - (part.stat().st_size if part.exists() else 0)
    if f.extract is not None:
        need += size  # the unpacked copy sits next to the archive until it is deleted
    folder = root
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need > free:
        raise PIADError(
            f"not enough disk space in {root} for {f.path}: it needs about {human_size(need)}, "
            f"{human_size(free)} are free; free some space or use another --data-root"
        )


def _record_found(f: RemoteFile, root: Path) -> None:
    """Record size and sha256 of a file put in place by hand that has no published checksum
    (trust on first use), so that later changes are noticed."""
    if f.extract is not None or f.checksum is not None:
        return
    record = read_records(root).get(f.path)
    if record and "sha256" in record:
        return
    path = root / f.path
    entry = {"size": path.stat().st_size, "sha256": _sources.file_digest(path, "sha256"),
             "recorded": now(), "origin": "found in the data root"}  # fmt: skip
    write_record(root, f.path, entry)


def _fetch_file(f: RemoteFile, root: Path, progress: bool) -> list[Path]:
    records = read_records(root)
    record = records.get(f.path)
    state, _ = _file_state(f, root, record, verify=False)
    archive = root / f.path
    if state == "present":
        _record_found(f, root)
        return []
    size, checksum = _expected(f, record)
    if f.extract is None or not archive.is_file():  # an archive under its final name is verified
        if f.checksum is not None:
            origin = "published checksum"
        elif checksum is not None:
            origin = f"recorded in {lock_file(root)} on {(record or {}).get('recorded', '?')}"
        else:
            origin = ""
        _check_space(f, root, size if size is not None else f.size_hint)
        try:
            got = _download.download(
                f.urls,
                archive,
                checksum=checksum,
                size=size,
                checksum_origin=origin,
                accept=f.verify_file,
                progress=progress,
            )
        except _download.ChecksumMismatch as err:
            if f.checksum is None and checksum is not None:
                raise PIADError(
                    f"{err}; the server's {f.name} differs from the copy recorded in "
                    f"{lock_file(root)}: if the change is expected, delete its entry "
                    f"{f.path!r} there and fetch again"
                ) from err
            raise
        record = {
            "size": got.size,
            got.algorithm: got.hexdigest,
            "url": got.url,
            "recorded": now(),
            "origin": "published checksum" if f.checksum is not None else "first download",
        }
        write_record(root, f.path, record)
        if f.extract is None:
            return [archive]
    assert f.extract is not None
    try:
        placed = extract(
            archive, f.extract.kind, root / f.extract.into, f.extract.outputs, f.verify_extracted
        )
    except PIADError as err:
        archive.unlink(missing_ok=True)
        if record and record.get("origin") == "first download" and not record.get("extracted"):
            write_record(root, f.path, None)  # a broken first download is not a reference
        raise PIADError(
            f"{err}; {archive.name} was deleted and nothing was placed: run the fetch again"
        ) from err
    record = dict(record or {})
    record["extracted"] = list(f.outputs)
    write_record(root, f.path, record)
    if not f.extract.keep_archive:
        archive.unlink(missing_ok=True)
    return placed


def _fetch_dataset(source: DatasetSource, root: Path, progress: bool) -> list[Path]:
    if source.builtin is not None:
        problem = source.builtin()
        if problem:
            raise MissingInputError(problem)
        return []
    if all(r.present for r in plan(source.name, root)):
        records = read_records(root)
        for f in source.files:
            if _file_state(f, root, records.get(f.path), verify=False)[0] == "present":
                _record_found(f, root)
        return []
    placed: list[Path] = []
    if source.mirror is None:
        for f in source.files:
            placed += _fetch_file(f, root, progress)
        return placed
    failures: list[PIADError] = []
    for f in sorted(source.files, key=lambda f: f.extract is not None):  # small tables first
        try:
            placed += _fetch_file(f, root, progress)
        except PIADError as err:  # every official file is tried: the mirror is checked against
            failures.append(err)  # the tables that did arrive
    if not failures:
        return placed
    from benchmarks.data.mirror import convert_celeba

    mirror = source.mirror
    failed = PIADError("; ".join(" ".join(str(e).split()) for e in failures))
    revision = f" at revision {mirror.revision[:7]}" if mirror.revision else ""
    print(
        f"{source.name}: the official files failed ({failed}); trying the mirror "
        f"{mirror.page}{revision}",
        file=sys.stderr,
    )
    try:
        placed += convert_celeba(mirror, root, progress)
    except PIADError as err:
        raise type(err)(f"{failed}; fallback: {err}") from err
    images = source.files[0]
    write_record(
        root,
        images.path,
        {"origin": f"mirror {mirror.path}", "revision": mirror.revision,
         "recorded": now(), "extracted": list(images.outputs)},
    )  # fmt: skip
    return placed


def _confirm(sources: Sequence[DatasetSource], root: Path, yes: bool) -> None:
    """Refuse a download of at least CONFIRM_BYTES unless ``yes``; say how large it is."""
    if yes:
        return
    records = read_records(root)
    large = []
    for source in sources:
        if source.builtin is not None or all(r.present for r in plan(source.name, root)):
            continue
        for f in source.files:
            if _file_state(f, root, records.get(f.path), verify=False)[0] == "present":
                continue
            size, approx = _estimate(f, records.get(f.path), ask_server=True)
            if size is not None and size >= _sources.CONFIRM_BYTES:
                large.append((f, size, approx))
    if large:
        total = sum(size for _, size, _ in large)
        parts = ", ".join(
            f"{f.path} {human_size(size, approx)} from {f.urls[0]}" for f, size, approx in large
        )
        names = " ".join(dict.fromkeys(f.dataset for f, _, _ in large))
        raise PIADError(
            f"{names} needs a download of {human_size(total, any(a for _, _, a in large))} "
            f"({parts}); nothing was downloaded: add --yes (fetch(..., yes=True)) to start it"
        )


def fetch(
    datasets: Iterable[str], root: str | Path, progress: bool = True, yes: bool = False
) -> list[Path]:
    """Download, verify and place every missing file of ``datasets`` under ``root``.

    Idempotent: what is present is left alone, so a second call downloads nothing (and
    returns ``[]``). Holds :func:`lock` on ``root`` throughout. A download of at least
    ``sources.CONFIRM_BYTES`` (LSUN's bedroom_train, about 43 GB) is refused unless ``yes``.
    CelebA falls back to its Hugging Face mirror when the official files fail.

    Returns:
        The paths placed by this call (files and extracted folders).

    Raises:
        MissingInputError: a file cannot be downloaded now (network, server, quota); the
            partial download is kept and resumes next time.
        PIADError: a checksum or archive check failed, or confirmation is needed; nothing
            half-done is left under its final name.
    """
    root = Path(root)
    names = list(dict.fromkeys(datasets))
    chosen = [_sources.dataset_source(name) for name in names]
    placed: list[Path] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        with lock(root):
            _confirm(chosen, root, yes)
            for source in chosen:
                placed += _fetch_dataset(source, root, progress)
    except OSError as err:  # a data root that is a file, read-only, or a full disk
        raise PIADError(
            f"cannot write into the data root {root} ({one_line(err)}); choose a writable "
            "--data-root with enough space"
        ) from err
    return placed


def availability(dataset: str, root: str | Path) -> str | None:
    """``None`` when ``dataset`` is in place under ``root``, else one line saying what is
    missing and the exact command (or URL) that gets it. Offline and cheap."""
    source = _sources.dataset_source(dataset)
    if source.builtin is not None:
        return source.builtin()
    rows = plan(dataset, root)
    missing = [r for r in rows if not r.present]
    if not missing:
        for package in source.needs:
            if importlib.util.find_spec(package) is None:
                return (
                    f"dataset {dataset!r} is in {root} but reading it needs the {package} "
                    f"package: pip install {package}"
                )
        return None
    shown = ", ".join(f"{r.file} ({r.state})" for r in missing[:3])
    shown += f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    records = read_records(Path(root))
    large = [
        _estimate(f, records.get(f.path), ask_server=False)
        for f in source.files
        if any(r.file == f.path for r in missing)
    ]
    total = sum(s for s, _ in large if s is not None)
    yes = size_note = ""
    if total >= _sources.CONFIRM_BYTES:
        yes = " --yes"
        size_note = f"; --yes confirms a download of {human_size(total, any(a for _, a in large))}"
    command = f"{FETCH_COMMAND} {dataset} --data-root {shlex.quote(str(root))}{yes}"
    return (
        f"dataset {dataset!r} is missing under {root}: {shown}; get it with: {command}"
        f"{size_note} (or by hand from {source.url})"
    )
