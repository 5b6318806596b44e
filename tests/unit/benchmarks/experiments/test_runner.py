"""What a run that stopped says: its exit code and its one last line."""

from __future__ import annotations

import signal

from benchmarks.experiments.backends import NotRun
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import Result
from benchmarks.experiments.runner import RunSummary


def _job(normal: str) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, "kde", "", 0)


def test_a_run_stopped_by_a_signal_exits_128_plus_it_and_counts_its_jobs():
    summary = RunSummary(
        results=[Result(_job("h"), "ok", auc=0.9), NotRun(_job("v"), "interrupted")],
        not_started=[_job("c")],
        signum=signal.SIGTERM,
    )
    assert summary.exit_code == 143 and not summary.failed
    assert [r.job.normal for r in summary.interrupted] == ["v"]
    assert summary.stop_line() == (
        "stopped by SIGTERM: 1 done, 1 interrupted (checkpoints kept), 1 not started; rerun "
        "the same command to resume (nothing was half-written)"
    )
    assert RunSummary(signum=signal.SIGINT).exit_code == 130


def test_a_full_disk_exits_1_with_its_line_and_a_finished_run_has_no_stop_code():
    full = RunSummary(disk_full="disk full: no space left on /dev/x (mounted at /m) ...")
    assert full.exit_code == 1
    assert full.stop_line().startswith("error: disk full: no space left on /dev/x")
    done = RunSummary(results=[Result(_job("h"), "failed", error="ValueError: x")])
    assert done.exit_code is None and len(done.failed) == 1
    held = RunSummary(results=[NotRun(_job("h"), "held")])
    assert len(held.held) == 1 and not held.failed
