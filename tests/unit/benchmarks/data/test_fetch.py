"""plan / fetch / availability / lock / CLI against a real HTTP server on 127.0.0.1 (offline).

Each test registers small datasets whose URLs point at the local server
(``sources.EXTRA_SOURCES``); the archives are built here.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import importlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fetch_server import FileServer, closed_port, serve
from paths import ROOT

from benchmarks.data import fetch as fetch_mod
from benchmarks.data import fetch_cli, sources
from benchmarks.data.datalock import lock, lock_path, read_records
from benchmarks.data.download import part_path
from benchmarks.data.fetch import availability, fetch, plan
from benchmarks.data.fetch_cli import main
from benchmarks.data.mirror import format_tables, parse_tables
from benchmarks.data.remote import (
    IDX_STEMS,
    Alternate,
    Checksum,
    DatasetSource,
    Extract,
    HubMirror,
    Licence,
    RemoteFile,
)
from benchmarks.data.sources import check_celeba_images, check_coil_zip
from piad.errors import DiskFullError, MissingInputError, PIADError

LICENCE = Licence("test data", "http://127.0.0.1/")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_RNG = np.random.default_rng(3)
BATCHES = {
    "toy-batches/a.bin": _RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
    "toy-batches/b.bin": _RNG.integers(0, 256, 7000, dtype=np.uint8).tobytes(),
}
COIL_V1 = zip_bytes({"coil-100/obj1__0.png": b"one", "coil-100/obj1__5.png": b"two"})
COIL_V2 = zip_bytes({"coil-100/obj1__0.png": b"ONE", "coil-100/obj1__5.png": b"TWO"})


def register(monkeypatch: pytest.MonkeyPatch, source: DatasetSource) -> DatasetSource:
    monkeypatch.setitem(sources.EXTRA_SOURCES, source.name, source)
    return source


def batches_check(into: Path) -> None:
    if (into / "toy-batches" / "a.bin").read_bytes() != BATCHES["toy-batches/a.bin"]:
        raise PIADError("toy-batches/a.bin has the wrong bytes")


def tar_source(srv: FileServer, checksum: Checksum | None) -> DatasetSource:
    archive = RemoteFile(
        "toytar",
        "toy.tar.gz",
        (srv.url("toy.tar.gz"),),
        checksum,
        extract=Extract("tar.gz", "", ("toy-batches",)),
        verify_extracted=batches_check,
    )
    return DatasetSource("toytar", (archive,), LICENCE, "<root>/toy-batches/")


def coil_source(srv: FileServer) -> DatasetSource:
    archive = RemoteFile(
        "toycoil", "coil-100.zip", (srv.url("coil-100.zip"),), None, verify_file=check_coil_zip
    )
    return DatasetSource("toycoil", (archive,), LICENCE, "<root>/coil-100.zip")


# --------------------------------------------------------------------------- fetch


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


# --------------------------------------------------------------------------- CelebA mirror

ATTRS = sources.CELEBA_ATTRIBUTES


def jpeg(seed: int, size: tuple[int, int] = (178, 218)) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


def build_mirror(
    folder: Path,
    counts: dict[str, int],
    *,
    names: list[str] | None = None,
    drop: str | None = None,
    image_size: tuple[int, int] = (178, 218),
) -> tuple[HubMirror, np.ndarray]:
    """A local parquet "mirror": train/valid/test files with an image and the 40 attributes."""
    import datasets

    rng = np.random.default_rng(7)
    total = sum(counts.values())
    table = rng.integers(0, 2, (total, len(ATTRS))).astype(bool)
    columns = [a for a in ATTRS if a != drop]
    features = datasets.Features(
        {"image": datasets.Image(), "celeb_id": datasets.Value("int64")}
        | {a: datasets.Value("bool") for a in columns}
    )
    files: dict[str, tuple[str, ...]] = {}
    start = 0
    for split in ("train", "valid", "test"):
        rows = range(start, start + counts[split])
        data: dict[str, Any] = {
            "image": [
                {"bytes": jpeg(i, image_size), "path": names[i] if names else None} for i in rows
            ],
            "celeb_id": list(rows),
        }
        for j, a in enumerate(ATTRS):
            if a != drop:
                data[a] = table[list(rows), j].tolist()
        path = folder / f"{split}-00000-of-00001.parquet"
        datasets.Dataset.from_dict(data, features=features).to_parquet(str(path))
        files[split] = (str(path),)
        start += counts[split]
    mirror = HubMirror(
        path="parquet",
        name=None,
        revision=None,
        splits={"train": "train", "valid": "valid", "test": "test"},
        page="local test mirror",
        data_files=files,
    )
    return mirror, np.where(table, 1, -1).astype(np.int8)


QUOTA = b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>"


def celeba_source(srv: FileServer, mirror: HubMirror, tables: dict[str, bytes]) -> DatasetSource:
    """CelebA whose image zip answers with Google Drive's quota page; tables as given."""
    files = [
        RemoteFile(
            "celeba",
            "celeba/img_align_celeba.zip",
            (srv.url("uc?id=zip"),),
            Checksum("md5", "0" * 32),
            extract=Extract("zip", "celeba", ("img_align_celeba",)),
            verify_extracted=check_celeba_images,
        )
    ]
    for name, data in tables.items():
        files.append(
            RemoteFile("celeba", f"celeba/{name}", (srv.url(name),), Checksum("md5", md5(data)))
        )
    return DatasetSource("celeba", tuple(files), LICENCE, "celeba", mirror=mirror)


