"""One task in this process (``run_task``): locks, a full disk, and the stop control."""

from __future__ import annotations

import errno
import signal

import pytest
import runner_fakes

from benchmarks.experiments import locks
from benchmarks.experiments.backends import NotRun, StopControl, run_task
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.registry import register_method
from piad.errors import PIADError


def _job(method: str = "kde", normal: str = "h") -> Job:
    return Job("toy", "toy", "one_vs_all", normal, method, "", 0)


class FullDiskInFit:
    needs_holdout = False

    def fit(self, images, holdout=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    def score(self, images):  # pragma: no cover - never reached
        raise AssertionError("scored after a failed fit")

    def info(self):  # pragma: no cover - never reached
        return {}


@pytest.fixture
def out(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    register_method("fulldisk", lambda *a, **k: FullDiskInFit())
    return tmp_path


def _run(job: Job, out) -> list:
    return run_task((job,), str(out / "data"), out / "results", "cpu", False, 1)


def test_a_job_whose_lock_another_runner_holds_is_not_run(out):
    job = _job()
    folder = JobFolder.of(job, out / "results")
    with locks.hold(folder.path) as mine:
        assert mine is not None
        (result,) = _run(job, out)  # the lock is per open file: this process counts as another
    assert isinstance(result, NotRun) and result.status == "held"
    assert "held by another runner (pid " in (result.error or "")
    assert not folder.result.exists() and not folder.log.exists()


def test_a_job_finished_meanwhile_is_not_run_again(out):
    job = _job()
    (first,) = _run(job, out)
    assert first.status == "ok"
    log = JobFolder.of(job, out / "results").log.read_text()
    (second,) = _run(job, out)
    assert second.status == "held" and second.error == "finished by another runner meanwhile"
    assert JobFolder.of(job, out / "results").log.read_text() == log


def test_a_full_disk_is_not_the_jobs_failure(out):
    job = _job("fulldisk")
    (result,) = _run(job, out)
    folder = JobFolder.of(job, out / "results")
    assert isinstance(result, NotRun) and result.status == "disk-full"
    assert (result.error or "").startswith("disk full: no space left on ")
    assert not folder.result.exists()  # not recorded as failed: the rerun runs it


def test_not_run_results_are_never_saved_and_have_known_statuses(tmp_path):
    with pytest.raises(PIADError, match="did not run"):
        NotRun(_job(), "interrupted").save(tmp_path)
    with pytest.raises(PIADError, match="not-run status must be one of"):
        NotRun(_job(), "ok")


def test_the_stop_control_passes_each_signal_on_and_kills_on_the_second():
    control, seen = StopControl(), []
    control.forward_to(lambda signum, kill: seen.append((signum, kill)))
    assert not control.stopping
    control.on_signal(signal.SIGINT)
    control.on_signal(signal.SIGTERM)
    assert control.signum == signal.SIGINT and control.stopping  # the first signal counts
    assert seen == [(signal.SIGINT, False), (signal.SIGTERM, True)]


def test_a_stop_from_inside_stops_the_workers_once():
    control, seen = StopControl(), []
    control.forward_to(lambda signum, kill: seen.append((signum, kill)))
    control.stop_for("disk full: ...")
    control.stop_for("disk full again")
    assert control.reason == "disk full: ..." and control.signum is None and control.stopping
    assert seen == [(signal.SIGTERM, False)]
