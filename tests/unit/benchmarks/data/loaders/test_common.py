"""benchmarks/data/loaders/common.py: the loaders' one-line error for missing data, the check of
per-class counts, the square crop-and-resize, and fetch_files through the fetch machinery."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from fetch_server import FileServer, serve
from PIL import Image

from benchmarks.data import sources
from benchmarks.data.datalock import read_records
from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.loaders.common import check_counts, fetch_files, square_crop_resize
from benchmarks.data.source_types import DatasetSource, Licence, RemoteFile
from piad.errors import MissingInputError, PIADError


@pytest.mark.parametrize("name", ["mnist", "cifar10", "coil100", "celeba", "lsun"])
def test_missing_files_one_clear_error(tmp_path, name):
    with pytest.raises(MissingInputError) as err:
        load_dataset(name, tmp_path, download=False)
    message = str(err.value)
    assert f"dataset {name!r}" in message and str(tmp_path) in message
    assert "expected layout" in message and "get it from" in message
    assert "\n" not in message


# --------------------------------------------------------------------------- helpers


def test_check_counts_names_the_folder_and_both_counts(tmp_path):
    labels = np.array([0, 0, 1, 2, 2, 2])
    check_counts("toy", tmp_path, labels, "train", (2, 1, 3))  # the expected counts pass
    with pytest.raises(PIADError) as info:
        check_counts("toy", tmp_path, labels, "test", (2, 1, 3, 1))  # class 3 absent
    assert str(info.value) == (
        f"{tmp_path} does not hold the official toy test set: per-class counts (2, 1, 3, 0), "
        "expected (2, 1, 3, 1); put the right files there"
    )


def test_square_crop_resize_keeps_the_central_square_as_rgb():
    # 60 wide, 40 high, grey: a black 10-column band each side around a 40x40 random centre
    pixels = np.zeros((40, 60), np.uint8)
    pixels[:, 10:50] = np.random.default_rng(0).integers(1, 256, (40, 40), dtype=np.uint8)
    out = square_crop_resize(Image.fromarray(pixels, "L"), 20)
    assert out.shape == (20, 20, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    centre = Image.fromarray(pixels[:, 10:50], "L").convert("RGB")
    assert np.array_equal(out, np.asarray(centre.resize((20, 20), Image.BILINEAR)))
    assert out.min() > 0  # nothing of the black bands


def test_fetch_files_fetches_the_dataset_whose_files_a_variant_reads(monkeypatch, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("coil-100/obj1__0.png", b"x")
    data = buf.getvalue()
    with serve(FileServer(files={"coil-100.zip": data})) as srv:
        archive = RemoteFile("coil100", "coil-100.zip", (srv.url("coil-100.zip"),), None)
        licence = Licence("test data", "http://127.0.0.1/")
        source = DatasetSource("coil100", (archive,), licence, "<root>/coil-100.zip")
        monkeypatch.setitem(sources.EXTRA_SOURCES, "coil100", source)
        fetch_files("coil100_bilinear", tmp_path)  # its files are coil100's
        assert [r.path for r in srv.gets()] == ["coil-100.zip"]
    assert (tmp_path / "coil-100.zip").read_bytes() == data
    assert read_records(tmp_path)["coil-100.zip"]["sha256"] == hashlib.sha256(data).hexdigest()
