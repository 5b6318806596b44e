"""benchmarks/data/loaders/lsun.py: LSUN's three lmdb databases read lazily (partitions, labels,
square crop), their key caches, and image arrays that survive pickling."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.data.load_by_name import load_dataset


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
