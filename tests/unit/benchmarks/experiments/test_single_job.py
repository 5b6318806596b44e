"""benchmarks/experiments/single_job.py: one job's files (split, scores, ``result.json`` last),
hold-out and groups, the budget read from a method's info, ``run_job``'s containment (a failure
is recorded, a full disk is not), the job's log, and each state of a job folder."""

from __future__ import annotations

import errno
import logging

import numpy as np
import pytest
import runner_fakes
from sklearn.metrics import roc_auc_score

from benchmarks.data.splits import Split
from benchmarks.experiments import single_job
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import RESULT_FILE, Result
from benchmarks.experiments.single_job import (
    budget_of,
    execute,
    job_logging,
    job_state,
    log_end,
    run_job,
)
from benchmarks.reporting.render import write_report
from piad.errors import DiskFullError

LOG_FILE, SCORES_FILE, SPLIT_FILE = JobFolder.LOG, JobFolder.SCORES, JobFolder.SPLIT


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    """The toy dataset and the fake methods, registered for this test only."""
    runner_fakes.register(monkeypatch)
    return tmp_path


def _job(method: str, normal: str = "h", variant: str = "", seed: int = 0, **kw) -> Job:
    return Job("toy", "toy", kw.pop("protocol", "one_vs_all"), normal, method, variant, seed, **kw)


def test_execute_writes_split_scores_and_the_result_last_and_the_report_its_roc(fakes):
    out = fakes / "out"
    job = _job("kde")
    result = execute(job, fakes / "data", out, "cpu")
    folder = job.folder(out)
    names = {p.name for p in folder.iterdir()}
    assert {RESULT_FILE, SPLIT_FILE, SCORES_FILE} <= names and "roc.png" not in names
    result_time = (folder / RESULT_FILE).stat().st_mtime_ns
    assert all(result_time >= (folder / n).stat().st_mtime_ns for n in names)  # written last
    write_report(out)  # the report draws each finished job's ROC
    roc = folder / "roc.png"
    assert roc.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = roc.stat().st_mtime_ns
    write_report(out)
    assert roc.stat().st_mtime_ns == drawn  # drawn once

    split = Split.load(folder / SPLIT_FILE)
    assert (len(split.train), len(split.test), int(split.test_labels.sum())) == (40, 36, 24)
    with np.load(folder / SCORES_FILE) as z:
        assert np.array_equal(z["test_index"], split.test)
        assert result.auc == pytest.approx(roc_auc_score(z["labels"], z["scores"]))
    loaded = Result.load(folder)
    assert loaded.ok and loaded.job == job and loaded.auc == result.auc
    assert loaded.split["n_train"] == 40 and loaded.device == "cpu"
    assert loaded.environment["packages"]["scikit-learn"]
    assert loaded.method_info["method"] == "kde" and loaded.wall_time_s > 0
    assert loaded.started <= loaded.finished


def test_holdout_variant_takes_a_labelled_tenth_out_of_the_test_set(fakes):
    out = fakes / "out"
    result = execute(_job("ocsvm", variant="holdout"), fakes / "data", out, "cpu")
    # stratified 10%: round(0.1 * 12) = 1 normal and round(0.1 * 24) = 2 anomalies
    assert result.split["n_holdout"] == 3
    with np.load(_job("ocsvm", variant="holdout").folder(out) / SCORES_FILE) as z:
        assert len(z["scores"]) == 33 and len(z["holdout_index"]) == 3
        assert not set(z["holdout_index"]) & set(z["test_index"])
    assert result.method_info["gamma_selection"] == "holdout"


def test_groups_get_one_auc_each(fakes):
    out = fakes / "out"
    job = _job("kde", protocol="toy_groups")
    result = execute(job, fakes / "data", out, "cpu")
    assert sorted(result.aucs) == ["c", "v"]
    with np.load(job.folder(out) / SCORES_FILE) as z:
        labels, scores = z["labels"], z["scores"]
    split = Split.load(job.folder(out) / SPLIT_FILE)
    for group in ("c", "v"):
        mask = split.group_mask(group)
        assert mask.sum() == 24  # 12 normal + 12 of the group
        assert result.aucs[group] == pytest.approx(roc_auc_score(labels[mask], scores[mask]))


