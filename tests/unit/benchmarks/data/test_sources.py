"""benchmarks/data/sources.py: the source catalogue: torchvision's tables, layouts, licences,
checks of downloaded files."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from benchmarks.data import sources
from benchmarks.data.source_types import Checksum
from benchmarks.data.sources import (
    check_cifar10_folder,
    check_coil_zip,
    dataset_source,
    gdrive_urls,
)
from piad.errors import PIADError

tvd = pytest.importorskip("torchvision.datasets")


def test_fallback_tables_equal_torchvision_s_own():
    """The copies used when torchvision lacks a table are what torchvision publishes."""
    assert tuple(tvd.MNIST.mirrors) == sources._TV_MNIST_MIRRORS
    assert tuple(map(tuple, tvd.MNIST.resources)) == sources._TV_MNIST
    assert tuple(tvd.FashionMNIST.mirrors) == sources._TV_FMNIST_MIRRORS
    assert tuple(map(tuple, tvd.FashionMNIST.resources)) == sources._TV_FMNIST
    url, md5, folder, members = sources._TV_CIFAR10
    assert (url, md5, folder) == (tvd.CIFAR10.url, tvd.CIFAR10.tgz_md5, tvd.CIFAR10.base_folder)
    meta = (tvd.CIFAR10.meta["filename"], tvd.CIFAR10.meta["md5"])
    assert members == (*map(tuple, tvd.CIFAR10.train_list + tvd.CIFAR10.test_list), meta)
    official = {name: (file_id, md5) for file_id, md5, name in tvd.CelebA.file_list}
    assert {n: (i, m) for i, m, n in sources._TV_CELEBA} == {
        n: official[n] for n in sources.CELEBA_FILES
    }


def test_idx_sources_use_torchvision_urls_and_md5s():
    for name, cls, folder in (
        ("mnist", tvd.MNIST, "mnist"),
        ("fmnist", tvd.FashionMNIST, "fmnist"),
    ):
        files = dataset_source(name).files
        assert [f.path for f in files] == [f"{folder}/{n}" for n, _ in cls.resources]
        assert [f.checksum for f in files] == [Checksum("md5", m) for _, m in cls.resources]
        for f, (file_name, _) in zip(files, cls.resources):
            assert f.urls == tuple(m + file_name for m in cls.mirrors)
    sizes = {f.name: f.size for f in dataset_source("mnist").files}
    assert sizes["train-images-idx3-ubyte.gz"] == 9912422  # as the MNIST page states it


def test_cifar10_and_celeba_entries():
    (cifar,) = dataset_source("cifar10").files
    assert cifar.urls == (tvd.CIFAR10.url,) and cifar.checksum == Checksum(
        "md5", tvd.CIFAR10.tgz_md5
    )
    assert cifar.outputs == ("cifar-10-batches-py",) and cifar.extract.kind == "tar.gz"
    celeba = dataset_source("celeba")
    assert [f.path for f in celeba.files] == [f"celeba/{n}" for n in sources.CELEBA_FILES]
    zip_file = celeba.files[0]
    assert zip_file.outputs == ("celeba/img_align_celeba",)
    assert zip_file.urls == gdrive_urls("0B7EVK8r0v71pZjFTYXZWM3FlRnM")
    assert (
        sources.celeba_official_md5("list_eval_partition.txt") == "d32c9cbf5e040fd4025c592c306e6668"
    )
    mirror = celeba.mirror
    assert mirror is not None and re.fullmatch(r"[0-9a-f]{40}", mirror.revision or "")
    assert set(mirror.splits) == {"train", "valid", "test"}


def test_celeba_official_facts():
    assert sum(sources.CELEBA_PARTITION_SIZES.values()) == 202_599
    assert sources.CELEBA_PARTITION_SIZES == {"train": 162_770, "valid": 19_867, "test": 19_962}
    assert len(sources.CELEBA_ATTRIBUTES) == len(set(sources.CELEBA_ATTRIBUTES)) == 40
    assert sources.CELEBA_ATTRIBUTES[0] == "5_o_Clock_Shadow"
    assert sources.CELEBA_ATTRIBUTES[-1] == "Young"


def test_unpublished_checksums_only_where_none_exists():
    for name in sources.DATASET_NAMES:
        source = dataset_source(name)
        assert source.licence.text and source.licence.url.startswith(("http://", "https://"))
        for f in source.files:
            assert f.urls and all(u.startswith(("http://", "https://")) for u in f.urls)
            if f.checksum is None:
                assert name in ("coil100", "lsun")
            else:
                assert re.fullmatch(r"[0-9a-f]{32}", f.checksum.hexdigest)


def test_lsun_archives_are_those_of_the_lsun_download_script():
    lsun = dataset_source("lsun")
    assert [f.urls for f in lsun.files] == [
        (f"http://dl.yf.io/lsun/scenes/{part}_lmdb.zip",) for part in sources.LSUN_PARTS
    ]
    assert [f.outputs for f in lsun.files] == [
        (f"lsun/{part}_lmdb",) for part in ("bedroom_train", "bedroom_val", "conference_room_val")
    ]
    assert lsun.files[0].size_hint >= sources.CONFIRM_BYTES  # bedroom_train needs --yes
    assert lsun.needs == ("lmdb",)


def test_coil100_is_kept_as_the_zip_the_loader_reads():
    (coil,) = dataset_source("coil100").files
    assert (coil.path, coil.urls, coil.extract) == ("coil-100.zip", (sources.COIL100_URL,), None)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(PIADError, match=r"unknown dataset 'mnsit'; known: .*cifar10.*mnist"):
        dataset_source("mnsit")


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_check_coil_zip(tmp_path: Path):
    good = tmp_path / "good.zip"
    good.write_bytes(zip_of({"coil-100/obj1__0.png": b"x", "coil-100/obj100__355.png": b"y"}))
    check_coil_zip(good)
    other = tmp_path / "other.zip"
    other.write_bytes(zip_of({"readme.txt": b"hello"}))
    with pytest.raises(PIADError, match="without COIL-100 images"):
        check_coil_zip(other)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(PIADError, match="not a readable zip"):
        check_coil_zip(cut)
    crc = bytearray(zip_of({"obj1__0.png": b"abcdefgh" * 10}))
    crc[crc.index(b"abcdefgh")] ^= 0xFF  # a flipped byte inside a stored member
    bad = tmp_path / "crc.zip"
    bad.write_bytes(bytes(crc))
    with pytest.raises(PIADError, match="fails its CRC"):
        check_coil_zip(bad)


def test_check_cifar10_folder_names_the_wrong_file(tmp_path: Path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, _ in sources._cifar10_table()[3]:
        (folder / name).write_bytes(b"not cifar")
    with pytest.raises(PIADError, match=r"cifar-10-batches-py/data_batch_1 fails its md5 check"):
        check_cifar10_folder(tmp_path)
