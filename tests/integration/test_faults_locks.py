"""Two runners on one ``--out``: every job runs exactly once, the table equals one runner's.

Two real ``run_all`` processes on the toy suite; the second starts while the first is training
its first PIAD job, finds that job's lock held, skips it (and says so), and takes the rest.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from paths import ROOT, plugin_env
from runner_fakes import register

from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.suites import make_jobs


def _env() -> dict[str, str]:
    return plugin_env()


def _job(normal: str) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, "tinypiad", "", 0, iters=200)


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.cli", "--suite", "toy", "--classes", "h,v",
        "--methods", "tinypiad,kde", "--seeds", "0", "--iters", "200", "--out", str(out),
        "--threads", "1", "--data-root", str(out.parent / "data"), "--no-progress", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_two_runners_share_the_jobs_and_each_runs_once(tmp_path, monkeypatch):
    register(monkeypatch)  # the toy suite, for make_jobs below
    single = subprocess.run(
        _cli(tmp_path / "single"), env=_env(), cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr

    out = tmp_path / "shared"
    first = subprocess.Popen(
        _cli(out), env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    checkpoint = _job("h").folder(out) / "work" / "checkpoint.pt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists():  # the first runner is training toy/tinypiad/h
        assert first.poll() is None and time.monotonic() < deadline, first.stderr
        time.sleep(0.05)
    second = subprocess.run(
        _cli(out), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (first_err, second.stderr)
    assert "toy/tinypiad/h/seed0: skipped: held by another runner (pid" in second.stderr
    assert "job(s) skipped: another runner" in second.stderr

    jobs = make_jobs("toy", classes="h,v", methods="tinypiad,kde", seeds="0", iters=200)
    for job in jobs:
        log = (job.folder(out) / JobFolder.LOG).read_text()
        assert log.count(f"=== {job.slug} on") == 1, job.slug  # run exactly once
        assert log.count("=== ok") == 1
    ran_by_second = [j for j in jobs if f"{j.slug}: AUC" in second.stderr]
    assert ran_by_second and len(ran_by_second) < len(jobs)  # the work was shared

    report = subprocess.run(
        _cli(out, "--report-only"), env=_env(), cwd=ROOT, capture_output=True, text=True
    )
    assert report.returncode == 0, report.stderr
    assert (out / "report.md").read_text() == (tmp_path / "single" / "report.md").read_text()
    assert (out / "report.csv").read_text() == (tmp_path / "single" / "report.csv").read_text()
