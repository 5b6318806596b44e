"""The runner on a tiny dataset: failures, skip/rerun, resume after SIGKILL, worker death, and the
Ray backend on CPU (one job's own files, hold-out and groups are tested in
tests/unit/benchmarks/experiments/test_single_job.py).

The fakes (dataset ``toy``, methods ``tinypiad``/``crash``/``die``, suites ``toy*``) come
from ``tests/helpers/runner_fakes.py``; worker processes and subprocesses import them through the
plugin module ``runner_plugin`` named in ``$PIAD_PLUGINS``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import runner_fakes
from paths import HELPERS, ROOT, plugin_env

from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.placement import parse_devices
from benchmarks.experiments.results import RESULT_FILE, Result
from benchmarks.experiments.runner import run_jobs
from benchmarks.experiments.single_job import execute, job_state
from benchmarks.experiments.suites import make_jobs
from benchmarks.registry import load_plugins
from piad.errors import PIADError

LOG_FILE, SCORES_FILE, SPLIT_FILE = JobFolder.LOG, JobFolder.SCORES, JobFolder.SPLIT


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """Register the fakes for this test, and for the worker processes it starts."""
    runner_fakes.register(monkeypatch)
    monkeypatch.setenv("PIAD_PLUGINS", "runner_plugin")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HELPERS), path) if p))
    return tmp_path


def _job(method: str, normal: str = "h", variant: str = "", seed: int = 0, **kw) -> Job:
    return Job("toy", "toy", kw.pop("protocol", "one_vs_all"), normal, method, variant, seed, **kw)


def _quiet(line: str) -> None:
    pass


def test_a_failing_job_is_recorded_and_the_suite_goes_on(fakes):
    out = fakes / "out"
    jobs = make_jobs("toyfail", methods="crash,kde")
    summary = run_jobs(jobs, fakes / "data", out, backend="inline", progress=False, echo=_quiet)
    assert [r.status for r in summary.results] == ["ok", "failed"]
    crash = next(j for j in jobs if j.method == "crash")
    failed = Result.load(crash.folder(out))
    assert failed.error == "ValueError: deliberate failure in fit"
    log = (crash.folder(out) / LOG_FILE).read_text()
    assert "Traceback" in log and "second line" in log
    # a rerun skips the done job and retries the failed one
    again = run_jobs(jobs, fakes / "data", out, backend="inline", progress=False, echo=_quiet)
    assert [j.method for j in again.skipped] == ["kde"]
    assert [r.job.method for r in again.results] == ["crash"]
    assert (crash.folder(out) / LOG_FILE).read_text().count("=== toy/crash") == 2


def test_local_workers_contain_exceptions_and_a_dying_worker(fakes):
    out = fakes / "out"
    lines: list[str] = []
    summary = run_jobs(
        make_jobs("toyfail"), fakes / "data", out, ["cpu"], backend="local", progress=False,
        threads=1, echo=lines.append,
    )  # fmt: skip
    status = {r.job.method: (r.status, r.error) for r in summary.results}
    assert status["kde"] == ("ok", None)
    assert status["crash"] == ("failed", "ValueError: deliberate failure in fit")
    assert status["die"][0] == "failed" and "worker process died" in status["die"][1]
    die = next(j for j in make_jobs("toyfail") if j.method == "die")
    assert job_state(die, out) == "failed"
    assert any("FAILED" in line for line in lines) and "3 to run" in lines[0]


def test_a_changed_budget_reruns_and_piad_resumes_its_checkpoint(fakes):
    out = fakes / "out"
    first = run_jobs(
        [_job("tinypiad", iters=20)], fakes / "data", out, backend="inline", progress=False,
        threads=1, echo=_quiet,
    )  # fmt: skip
    assert first.results[0].ok and first.results[0].iters_run == 20
    assert job_state(_job("tinypiad", iters=20), out) == "done"
    assert job_state(_job("tinypiad", iters=40), out) == "changed"
    second = run_jobs(
        [_job("tinypiad", iters=40)], fakes / "data", out, backend="inline", progress=False,
        threads=1, echo=_quiet,
    )  # fmt: skip
    assert second.results[0].iters_run == 40
    log = (_job("tinypiad").folder(out) / LOG_FILE).read_text()
    assert "resuming" in log and "checkpoint.pt" in log


def test_a_changed_dataset_does_not_reuse_an_old_split(fakes):
    out = fakes / "out"
    job = _job("kde")
    execute(job, fakes / "data", out, "cpu")
    split = Split.load(job.folder(out) / SPLIT_FILE)
    other = Split("toy", "one_vs_all", "h", 0, "another-fingerprint", split.train, split.test,
                  split.test_labels)  # fmt: skip
    other.save(job.folder(out) / SPLIT_FILE)
    with pytest.raises(PIADError, match=r"differs from its saved manifest.*delete"):
        execute(job, fakes / "data", out, "cpu")


def test_bad_runner_arguments_are_clear_errors(fakes):
    with pytest.raises(PIADError, match="unknown backend 'slurm'"):
        run_jobs([_job("kde")], backend="slurm")
    with pytest.raises(PIADError, match="--jobs-per-device must be >= 1"):
        run_jobs([_job("kde")], jobs_per_device=0)
    with pytest.raises(PIADError, match="plugin module 'no_such_plugin'"):
        load_plugins(["no_such_plugin"])


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.cli", "--suite", "toy", "--classes", "h,v",
        "--seeds", "0", "--iters", "100", "--out", str(out), "--threads", "1",
        "--data-root", str(out.parent / "data"),
        "--no-progress", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return plugin_env()


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_uninterrupted_table(tmp_path):
    straight = subprocess.run(
        _cli(tmp_path / "a"), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert straight.returncode == 0, straight.stderr

    out = tmp_path / "b"
    victim = _job("tinypiad", "v", iters=100).folder(out)
    proc = subprocess.Popen(
        _cli(out), env=_env(), cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (victim / "work" / "checkpoint.pt").exists():  # class v's PIAD is training
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker, mid-training
    proc.wait()
    assert not (victim / RESULT_FILE).exists(), "killed too late: PIAD had finished"
    assert len(list(out.rglob(RESULT_FILE))) == 3  # class h: PIAD, OC-SVM, KDE done

    rerun = subprocess.run(
        _cli(out), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "6 jobs: 3 already done, 3 to run" in rerun.stderr
    assert "resuming" in (victim / LOG_FILE).read_text()
    assert (out / "report.md").read_text() == (tmp_path / "a" / "report.md").read_text()
    assert (out / "report.csv").read_text() == (tmp_path / "a" / "report.csv").read_text()
    with np.load(victim / SCORES_FILE) as z1:
        a = _job("tinypiad", "v", iters=100).folder(tmp_path / "a") / SCORES_FILE
        with np.load(a) as z2:
            assert np.array_equal(z1["scores"], z2["scores"])  # bit for bit


@pytest.mark.slow
def test_ray_backend_on_cpu_matches_the_inline_run(fakes):
    pytest.importorskip("ray")
    jobs = make_jobs("toy", classes="h,c", methods="kde", seeds="0")
    ray_out, inline_out = fakes / "ray", fakes / "inline"
    summary = run_jobs(
        jobs, fakes / "data", ray_out, parse_devices("cpu", "ray"), backend="ray", progress=False,
        echo=_quiet,
    )  # fmt: skip
    assert [r.status for r in summary.results] == ["ok", "ok"]
    run_jobs(jobs, fakes / "data", inline_out, backend="inline", progress=False, echo=_quiet)
    for job in jobs:
        ours = json.loads((job.folder(ray_out) / RESULT_FILE).read_text())
        ref = json.loads((job.folder(inline_out) / RESULT_FILE).read_text())
        assert ours["auc"] == ref["auc"] and ours["device"] == "cpu"
    again = run_jobs(
        jobs, fakes / "data", ray_out, ["cpu"], backend="ray", progress=False, echo=_quiet
    )
    assert len(again.skipped) == 2 and not again.results  # done jobs are not sent to Ray
