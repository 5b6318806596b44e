"""benchmarks/data/acquire.py: plan, fetch and availability against a real HTTP server on
127.0.0.1 (offline): states of each file, download, verify, extract, record, refusals.

Each test registers small datasets whose URLs point at the local server
(``sources.EXTRA_SOURCES``); the archives are built here.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
from typing import Any

import numpy as np
import pytest
from fetch_server import FileServer, closed_port, serve
from toy_sources import BATCHES, LICENCE, md5, register, tar_gz, tar_source, zip_bytes

from benchmarks.data import acquire as fetch_mod
from benchmarks.data import sources
from benchmarks.data.acquire import availability, fetch, plan
from benchmarks.data.datalock import read_records
from benchmarks.data.download import part_path
from benchmarks.data.source_types import (
    IDX_STEMS,
    Alternate,
    Checksum,
    DatasetSource,
    Extract,
    RemoteFile,
)
from benchmarks.data.sources import check_coil_zip
from piad.errors import MissingInputError, PIADError

COIL_V1 = zip_bytes({"coil-100/obj1__0.png": b"one", "coil-100/obj1__5.png": b"two"})
COIL_V2 = zip_bytes({"coil-100/obj1__0.png": b"ONE", "coil-100/obj1__5.png": b"TWO"})


def coil_source(srv: FileServer) -> DatasetSource:
    archive = RemoteFile(
        "toycoil", "coil-100.zip", (srv.url("coil-100.zip"),), None, verify_file=check_coil_zip
    )
    return DatasetSource("toycoil", (archive,), LICENCE, "<root>/coil-100.zip")


def suite_module(attribute: str, *candidates: str) -> Any:
    """``attribute`` of the first importable module (the repository is being restructured)."""
    for module in candidates:
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue
    raise AssertionError(f"none of {candidates} provides {attribute}; update the test")


# --------------------------------------------------------------------------- fetch, plan


def test_fetch_extracts_records_and_a_second_call_downloads_nothing(monkeypatch, tmp_path):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        assert [s.state for s in plan("toytar", tmp_path)] == ["absent"]
        placed = fetch(["toytar"], tmp_path, progress=False)
        assert placed == [tmp_path / "toy-batches"]
        assert (tmp_path / "toy-batches" / "b.bin").read_bytes() == BATCHES["toy-batches/b.bin"]
        assert not (tmp_path / "toy.tar.gz").exists()  # the archive is deleted once placed
        record = read_records(tmp_path)["toy.tar.gz"]
        assert (record["size"], record["md5"], record["extracted"]) == (
            len(data),
            md5(data),
            ["toy-batches"],
        )
        status = plan("toytar", tmp_path)[0]
        assert (status.state, status.checksum) == ("present", f"md5:{md5(data)}")
        assert fetch(["toytar"], tmp_path, progress=False) == []
        assert len(srv.gets()) == 1  # the second call asked the server nothing
    assert not list(tmp_path.glob("**/.piad-extract-*"))


def test_truncated_archive_places_nothing(monkeypatch, tmp_path):
    whole = tar_gz(BATCHES)
    data = whole[: len(whole) * 2 // 3]  # no published checksum: only extraction can tell
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, None))
        with pytest.raises(PIADError) as info:
            fetch(["toytar"], tmp_path, progress=False)
    message = str(info.value)
    assert "\n" not in message and "cannot extract toy.tar.gz" in message
    assert "nothing was placed" in message
    assert not (tmp_path / "toy-batches").exists() and not (tmp_path / "toy.tar.gz").exists()
    assert not part_path(tmp_path / "toy.tar.gz").exists()
    assert "toy.tar.gz" not in read_records(tmp_path)  # a broken first download is not recorded
    assert not list(tmp_path.glob("**/.piad-extract-*"))


def test_truncated_zip_is_refused_before_placement(monkeypatch, tmp_path):
    with serve(FileServer(files={"coil-100.zip": COIL_V1[:-40]})) as srv:
        register(monkeypatch, coil_source(srv))
        with pytest.raises(
            PIADError, match=r"coil-100\.zip from .* is refused: not a readable zip"
        ):
            fetch(["toycoil"], tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unpublished_checksum_is_recorded_then_a_changed_file_is_refused(monkeypatch, tmp_path):
    srv = FileServer(files={"coil-100.zip": COIL_V1})
    with serve(srv):
        register(monkeypatch, coil_source(srv))
        assert fetch(["toycoil"], tmp_path, progress=False) == [tmp_path / "coil-100.zip"]
        record = read_records(tmp_path)["coil-100.zip"]
        assert record["size"] == len(COIL_V1)
        assert record["sha256"] == hashlib.sha256(COIL_V1).hexdigest()
        assert record["origin"] == "first download"
        assert plan("toycoil", tmp_path)[0].checksum.endswith("(recorded)")
        (tmp_path / "coil-100.zip").unlink()
        srv.files["coil-100.zip"] = COIL_V2  # the server's file changed (same size)
        assert len(COIL_V2) == len(COIL_V1)
        with pytest.raises(PIADError) as info:
            fetch(["toycoil"], tmp_path, progress=False)
    message = str(info.value)
    assert "\n" not in message and "piad-data.lock.json" in message
    assert hashlib.sha256(COIL_V1).hexdigest() in message  # expected: the recorded digest
    assert "delete its entry 'coil-100.zip'" in message
    assert not (tmp_path / "coil-100.zip").exists()
    assert not part_path(tmp_path / "coil-100.zip").exists()


def test_plan_states_absent_partial_present_corrupt(monkeypatch, tmp_path):
    blob = b"z" * 4000
    f = RemoteFile(
        "toyfile", "toy/z.bin", ("http://127.0.0.1:9/z.bin",), Checksum("md5", md5(blob)), 4000
    )
    register(monkeypatch, DatasetSource("toyfile", (f,), LICENCE, "<root>/toy/z.bin"))
    assert plan("toyfile", tmp_path)[0].state == "absent"
    (tmp_path / "toy").mkdir()
    part_path(tmp_path / "toy" / "z.bin").write_bytes(blob[:1500])
    status = plan("toyfile", tmp_path)[0]
    assert (status.state, status.detail) == ("partial", "1,500 of 4,000 bytes downloaded (resumes)")
    (tmp_path / "toy" / "z.bin").write_bytes(blob[:3999])
    assert plan("toyfile", tmp_path)[0].state == "corrupt"
    (tmp_path / "toy" / "z.bin").write_bytes(b"y" * 4000)  # right size, wrong bytes
    assert plan("toyfile", tmp_path)[0].state == "present"  # cheap: no re-hash
    assert plan("toyfile", tmp_path, verify=True)[0].state == "corrupt"
    (tmp_path / "toy" / "z.bin").write_bytes(blob)
    assert plan("toyfile", tmp_path, verify=True)[0].state == "present"


def test_large_download_needs_yes_and_states_its_size(monkeypatch, tmp_path):
    mdb = BATCHES["toy-batches/b.bin"]  # 7,000 random bytes: the zip stays that large
    data = zip_bytes({"toyroom_val_lmdb/data.mdb": mdb, "toyroom_val_lmdb/lock.mdb": b""})
    monkeypatch.setattr(sources, "CONFIRM_BYTES", 1000)
    srv = FileServer(files={"toyroom_val_lmdb.zip": data})
    with serve(srv):
        archive = RemoteFile(
            "toylsun",
            "lsun/toyroom_val_lmdb.zip",
            (srv.url("toyroom_val_lmdb.zip"),),
            None,
            size_hint=10**6,  # "about 1 MB"; the server states the exact size
            extract=Extract("zip", "lsun", ("toyroom_val_lmdb",)),
        )
        register(monkeypatch, DatasetSource("toylsun", (archive,), LICENCE, "lsun"))
        with pytest.raises(PIADError) as info:
            fetch(["toylsun"], tmp_path, progress=False)
        message = str(info.value)
        assert f"{len(data) / 1000:.1f} kB" in message and "--yes" in message
        assert "nothing was downloaded" in message and "\n" not in message
        assert srv.gets() == []  # only a HEAD request to learn the size
        placed = fetch(["toylsun"], tmp_path, progress=False, yes=True)
    assert placed == [tmp_path / "lsun" / "toyroom_val_lmdb"]
    assert (tmp_path / "lsun" / "toyroom_val_lmdb" / "data.mdb").read_bytes() == mdb
    assert not (tmp_path / "lsun" / "toyroom_val_lmdb.zip").exists()


def test_real_lsun_entry_is_refused_without_yes_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(fetch_mod._download, "remote_size", lambda url, timeout=10.0: None)
    with pytest.raises(PIADError) as info:
        fetch(["lsun"], tmp_path, progress=False)
    message = str(info.value)
    assert "lsun needs a download of about 43.0 GB" in message
    assert "http://dl.yf.io/lsun/scenes/bedroom_train_lmdb.zip" in message
    reason = availability("lsun", tmp_path)
    assert reason is not None and f"--data-root {tmp_path} --yes" in reason
    assert not list((tmp_path).glob("lsun/*"))


def test_network_error_keeps_the_part_and_names_the_url(monkeypatch, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/coil-100.zip"
    archive = RemoteFile("toycoil", "coil-100.zip", (url,), None)
    register(monkeypatch, DatasetSource("toycoil", (archive,), LICENCE, "<root>/coil-100.zip"))
    part_path(tmp_path / "coil-100.zip").write_bytes(b"PK-partial")
    with pytest.raises(MissingInputError, match=url.replace(".", r"\.")):
        fetch(["toycoil"], tmp_path, progress=False)
    assert part_path(tmp_path / "coil-100.zip").read_bytes() == b"PK-partial"
    assert plan("toycoil", tmp_path)[0].state == "partial"


def test_mnist_layout_is_what_the_idx_reader_reads(monkeypatch, tmp_path):
    write_idx = suite_module("write_idx", "benchmarks.data.idx", "benchmarks.idx")
    read_idx_set = suite_module("read_idx_set", "benchmarks.data.idx", "benchmarks.idx")
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(6, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(2, dtype=np.uint8),
    }
    files = {}
    for stem, array in arrays.items():
        write_idx(tmp_path / "src" / f"{stem}.gz", array)
        files[f"{stem}.gz"] = (tmp_path / "src" / f"{stem}.gz").read_bytes()
    with serve(FileServer(files=files)) as srv:
        remote = tuple(
            RemoteFile("toymnist", f"mnist/{n}", (srv.url(n),), Checksum("md5", md5(d)), len(d))
            for n, d in files.items()
        )
        register(monkeypatch, DatasetSource("toymnist", remote, LICENCE, "<root>/mnist/"))
        root = tmp_path / "root"
        assert availability("toymnist", root) is not None
        fetch(["toymnist"], root, progress=False)
    assert availability("toymnist", root) is None
    train_x, train_y, test_x, _ = read_idx_set(root / "mnist")
    assert np.array_equal(train_x, arrays["train-images-idx3-ubyte"])
    assert train_y.tolist() == list(range(6)) and test_x.shape == (2, 28, 28)
    assert gzip.decompress(files["t10k-labels-idx1-ubyte.gz"])[:4] == b"\x00\x00\x08\x01"


def test_alternate_layouts_count_as_present(monkeypatch, tmp_path):
    f = RemoteFile("toyalt", "mnist/x.gz", ("http://127.0.0.1:9/x.gz",), None)
    register(
        monkeypatch,
        DatasetSource(
            "toyalt", (f,), LICENCE, "mnist", alternates=(Alternate("MNIST/raw", "idx"),)
        ),
    )
    assert availability("toyalt", tmp_path) is not None
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in IDX_STEMS:
        (raw / stem).write_bytes(b"")
    assert availability("toyalt", tmp_path) is None
    status = plan("toyalt", tmp_path)[0]
    assert status.present and str(raw) in status.detail
    assert fetch(["toyalt"], tmp_path, progress=False) == []  # nothing to download


def test_availability_names_the_exact_command(tmp_path):
    reason = availability("cifar10", tmp_path / "empty")
    assert reason is not None and "\n" not in reason
    assert f"python -m benchmarks.fetch cifar10 --data-root {tmp_path / 'empty'}" in reason
    assert "cifar-10-python.tar.gz (absent)" in reason
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in reason


def test_an_archive_downloaded_but_not_extracted_is_extracted_without_download(
    monkeypatch, tmp_path
):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        (tmp_path / "toy.tar.gz").write_bytes(data)  # killed after placement, before extraction
        status = plan("toytar", tmp_path)[0]
        assert (status.state, status.detail) == ("partial", "downloaded, not extracted yet")
        assert fetch(["toytar"], tmp_path, progress=False) == [tmp_path / "toy-batches"]
        assert srv.requests == []
