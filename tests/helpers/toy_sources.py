"""Small datasets for the download and integrity tests: archives built in memory, catalogue
entries whose URLs point at the local :mod:`fetch_server`, and IDX folders.

Tests add an entry with :func:`register` (``sources.EXTRA_SOURCES``, undone after the test).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fetch_server import FileServer

from benchmarks.data import sources
from benchmarks.data.idx import write_idx
from benchmarks.data.source_types import Checksum, DatasetSource, Extract, Licence, RemoteFile
from piad.errors import PIADError

LICENCE = Licence("test data", "http://127.0.0.1/")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``members`` (name -> bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A deflated .zip holding ``members`` (name -> bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_RNG = np.random.default_rng(3)
#: the members of the toy tar archive (two random "batches")
BATCHES = {
    "toy-batches/a.bin": _RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
    "toy-batches/b.bin": _RNG.integers(0, 256, 7000, dtype=np.uint8).tobytes(),
}


def register(monkeypatch: pytest.MonkeyPatch, source: DatasetSource) -> DatasetSource:
    """Add ``source`` to the catalogue for one test."""
    monkeypatch.setitem(sources.EXTRA_SOURCES, source.name, source)
    return source


def batches_check(into: Path) -> None:
    """The toy archive's check after extraction: its first batch has the right bytes."""
    if (into / "toy-batches" / "a.bin").read_bytes() != BATCHES["toy-batches/a.bin"]:
        raise PIADError("toy-batches/a.bin has the wrong bytes")


def tar_source(srv: FileServer, checksum: Checksum | None) -> DatasetSource:
    """Dataset ``toytar``: one tar.gz from ``srv``, extracted to ``<root>/toy-batches/``."""
    archive = RemoteFile(
        "toytar",
        "toy.tar.gz",
        (srv.url("toy.tar.gz"),),
        checksum,
        extract=Extract("tar.gz", "", ("toy-batches",)),
        verify_extracted=batches_check,
    )
    return DatasetSource("toytar", (archive,), LICENCE, "<root>/toy-batches/")


_IDX_RNG = np.random.default_rng(0)
#: a small MNIST-shaped IDX set (20 train, 10 test images)
IDX_ARRAYS = {
    "train-images-idx3-ubyte": _IDX_RNG.integers(0, 256, (20, 28, 28), dtype=np.uint8),
    "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
    "t10k-images-idx3-ubyte": _IDX_RNG.integers(0, 256, (10, 28, 28), dtype=np.uint8),
    "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
}


def idx_folder(folder: Path, gz: bool) -> dict[str, Path]:
    """:data:`IDX_ARRAYS` written under ``folder`` (gzipped with ``gz``); stem -> path."""
    return {
        stem: write_idx(folder / (stem + (".gz" if gz else "")), array)
        for stem, array in IDX_ARRAYS.items()
    }
