"""benchmarks/data/splits.py: a Split's arrays become int64, its lengths are checked, its meta
header counts what it holds, same_as compares every part, a manifest round-trips, and a
manifest that is missing, corrupt or short of a part is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.data.splits import Split
from piad.errors import PIADError


def make(**changes) -> Split:
    fields = dict(
        dataset="toy",
        protocol="celeba_attributes",
        normal="all",
        seed=3,
        fingerprint="f" * 64,
        train=[0, 1, 2, 3],
        test=[4, 5, 6, 7, 8],
        test_labels=[0, 1, 0, 1, 1],
        groups={"Young": [1], "Bald": [3, 4]},
    )
    fields.update(changes)
    return Split(**fields)


def test_arrays_are_int64_and_the_lengths_must_agree():
    split = make(train=np.array([0, 1], np.int32), test_labels=[False, True, False, True, True])
    assert split.train.dtype == np.int64 and split.test.dtype == np.int64
    assert split.test_labels.tolist() == [0, 1, 0, 1, 1] and split.test_labels.dtype == np.int64
    assert {k: v.dtype for k, v in split.groups.items()} == {"Young": np.int64, "Bald": np.int64}
    with pytest.raises(ValueError, match="test and test_labels differ in length"):
        make(test_labels=[0, 1])


def test_meta_counts_what_the_split_holds():
    assert make().meta == {
        "dataset": "toy",
        "protocol": "celeba_attributes",
        "normal": "all",
        "seed": 3,
        "fingerprint": "f" * 64,
        "n_train": 4,
        "n_test": 5,
        "n_anomalies": 3,
        "groups": ["Bald", "Young"],  # sorted
    }
    json.dumps(make().meta)  # the header of the manifest is plain JSON


def test_group_masks_add_one_group_to_every_normal_image():
    split = make()
    assert split.group_mask("Bald").tolist() == [True, False, True, True, True]
    assert split.group_mask("Young").tolist() == [True, True, True, False, False]
    assert split.test_labels.tolist() == [0, 1, 0, 1, 1]  # the labels are not changed
    with pytest.raises(KeyError):
        split.group_mask("Smiling")


@pytest.mark.parametrize(
    "changes",
    [
        {"train": [0, 1, 2, 9]},
        {"test": [4, 5, 6, 7, 9]},
        {"test_labels": [0, 1, 1, 0, 1]},
        {"groups": {"Young": [1], "Bald": [3]}},
        {"groups": {"Young": [1], "Wavy": [3, 4]}},
        {"fingerprint": "0" * 64},
        {"normal": "other"},
    ],
)
def test_same_as_sees_a_change_in_any_part(changes):
    assert make().same_as(make())
    assert not make().same_as(make(**changes))


def test_empty_groups_survive_the_manifest(tmp_path):
    split = make(groups={})
    loaded = Split.load(split.save(tmp_path / "split.npz"))
    assert loaded.groups == {} and loaded.same_as(split)


def test_a_manifest_missing_a_part_is_corrupt(tmp_path):
    path = tmp_path / "split.npz"
    make().save(path)
    with np.load(path) as z:
        parts = {k: z[k] for k in z.files if k != "test_labels"}
    np.savez(path, **parts)
    with pytest.raises(PIADError) as info:
        Split.load(path)
    message = str(info.value)
    assert message.startswith(f"split manifest {path} is corrupt (")
    assert "test_labels" in message and message.endswith("; delete it and rerun")


def test_manifest_round_trip_and_group_mask(tmp_path):
    split = make()
    loaded = Split.load(split.save(tmp_path / "split.npz"))
    assert loaded.same_as(split)
    assert not loaded.same_as(make(seed=4))
    # labels [0, 1, 0, 1, 1]; Bald holds test positions 3 and 4: normals 0, 2 plus 3, 4
    assert loaded.group_mask("Bald").tolist() == [True, False, True, True, True]
    assert loaded.meta["n_anomalies"] == 3


def test_bad_labels_and_corrupt_or_missing_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        Split("t", "p", "n", 0, "f", [0], [1, 2], [0, 2])
    bad = tmp_path / "split.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PIADError, match="corrupt"):
        Split.load(bad)
    with pytest.raises(PIADError, match="does not exist"):
        Split.load(tmp_path / "missing.npz")
