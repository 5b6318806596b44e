"""The shared plumbing: atomic writes, the Job and Split types, registry errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job
from piad.errors import PIADError, lookup
from piad.io import (
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    read_torch_file,
)


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"auc": 0.5})
    atomic_write_json(target, {"auc": np.float32(0.75), "idx": np.arange(3)})
    assert json.loads(target.read_text()) == {"auc": 0.75, "idx": [0, 1, 2]}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")
    with pytest.raises(ValueError):  # NaN is not valid JSON: refused, old content kept
        atomic_write_json(target, {"auc": float("nan")})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_npz_round_trip(tmp_path):
    path = atomic_save_npz(tmp_path / "a.npz", x=np.arange(5))
    with np.load(path) as z:
        assert z["x"].tolist() == [0, 1, 2, 3, 4]


def test_lookup_lists_known_names():
    with pytest.raises(PIADError, match=r"unknown suite 'tabel2'; known: quick, table2"):
        lookup({"table2": 1, "quick": 2}, "suite", "tabel2")
    assert lookup({"a": 1}, "suite", "a") == 1


def test_job_slug_is_path_safe_and_round_trips():
    job = Job("table3", "fmnist", "gpnd_80_20", "T-shirt/top", "piad", "paper", 2, iters=100)
    assert job.slug == "fmnist/piad-paper/T-shirt_top/seed2"
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    assert Job("q", "mnist5k", "one_vs_all", "3", "kde").slug == "mnist5k/kde/3/seed0"


def _split(seed: int = 0) -> Split:
    return Split(
        dataset="toy",
        protocol="one_vs_all",
        normal="1",
        seed=seed,
        fingerprint="abc",
        train=np.array([0, 1, 2]),
        test=np.array([3, 4, 5, 6]),
        test_labels=np.array([0, 1, 1, 0]),
        groups={"A": np.array([1]), "B": np.array([2])},
    )


def test_split_manifest_round_trip_and_group_mask(tmp_path):
    split = _split()
    loaded = Split.load(split.save(tmp_path / "split.npz"))
    assert loaded.same_as(split)
    assert not loaded.same_as(_split(seed=1))
    assert loaded.group_mask("A").tolist() == [True, True, False, True]
    assert loaded.meta["n_anomalies"] == 2


def test_split_rejects_bad_labels_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        Split("t", "p", "n", 0, "f", [0], [1, 2], [0, 2])
    bad = tmp_path / "split.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PIADError, match="corrupt"):
        Split.load(bad)
    with pytest.raises(PIADError, match="does not exist"):
        Split.load(tmp_path / "missing.npz")


def test_importing_piad_does_not_import_torch():
    code = "import sys, piad; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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
