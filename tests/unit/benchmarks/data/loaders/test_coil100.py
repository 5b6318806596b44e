"""benchmarks/data/loaders/coil100.py: COIL-100 from its zip or folder, object 100 relabelled 0,
the authors' scikit-image resize (bilinear as the named alternative), missing images named."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from benchmarks.data.info import COIL100_CLASSES
from benchmarks.data.load_by_name import load_dataset
from piad.errors import MissingInputError
from piad.image_arrays import resize_uint8 as resize_bulk


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
