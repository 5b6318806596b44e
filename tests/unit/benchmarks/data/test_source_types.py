"""benchmarks/data/source_types.py: the catalogue's types: a checksum's algorithms, where a
remote file lands (outputs), the alternate layouts a loader accepts, labels and URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.data.source_types import (
    IDX_STEMS,
    Alternate,
    Checksum,
    DatasetSource,
    Extract,
    HubMirror,
    Licence,
    RemoteFile,
)
from piad.errors import PIADError


def test_alternates(tmp_path: Path):
    idx = Alternate("MNIST/raw", "idx")
    assert not idx.satisfied(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for k, stem in enumerate(IDX_STEMS):
        (raw / (stem + (".gz" if k % 2 else ""))).write_bytes(b"")  # plain or gzipped
    assert idx.satisfied(tmp_path)
    (raw / IDX_STEMS[0]).unlink()
    assert not idx.satisfied(tmp_path)
    folder = Alternate("coil-100", "dir")
    (tmp_path / "coil-100").mkdir()
    assert not folder.satisfied(tmp_path)  # an empty folder is not the dataset
    (tmp_path / "coil-100" / "obj1__0.png").write_bytes(b"")
    assert folder.satisfied(tmp_path)


def test_checksum_rejects_unknown_algorithms():
    with pytest.raises(PIADError, match="unsupported checksum algorithm 'crc32'"):
        Checksum("crc32", "00")
    assert str(Checksum("md5", "ab")) == "md5:ab"


def test_outputs_are_the_file_or_the_extracted_entries_under_into():
    plain = RemoteFile("mnist", "mnist/t10k-labels-idx1-ubyte.gz", ("http://x/a.gz",), None)
    assert plain.name == "t10k-labels-idx1-ubyte.gz"
    assert plain.outputs == ("mnist/t10k-labels-idx1-ubyte.gz",)
    lsun = RemoteFile(
        "lsun",
        "lsun/bedroom_val_lmdb.zip",
        ("http://x/b.zip",),
        None,
        extract=Extract("zip", "lsun", ("bedroom_val_lmdb", "extra")),
    )
    assert lsun.name == "bedroom_val_lmdb.zip"
    assert lsun.outputs == ("lsun/bedroom_val_lmdb", "lsun/extra")
    at_root = RemoteFile(
        "c", "c.tar.gz", ("http://x/c",), None, extract=Extract("tar.gz", "", ("d",))
    )
    assert at_root.outputs == ("d",)


def test_remote_files_compare_without_their_check_functions():
    def check(path: Path) -> None:
        pass

    a = RemoteFile("d", "f.zip", ("http://x/f.zip",), Checksum("md5", "ab"), verify_file=check)
    assert a == RemoteFile("d", "f.zip", ("http://x/f.zip",), Checksum("md5", "ab"))
    assert a != RemoteFile("d", "f.zip", ("http://x/f.zip",), Checksum("md5", "cd"))


def test_mirror_label_and_dataset_url():
    mirror = HubMirror("flwrlabs/celeba", None, "2d738f56e0e7", {"train": "train"}, "page")
    assert mirror.label == "flwrlabs/celeba@2d738f5"
    assert HubMirror("parquet", None, None, {}, "local").label == "parquet"
    licence = Licence("terms", "https://example.org/terms")
    f = RemoteFile("d", "f.zip", ("http://first/f.zip", "http://second/f.zip"), None)
    assert DatasetSource("d", (f,), licence, "<root>/f.zip").url == "http://first/f.zip"
    assert DatasetSource("d", (), licence, "built in").url == "https://example.org/terms"


def test_an_absolute_alternate_is_not_under_the_root(tmp_path):
    elsewhere = tmp_path / "system" / "fashion-mnist"
    elsewhere.mkdir(parents=True)
    for stem in IDX_STEMS:
        (elsewhere / f"{stem}.gz").write_bytes(b"")
    root = tmp_path / "root"
    root.mkdir()
    assert Alternate(str(elsewhere), "idx").satisfied(root)
    assert not Alternate("fashion-mnist", "idx").satisfied(root)