@pytest.mark.parametrize(
    ("info", "budget"),
    [
        (
            {"budget": {"run": 100, "paper": 50_000, "unit": "iterations"}},
            (100, 50_000, "iterations"),
        ),
        ({"budget": {"run": 3, "unit": "epochs"}}, (3, None, "epochs")),
        ({"budget": {"run": "all", "paper": 1.5}}, (None, None, None)),  # not whole counts
        ({"budget": None}, (None, None, None)),
        ({}, (None, None, None)),  # KDE, OC-SVM: no training budget
    ],
)
def test_budget_of_a_methods_info(info, budget):
    assert budget_of(info) == budget


def test_run_job_records_a_failure_on_one_line_and_logs_the_traceback(fakes):
    out = fakes / "out"
    job = _job("crash")
    result = run_job(job, fakes / "data", out, "cpu", threads=1)
    assert result.status == "failed" and result.error == "ValueError: deliberate failure in fit"
    assert Result.load(job.folder(out)).error == result.error
    assert result.wall_time_s is not None and result.wall_time_s >= 0
    log = (job.folder(out) / LOG_FILE).read_text().splitlines()
    assert log[0].startswith("=== toy/crash/h/seed0 on cpu, started ")
    assert log[1] == f"job: {job.to_dict()}"
    assert "Traceback (most recent call last):" in log and "second line" in log
    assert log[-1].startswith("=== failed: ValueError: deliberate failure in fit, ")
    assert log[-1].endswith(" s")


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), DiskFullError("disk /work is full")],
)
def test_run_job_lets_a_full_disk_through_and_records_nothing(fakes, monkeypatch, error):
    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(single_job, "execute", full)
    job = _job("kde")
    with pytest.raises(type(error)):
        run_job(job, fakes / "data", fakes / "out")
    assert not (job.folder(fakes / "out") / RESULT_FILE).exists()


def test_run_job_logs_the_auc_of_a_finished_job(fakes):
    out = fakes / "out"
    result = run_job(_job("kde"), fakes / "data", out)
    last = (_job("kde").folder(out) / LOG_FILE).read_text().splitlines()[-1]
    assert last.startswith(f"=== ok, AUC {result.auc:.4f}, ")


def test_log_end_line():
    job = _job("kde")
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    log_end(Result(job=job, status="ok", auc=0.87654, wall_time_s=12.345), Stream())
    log_end(Result(job=job, status="failed", error="ValueError: x", wall_time_s=0.04), Stream())
    assert "".join(lines) == "=== ok, AUC 0.8765, 12.3 s\n=== failed: ValueError: x, 0.0 s\n"


def test_job_logging_sends_logs_warnings_and_prints_to_the_stream_then_restores(tmp_path):
    import warnings

    piad_log = logging.getLogger("piad")
    level = piad_log.level
    path = tmp_path / "job.log"
    with open(path, "w", encoding="utf-8") as stream, job_logging(stream):
        logging.getLogger("piad.training").info("iteration 10")
        logging.getLogger("benchmarks.runner").debug("not at INFO")
        warnings.warn("a warning of the job", UserWarning, stacklevel=1)
        print("printed by the job")
    text = path.read_text()
    assert "piad.training INFO: iteration 10" in text and "not at INFO" not in text
    assert "a warning of the job" in text and "printed by the job" in text
    assert piad_log.level == level and not any(
        getattr(h, "stream", None) is stream for h in piad_log.handlers
    )
    logging.getLogger("piad").info("after the job")  # no handler left: the closed file is not used


def test_job_state_of_each_kind_of_folder(fakes):
    out = fakes / "out"
    job = _job("kde")
    assert job_state(job, out) == "todo"
    execute(job, fakes / "data", out, "cpu")
    assert job_state(job, out) == "done"
    assert job_state(_job("kde", iters=5), out) == "changed"  # another budget: rerun
    failed = _job("crash")
    run_job(failed, fakes / "data", out)
    assert job_state(failed, out) == "failed"
    (job.folder(out) / RESULT_FILE).write_text("{not json")
    assert job_state(job, out) == "todo"  # an unreadable record is redone
