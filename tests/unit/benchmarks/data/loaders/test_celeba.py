"""benchmarks/data/loaders/celeba.py: CelebA's tables (attributes as 0/1, partitions) and its
lazily read images (central 140 x 140 -> 64), and tables that disagree refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.loaders.celeba import CelebAImages, read_celeba_tables
from piad.errors import MissingInputError, PIADError

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


def test_the_celeba_loader_reads_the_central_140_square(tmp_path):
    # 178x218 (CelebA): red border, blue 140x140 centre at the CenterCrop offsets (19, 39)
    image = np.zeros((218, 178, 3), np.uint8)
    image[..., 0] = 255
    image[39:179, 19:159] = (0, 0, 255)
    Image.fromarray(image).save(tmp_path / "000001.png")
    out = CelebAImages(tmp_path, ["000001.png"], size=64)[0]
    assert out.shape == (64, 64, 3)
    assert (out == (0, 0, 255)).all()


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


def test_attributes_table_round_trip_types(tmp_path):
    write_celeba(tmp_path, n=5)
    ds = load_dataset("celeba", tmp_path, download=False)
    assert isinstance(ds.attributes, pd.DataFrame)
    assert ds.attributes.index.tolist() == list(range(5))  # row i = image i


def test_bad_values_in_the_tables_and_an_unreadable_image_are_one_line(tmp_path):
    write_celeba(tmp_path, n=3)
    folder = tmp_path / "celeba"
    attr, part = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    good_attr = attr.read_text()
    lines = good_attr.splitlines()
    lines[3] = lines[3][:11] + " 0" + lines[3][13:]  # 000002.jpg's first attribute: 0
    attr.write_text("\n".join(lines) + "\n")
    with pytest.raises(PIADError, match="should have 40 attribute columns of -1/1"):
        read_celeba_tables(folder)
    attr.write_text(good_attr)
    part.write_text(part.read_text().replace("000003.jpg 1", "000003.jpg 7"))
    with pytest.raises(PIADError, match="has partition codes other than 0/1/2"):
        read_celeba_tables(folder)
    (folder / "img_align_celeba" / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(MissingInputError, match=r"cannot read CelebA image .*000001\.jpg"):
        CelebAImages(folder / "img_align_celeba", ["000001.jpg"])[0]
