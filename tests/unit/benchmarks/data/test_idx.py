"""benchmarks/data/idx.py: IDX files read and written (plain or gzipped), the four-file sets,
and the errors on bad magic, truncation, missing or mismatched files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from benchmarks.data.idx import (
    find_idx_file,
    has_idx_set,
    read_idx,
    read_idx_set,
    write_idx,
)
from piad.errors import MissingInputError, PIADError


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


def test_read_idx_set_mixed_plain_and_gz(tmp_path, write_idx_set):
    write_idx_set(tmp_path, [1, 2, 3], [4, 5], size=4, gz=False)
    gz = tmp_path / "t10k-labels-idx1-ubyte"
    gz.with_suffix(".gz").write_bytes(gzip.compress(gz.read_bytes()))
    gz.unlink()
    assert has_idx_set(tmp_path)
    train_x, train_y, test_x, test_y = read_idx_set(tmp_path)
    assert train_x.shape == (3, 4, 4) and test_x.shape == (2, 4, 4)
    assert train_y.tolist() == [1, 2, 3] and test_y.tolist() == [4, 5]
    assert train_y.dtype == np.int64


def test_read_idx_set_errors(tmp_path, write_idx_set):
    with pytest.raises(MissingInputError, match="train-images-idx3-ubyte"):
        read_idx_set(tmp_path)
    write_idx_set(tmp_path, [1, 2, 3], [4, 5], size=4)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))  # 3 images
    with pytest.raises(PIADError, match="do not match"):
        read_idx_set(tmp_path)


# --------------------------------------------------------------------------- writing, finding


def test_write_idx_header_bytes_and_compression_choice(tmp_path):
    labels = np.array([7, 2, 1], dtype=np.uint8)
    plain = write_idx(tmp_path / "labels", labels)
    assert plain.read_bytes() == b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x07\x02\x01"
    forced = write_idx(tmp_path / "forced", labels, compress=True)  # no .gz, gzipped anyway
    assert gzip.decompress(forced.read_bytes()) == plain.read_bytes()
    kept = write_idx(tmp_path / "kept.gz", labels, compress=False)  # .gz, plain on request
    assert kept.read_bytes() == plain.read_bytes()
    with pytest.raises(PIADError, match="IDX cannot store dtype int64"):
        write_idx(tmp_path / "wide", np.zeros(3, np.int64))


def test_find_idx_file_prefers_the_plain_file(tmp_path):
    stem = "t10k-labels-idx1-ubyte"
    assert find_idx_file(tmp_path, stem) is None
    (tmp_path / f"{stem}.gz").write_bytes(b"")
    assert find_idx_file(tmp_path, stem) == tmp_path / f"{stem}.gz"
    (tmp_path / stem).write_bytes(b"")
    assert find_idx_file(tmp_path, stem) == tmp_path / stem
    assert not has_idx_set(tmp_path)  # one of four files
