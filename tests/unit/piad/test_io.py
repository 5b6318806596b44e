"""Atomic writes: the previous file survives a failed write, a full disk is one line."""

from __future__ import annotations

import errno
import hashlib
import json

import numpy as np
import pytest

import piad.io
from piad.errors import DiskFullError, PIADError
from piad.io import (
    append_csv_row,
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    disk_full,
    is_disk_full,
    mount_of,
    read_torch_file,
    sha256_file,
)


@pytest.fixture
def full_disk(monkeypatch):
    """Every write of the helpers finds no space, as the kernel would say it."""

    def refuse(fd, data):
        import os

        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(piad.io, "_write_fd", refuse)


def test_writes_replace_the_whole_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "deep" / "r.json"  # parent folders are created
    atomic_write_json(path, {"auc": np.float32(0.5), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"auc": 0.5, "n": 3}
    atomic_write_text(path, "second")
    assert path.read_text() == "second" and [p.name for p in path.parent.iterdir()] == ["r.json"]
    atomic_save_npz(tmp_path / "s.npz", scores=np.arange(3.0))
    with np.load(tmp_path / "s.npz") as z:
        assert np.array_equal(z["scores"], [0.0, 1.0, 2.0])
    assert sha256_file(path) == hashlib.sha256(b"second").hexdigest()


def test_a_full_disk_keeps_the_previous_file_and_names_disk_and_folder(tmp_path, full_disk):
    path = tmp_path / "result.json"
    path.write_text("previous")
    with pytest.raises(DiskFullError) as info:
        atomic_write_text(path, "new")
    assert path.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == [path.name]
    line = str(info.value)
    mount, device = mount_of(tmp_path)
    assert line.startswith(f"disk full: no space left on {device} (mounted at {mount}) ")
    assert f"writing result.json in {tmp_path} " in line and "\n" not in line
    assert info.value.exit_code == 1


def test_a_refused_csv_append_is_cut_back_to_whole_rows(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    append_csv_row(path, ["iteration", "loss"], {"iteration": 1, "loss": 0.5})
    append_csv_row(path, ["iteration", "loss"], {"iteration": 2, "loss": 0.25})
    before = path.read_bytes()
    assert before.decode().splitlines() == ["iteration,loss", "1,0.5", "2,0.25"]

    real_open = open

    class HalfWrite:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])  # part of the row reaches the disk...
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")  # ...then it is full

    monkeypatch.setattr("builtins.open", lambda *a, **k: HalfWrite(real_open(*a, **k)))
    with pytest.raises(DiskFullError, match=r"writing log\.csv"):
        append_csv_row(path, ["iteration", "loss"], {"iteration": 3, "loss": 0.125})
    monkeypatch.undo()
    assert path.read_bytes() == before  # never a half row


def test_what_counts_as_a_full_disk(tmp_path):
    assert is_disk_full(OSError(errno.ENOSPC, "x")) and is_disk_full(OSError(errno.EDQUOT, "x"))
    assert is_disk_full(disk_full(tmp_path / "f", OSError(errno.ENOSPC, "x")))
    assert not is_disk_full(OSError(errno.EACCES, "x")) and not is_disk_full(ValueError("x"))


def test_a_refused_json_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")
    with pytest.raises(ValueError):  # NaN is not valid JSON: refused, old content kept
        atomic_write_json(target, {"auc": float("nan")})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.parametrize("mmap", [False, True])
def test_read_torch_file_round_trip_and_one_line_error(tmp_path, mmap):
    import torch

    path = atomic_torch_save({"w": torch.arange(3)}, tmp_path / "ok.pt")
    assert torch.equal(read_torch_file(path, "weights file", mmap=mmap)["w"], torch.arange(3))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file\nsecond line")
    with pytest.raises(PIADError) as err:
        read_torch_file(bad, "checkpoint", hint="; delete it to start over", mmap=mmap)
    message = str(err.value)
    assert message.startswith(f"cannot read checkpoint {bad}: ")
    assert message.endswith("; delete it to start over") and "\n" not in message
