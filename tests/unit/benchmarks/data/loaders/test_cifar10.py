"""benchmarks/data/loaders/cifar10.py: CIFAR-10's python batches read through torchvision
(channels last, the official train/test partition), fetched when absent, refused when corrupt.

The batches are written here (13 images); torchvision's md5 table is pointed at them.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from fetch_server import FileServer, serve

from benchmarks.data import sources
from benchmarks.data.info import CIFAR10_CLASSES
from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.source_types import Checksum, DatasetSource, Extract, Licence, RemoteFile
from piad.errors import MissingInputError

tvd = pytest.importorskip("torchvision.datasets")

TRAIN = [f"data_batch_{k}" for k in range(1, 6)]


def batch(first: int, n: int) -> dict:
    """``n`` images numbered from ``first``: image k has red k, green 100 + k, blue 200 + k
    (stored planar, as CIFAR-10 does: 1024 red, 1024 green, 1024 blue values), label k % 10."""
    planes = [np.full((n, 1024), base, np.uint8) for base in (0, 100, 200)]
    for j in range(n):
        for plane in planes:
            plane[j] += first + j
    return {"data": np.concatenate(planes, axis=1), "labels": [(first + j) % 10 for j in range(n)]}


def write_batches(root: Path) -> dict[str, str]:
    """Five train batches of 2 images, a test batch of 3, the meta file; name -> md5."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    contents = {name: batch(2 * k, 2) for k, name in enumerate(TRAIN)}
    contents["test_batch"] = batch(10, 3)
    contents["batches.meta"] = {"label_names": list(CIFAR10_CLASSES)}
    md5s = {}
    for name, entry in contents.items():
        data = pickle.dumps(entry)
        (folder / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return md5s


def point_torchvision_at(monkeypatch, md5s: dict[str, str]) -> None:
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[n, md5s[n]] for n in TRAIN])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    meta = dict(tvd.CIFAR10.meta, md5=md5s["batches.meta"])
    monkeypatch.setattr(tvd.CIFAR10, "meta", meta)


def assert_the_13_images(ds) -> None:
    assert ds.images.shape == (13, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.partition.tolist() == ["train"] * 10 + ["test"] * 3
    assert ds.labels.tolist() == [k % 10 for k in range(13)]
    for k in range(13):  # channels last: every pixel of image k is (k, 100 + k, 200 + k)
        assert (ds.images[k] == (k, 100 + k, 200 + k)).all()


def test_batches_are_read_channels_last_in_the_official_partition(monkeypatch, tmp_path):
    point_torchvision_at(monkeypatch, write_batches(tmp_path))
    ds = load_dataset("cifar10", tmp_path, download=False)
    assert_the_13_images(ds)
    assert ds.info.classes[1] == "automobile"


def test_batches_that_fail_torchvision_s_md5s_are_one_line(tmp_path):
    write_batches(tmp_path)  # not the official files: torchvision's own md5s refuse them
    with pytest.raises(MissingInputError) as info:
        load_dataset("cifar10", tmp_path, download=False)
    message = str(info.value)
    assert "cifar-10-batches-py/ missing or corrupt" in message and "\n" not in message
    assert "get it from: downloaded automatically (python -m benchmarks.fetch cifar10" in message


def test_an_absent_folder_is_fetched_then_read(monkeypatch, tmp_path):
    md5s = write_batches(tmp_path / "made")
    point_torchvision_at(monkeypatch, md5s)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(tmp_path / "made" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    data = buf.getvalue()
    root = tmp_path / "root"
    with serve(FileServer(files={"cifar-10-python.tar.gz": data})) as srv:
        archive = RemoteFile(
            "cifar10",
            "cifar-10-python.tar.gz",
            (srv.url("cifar-10-python.tar.gz"),),
            Checksum("md5", hashlib.md5(data).hexdigest()),
            extract=Extract("tar.gz", "", ("cifar-10-batches-py",)),
        )
        licence = Licence("test data", "http://127.0.0.1/")
        source = DatasetSource("cifar10", (archive,), licence, "<root>/cifar-10-batches-py/")
        monkeypatch.setitem(sources.EXTRA_SOURCES, "cifar10", source)
        ds = load_dataset("cifar10", root)  # download on: the folder is absent
        assert len(srv.gets()) == 1
    assert_the_13_images(ds)
    assert not (root / "cifar-10-python.tar.gz").exists()  # extracted, the archive deleted
