"""A full disk: a write that finds no space stops the run with one line, loses nothing.

Real ``run_all`` processes on the toy suite (one tiny PIAD job, checkpoints every 20 iterations):
the disk fills up during a checkpoint (a real 24 MB tmpfs filled while the job trains, where the
machine lets the tests mount one; and at the suite's one write helper, on any machine) and
during ``result.json``. Each time: exit 1, one last line naming the disk and the folder, the
previous checkpoint intact, no ``result.json``; with space again, the same command completes
with the uninterrupted run's scores, bit for bit.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from paths import ROOT, plugin_env

from benchmarks.experiments.jobs import Job, JobFolder
from piad.training.checkpoint import read_checkpoint

ITERS = 200
pytestmark = pytest.mark.slow  # real runs of the runner, about 15 s each
JOB = Job("toy", "toy", "one_vs_all", "h", "tinypiad", "", 0, iters=ITERS)


def _cli(out: Path, data: Path) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.cli", "--suite", "toy", "--classes", "h",
        "--methods", "tinypiad", "--seeds", "0", "--iters", str(ITERS), "--out", str(out),
        "--threads", "1", "--data-root", str(data), "--no-progress",
    ]  # fmt: skip


def _env(fault: str = "") -> dict[str, str]:
    return plugin_env("runner_plugin,full_disk_plugin", PIAD_TEST_FULL_DISK=fault)


def _run(out: Path, data: Path, fault: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli(out, data), env=_env(fault), cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def _scores(out: Path) -> np.ndarray:
    with np.load(JOB.folder(out) / JobFolder.SCORES) as z:
        return z["scores"].copy()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The uninterrupted run's scores."""
    base = tmp_path_factory.mktemp("reference")
    done = _run(base / "out", base / "data")
    assert done.returncode == 0, done.stderr
    return _scores(base / "out")


def _assert_stopped_by_full_disk(done: subprocess.CompletedProcess[str], out: Path) -> str:
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: disk full: no space left on "), done.stderr
    assert "free space there, then rerun the same command" in last
    assert "Traceback" not in done.stderr
    assert not (JOB.folder(out) / JobFolder.RESULT).exists()
    assert not list(JOB.folder(out).rglob("*.tmp")), "a temporary file was left behind"
    print(last)  # the one line, shown with pytest -s
    return last


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, reference):
    out, data = tmp_path / "out", tmp_path / "data"
    done = _run(out, data, f"checkpoint.pt@2:{tmp_path / 'fault-happened'}")
    last = _assert_stopped_by_full_disk(done, out)
    work = JOB.folder(out) / "work"
    assert f"in {work} " in last  # the folder
    assert read_checkpoint(work / "checkpoint.pt")["iteration"] == 20  # the previous, intact

    rerun = _run(out, data)  # space again
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in (JOB.folder(out) / JobFolder.LOG).read_text()
    assert np.array_equal(_scores(out), reference)


def test_a_full_disk_at_result_json_loses_no_training(tmp_path, reference):
    out, data = tmp_path / "out", tmp_path / "data"
    done = _run(out, data, f"result.json:{tmp_path / 'fault-happened'}")
    last = _assert_stopped_by_full_disk(done, out)
    assert f"writing result.json in {JOB.folder(out)} " in last
    work = JOB.folder(out) / "work"
    assert read_checkpoint(work / "checkpoint.pt")["iteration"] == ITERS  # training kept

    rerun = _run(out, data)
    assert rerun.returncode == 0, rerun.stderr
    log = (JOB.folder(out) / JobFolder.LOG).read_text()
    assert "resuming" in log and log.count("=== ok") == 1
    assert np.array_equal(_scores(out), reference)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``where``; skips where the machine refuses mounts."""
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the fault-injection "
                    "tests above cover the same paths")  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write to ``disk`` until the kernel says it is full; returns the filler file."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as f:
        while True:  # the last partial block
            f.write(b"\0" * 512)
    return filler


def test_a_real_disk_filling_up_while_a_job_trains(tmp_path, reference):
    with small_tmpfs(tmp_path / "disk", "24m") as disk:
        out, data = disk / "out", tmp_path / "data"
        proc = subprocess.Popen(
            _cli(out, data), env=_env(), cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        checkpoint = JOB.folder(out) / "work" / "checkpoint.pt"
        deadline = time.monotonic() + 240
        while not checkpoint.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no first checkpoint"
            time.sleep(0.02)
        filler = fill(disk)
        stdout, stderr = proc.communicate(timeout=300)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        last = _assert_stopped_by_full_disk(done, out)
        assert f"(mounted at {disk})" in last
        kept = read_checkpoint(checkpoint)["iteration"]
        assert kept % 20 == 0 and 0 < kept < ITERS  # a whole earlier checkpoint

        filler.unlink()  # space again
        rerun = _run(out, data)
        assert rerun.returncode == 0, rerun.stderr
        assert np.array_equal(_scores(out), reference)