@pytest.fixture
def small_celeba(monkeypatch):
    counts = {"train": 3, "valid": 1, "test": 1}
    monkeypatch.setattr(sources, "CELEBA_PARTITION_SIZES", counts)
    return counts


def suite_module(attribute: str, *candidates: str) -> Any:
    """``attribute`` of the first importable module (the repository is being restructured)."""
    for module in candidates:
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            continue
    raise AssertionError(f"none of {candidates} provides {attribute}; update the test")


def read_with_loader(folder: Path) -> tuple[list[str], Any, np.ndarray]:
    """The suite's own CelebA table reader (what the loader parses)."""
    read = suite_module(
        "read_celeba_tables", "benchmarks.data.loaders.celeba", "benchmarks.datasets"
    )
    return read(folder)


def test_quota_answer_falls_back_to_the_mirror(monkeypatch, tmp_path, small_celeba, capsys):
    mirror, attributes = build_mirror(tmp_path, small_celeba)
    srv = FileServer(html={"uc": QUOTA})
    with serve(srv):
        register(monkeypatch, celeba_source(srv, mirror, {}))
        root = tmp_path / "root"
        placed = fetch(["celeba"], root, progress=False)
    folder = root / "celeba"
    assert folder / "img_align_celeba" in placed
    names = [f"{k:06d}.jpg" for k in range(1, 6)]
    assert sorted(p.name for p in (folder / "img_align_celeba").iterdir()) == names
    assert (folder / "img_align_celeba" / "000004.jpg").read_bytes() == jpeg(3)
    files, table, partition = read_with_loader(folder)
    assert files == names and list(table.columns) == list(ATTRS)
    assert np.array_equal(table.to_numpy(), (attributes + 1) // 2)
    assert partition.tolist() == ["train", "train", "train", "valid", "test"]
    assert "trying the mirror local test mirror" in capsys.readouterr().err
    assert availability("celeba", root) is None
    assert read_records(root)["celeba/img_align_celeba.zip"]["origin"] == "mirror parquet"
    assert not (root / ".piad-hf-cache").exists()
    assert fetch(["celeba"], root, progress=False) == []


@pytest.mark.parametrize(
    ("counts", "kwargs", "why"),
    [
        ({"train": 3, "valid": 1, "test": 2}, {}, "splits hold 3 / 1 / 2 images (6)"),
        ({"train": 3, "valid": 1, "test": 1}, {"drop": "Smiling"}, "lacks 1 of the 40 attribute"),
        ({"train": 3, "valid": 1, "test": 1}, {"image_size": (64, 64)}, "is 64x64, not the"),
        (
            {"train": 3, "valid": 1, "test": 1},
            {"names": ["000001.jpg", "000002.jpg", "000005.jpg", "000004.jpg", "000003.jpg"]},
            "train split is not the official partition",
        ),
    ],
)
def test_a_mirror_failing_a_check_is_refused_and_nothing_placed(
    monkeypatch, tmp_path, small_celeba, counts, kwargs, why
):
    mirror, _ = build_mirror(tmp_path, counts, **kwargs)
    with serve(FileServer(html={"uc": QUOTA})) as srv:
        register(monkeypatch, celeba_source(srv, mirror, {}))
        root = tmp_path / "root"
        with pytest.raises(PIADError) as info:
            fetch(["celeba"], root, progress=False)
    message = str(info.value)
    assert "\n" not in message and why in message
    assert "Quota exceeded" in message  # the official failure is named too
    assert "refused" in message and "nothing was placed" in message
    assert not (root / "celeba" / "img_align_celeba").exists()
    assert not (root / "celeba" / "list_attr_celeba.txt").exists()
    assert not list((root / "celeba").glob(".piad-*")) and not (root / ".piad-hf-cache").exists()


def test_mirror_must_agree_with_the_official_tables_already_fetched(
    monkeypatch, tmp_path, small_celeba
):
    mirror, attributes = build_mirror(tmp_path, small_celeba)
    names = [f"{k:06d}.jpg" for k in range(1, 6)]
    attr_text, part_text = format_tables(names, attributes, np.array([0, 0, 0, 1, 2]))
    tables = {
        "list_attr_celeba.txt": attr_text.encode(),
        "list_eval_partition.txt": part_text.encode(),
    }
    with serve(FileServer(html={"uc": QUOTA}, files=tables)) as srv:
        register(monkeypatch, celeba_source(srv, mirror, tables))
        root = tmp_path / "good"
        fetch(["celeba"], root, progress=False)
        assert (root / "celeba" / "list_attr_celeba.txt").read_bytes() == tables[
            "list_attr_celeba.txt"
        ]
        flipped = attributes.copy()
        flipped[2, ATTRS.index("Smiling")] *= -1
        bad_text, _ = format_tables(names, flipped, np.array([0, 0, 0, 1, 2]))
        bad = dict(tables, **{"list_attr_celeba.txt": bad_text.encode()})
        srv.files.update(bad)
        register(monkeypatch, celeba_source(srv, mirror, bad))
        with pytest.raises(PIADError, match=r"attributes differ .* \(first: 000003.jpg Smiling\)"):
            fetch(["celeba"], tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad" / "celeba" / "img_align_celeba").exists()


def test_tables_round_trip_in_the_official_format(tmp_path, small_celeba):
    names = ["000001.jpg", "000002.jpg"]
    attributes = np.array([[1, -1] * 20, [-1, 1] * 20], dtype=np.int8)
    attr_text, part_text = format_tables(names, attributes, np.array([0, 2]))
    lines = attr_text.splitlines()
    assert lines[0] == "2" and lines[1].split() == list(ATTRS)
    assert lines[2].startswith("000001.jpg  1 -1  1 -1")
    assert part_text == "000001.jpg 0\n000002.jpg 2\n"
    (tmp_path / "list_attr_celeba.txt").write_text(attr_text)
    (tmp_path / "list_eval_partition.txt").write_text(part_text)
    got_names, got_attrs, codes = parse_tables(tmp_path)
    assert got_names == names and np.array_equal(got_attrs, attributes)
    assert codes.tolist() == [0, 2]


# --------------------------------------------------------------------------- lock


def test_lock_excludes_another_process_and_is_reentrant(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(lock_path(tmp_path))!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with (
            pytest.raises(PIADError, match="another process is fetching into"),
            lock(tmp_path, timeout=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with (
        lock(tmp_path) as path,
        lock(tmp_path),  # re-entrant within a thread
        open(path, "a") as other,
        pytest.raises(BlockingIOError),
    ):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock_path(tmp_path), "a") as other:  # released at the end
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_lock_file_is_keyed_by_the_real_path(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert lock_path(tmp_path / "link") == lock_path(tmp_path / "a")
    assert lock_path(tmp_path / "a") != lock_path(tmp_path)
    assert not str(lock_path(tmp_path)).startswith(str(tmp_path))  # never in the data root


# --------------------------------------------------------------------------- CLI


def test_dry_run_lists_every_file(monkeypatch, tmp_path, capsys):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        assert main(["toytar", "coil100", "--dry-run", "--data-root", str(tmp_path)]) == 0
        assert srv.requests == []  # a dry run asks no server
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["dataset", "file", "source", "size", "checksum", "state"]
    assert srv.url("toy.tar.gz") in out and f"md5:{md5(data)}" in out
    assert sources.COIL100_URL in out and "sha256 recorded on first download" in out
    assert "coil100: Columbia CAVE" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_suite_names_and_one_line_errors(monkeypatch, tmp_path, capsys):
    data = tar_gz(BATCHES)
    with serve(FileServer(files={"toy.tar.gz": data})) as srv:
        register(monkeypatch, tar_source(srv, Checksum("md5", md5(data))))
        suites = {"toysuite": ["toytar"]}
        rc = main(["toysuite", "--data-root", str(tmp_path), "--no-progress"], suites.get)
        assert rc == 0 and (tmp_path / "toy-batches").is_dir()
        assert "toytar: ready" in capsys.readouterr().out
    assert main(["nosuch", "--dry-run"], suites.get) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: unknown suite or dataset 'nosuch'")
    assert "known datasets: mnist, fmnist, cifar10, coil100, celeba, lsun, mnist5k" in err
    url = f"http://127.0.0.1:{closed_port()}/z.bin"
    f = RemoteFile("toygone", "z.bin", (url,), None)
    register(monkeypatch, DatasetSource("toygone", (f,), LICENCE, "z.bin"))
    assert main(["toygone", "--data-root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot download z.bin") and url in err
    assert json.loads((tmp_path / "piad-data.lock.json").read_text())["format"] == 1


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


def test_a_data_root_that_is_a_file_is_one_line(monkeypatch, tmp_path, capsys):
    f = RemoteFile("toyfile", "z.bin", ("http://127.0.0.1:9/z.bin",), None)
    register(monkeypatch, DatasetSource("toyfile", (f,), LICENCE, "z.bin"))
    (tmp_path / "file").write_text("")
    assert main(["toyfile", "--data-root", str(tmp_path / "file"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"error: cannot write into the data root {tmp_path / 'file'}"
    )


def test_the_command_line_is_one_line_and_exit_2_in_a_subprocess(tmp_path):
    argv = [sys.executable, "-m", "benchmarks.fetch", "nosuch", "--data-root", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: unknown suite or dataset 'nosuch'; known datasets: ")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "error: interrupted; partial downloads stay as .part files"),
        (DiskFullError("no space left in /d; free space"), 1, "error: no space left in /d"),
    ],
)
def test_interrupt_and_full_disk_end_as_every_command_does(
    monkeypatch, tmp_path, capsys, raised, code, line
):
    def stop(*args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(fetch_cli, "fetch", stop)
    assert main(["mnist5k", "--data-root", str(tmp_path), "--no-progress"]) == code
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1
