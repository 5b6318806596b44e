"""benchmarks/data/datalock.py: the records of a data root (piad-data.lock.json) and its
exclusive, re-entrant lock, keyed by the root's real path."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import subprocess
import sys
import threading

import pytest

from benchmarks.data.datalock import (
    lock,
    lock_file,
    lock_path,
    now,
    read_records,
    write_record,
)
from piad.errors import PIADError

# --------------------------------------------------------------------------- lock


def test_lock_excludes_another_process_and_is_reentrant(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(lock_path(tmp_path))!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with (
            pytest.raises(PIADError, match="another process is fetching into"),
            lock(tmp_path, timeout=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with (
        lock(tmp_path) as path,
        lock(tmp_path),  # re-entrant within a thread
        open(path, "a") as other,
        pytest.raises(BlockingIOError),
    ):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock_path(tmp_path), "a") as other:  # released at the end
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_lock_file_is_keyed_by_the_real_path(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert lock_path(tmp_path / "link") == lock_path(tmp_path / "a")
    assert lock_path(tmp_path / "a") != lock_path(tmp_path)
    assert not str(lock_path(tmp_path)).startswith(str(tmp_path))  # never in the data root


def test_the_lock_waits_for_another_thread_then_gives_up_in_one_line(tmp_path):
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock(tmp_path):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(PIADError) as info, lock(tmp_path, timeout=0.2):
            pass
        assert str(info.value) == (
            f"another thread is fetching into {tmp_path}; try again when it is done"
        )
    finally:
        release.set()
        holder.join()
    with lock(tmp_path, timeout=0.2) as path:  # free again once the thread is done
        assert path == lock_path(tmp_path)


# --------------------------------------------------------------------------- records


def test_records_round_trip_and_an_entry_is_removed_with_none(tmp_path):
    assert lock_file(tmp_path) == tmp_path / "piad-data.lock.json"
    assert read_records(tmp_path) == {}  # no lock file yet
    write_record(tmp_path, "mnist/a.gz", {"size": 3, "md5": "ab"})
    write_record(tmp_path, "coil-100.zip", {"size": 5, "sha256": "cd"})
    assert read_records(tmp_path) == {
        "mnist/a.gz": {"size": 3, "md5": "ab"},
        "coil-100.zip": {"size": 5, "sha256": "cd"},
    }
    write_record(tmp_path, "mnist/a.gz", None)
    write_record(tmp_path, "never/recorded", None)  # removing an absent entry is no error
    saved = json.loads(lock_file(tmp_path).read_text())
    assert saved == {"format": 1, "files": {"coil-100.zip": {"size": 5, "sha256": "cd"}}}


@pytest.mark.parametrize("text", ["{not json", '{"format": 1}', '{"files": [1, 2]}'])
def test_an_unreadable_lock_file_says_how_to_recover(tmp_path, text):
    lock_file(tmp_path).write_text(text)
    with pytest.raises(PIADError) as info:
        read_records(tmp_path)
    message = str(info.value)
    assert message.startswith(f"cannot read {lock_file(tmp_path)} (")
    assert message.endswith("restore it, or delete it to record them afresh")
    assert "\n" not in message


def test_now_is_utc_to_the_second():
    stamp = dt.datetime.fromisoformat(now())
    assert stamp.utcoffset() == dt.timedelta(0) and stamp.microsecond == 0
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 5
