"""``--fuse``: compatible PIAD jobs of a suite trained as fused groups by the runner.

A fused run writes every job's files as a solo run does and gives the same numbers (to float
tolerance); done jobs leave a group, which re-forms from the others; the local worker and Ray
backends run a fused group as one task.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import runner_fakes
from paths import HELPERS

from benchmarks.cli import main as cli_main
from benchmarks.experiments.fusion import describe, fusion_key, parse_fuse, plan_tasks
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import RESULT_FILE
from benchmarks.experiments.runner import run_jobs
from piad.errors import PIADError


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    monkeypatch.setenv("PIAD_PLUGINS", "runner_plugin")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HELPERS), path) if p))
    return tmp_path


def _job(method: str, normal: str = "h", seed: int = 0, **kw) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, method, "", seed, **kw)


def _quiet(line: str) -> None:
    pass


def _result(job: Job, out) -> dict:
    return json.loads((job.folder(out) / RESULT_FILE).read_text())


def test_parse_fuse_and_its_errors():
    assert parse_fuse("auto") == "auto" and parse_fuse("AUTO") == "auto"
    assert parse_fuse("3") == 3 and parse_fuse(2) == 2 and parse_fuse(None) is None
    for bad in ("0", "-1", "four"):
        with pytest.raises(PIADError, match="give a group size K >= 1 or 'auto'"):
            parse_fuse(bad)


def test_only_compatible_jobs_are_grouped(fakes):
    piads = [_job("tinypiad", c, s) for c in ("h", "v", "c") for s in (0, 1)]
    other = [_job("kde", "h"), _job("ocsvm", "v")]
    longer = _job("tinypiad", "h", 2, overrides=(("lr_d", 1e-3),))  # another config
    jobs = [piads[0], other[0], *piads[1:], other[1], longer]
    assert fusion_key(other[0]) is None
    assert fusion_key(piads[0]) == fusion_key(piads[5]) != fusion_key(longer)
    tasks = plan_tasks(jobs, 4)
    # a group's chunks follow each other, at the place of its first job
    assert tasks == [tuple(piads[:4]), tuple(piads[4:]), (other[0],), (other[1],), (longer,)]
    assert plan_tasks(jobs, 1) == [(j,) for j in jobs]
    assert describe(tasks) == "2 fused groups of 4, 2 models (6 jobs fused)"
    # --fuse auto on a CPU is the CPU's measured default: every job alone
    assert all(len(t) == 1 for t in plan_tasks(jobs, "auto", ["cpu"]))


def test_fused_run_writes_solo_files_and_equals_the_solo_run(fakes):
    jobs = [_job("tinypiad", c, 0, iters=40) for c in ("h", "v", "c")]
    solo, fused = fakes / "solo", fakes / "fused"
    run_jobs(jobs, fakes / "data", solo, backend="inline", progress=False, echo=_quiet, fuse=1)
    lines: list[str] = []
    summary = run_jobs(
        jobs, fakes / "data", fused, backend="inline", progress=False, echo=lines.append, fuse=3
    )
    assert [r.status for r in summary.results] == ["ok"] * 3
    assert "--fuse 3: 1 fused group of 3 models (3 jobs fused)" in lines
    for job in jobs:
        folder = JobFolder.of(job, fused)
        for name in (JobFolder.SPLIT, JobFolder.SCORES, JobFolder.LOG):
            assert (folder.path / name).is_file(), name
        assert (folder.work / "checkpoint.pt").is_file() and (folder.work / "log.csv").is_file()
        ours, ref = _result(job, fused), _result(job, solo)
        assert ours["method_info"]["fused"]["k"] == 3
        assert "fused group of 3" in folder.log.read_text()
        assert ours["iters_run"] == ref["iters_run"] == 40
        assert abs(ours["auc"] - ref["auc"]) < 1e-3
        with np.load(folder.scores) as a, np.load(JobFolder.of(job, solo).scores) as b:
            np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-4, atol=1e-6)
    again = run_jobs(jobs, fakes / "data", fused, backend="inline", progress=False, echo=_quiet)
    assert len(again.skipped) == 3 and not again.results


def test_a_group_reforms_from_its_unfinished_jobs_and_continues_solo_checkpoints(fakes):
    jobs = [_job("tinypiad", c, 1, iters=40) for c in ("h", "v", "c")]
    out = fakes / "out"
    run_jobs(jobs[:1], fakes / "data", out, backend="inline", progress=False, echo=_quiet)
    # job 2 was trained solo to 20 iterations (its checkpoint), then the group takes over
    short = dataclasses.replace(jobs[1], iters=20)
    run_jobs([short], fakes / "data", out, backend="inline", progress=False, echo=_quiet)
    summary = run_jobs(
        jobs, fakes / "data", out, backend="inline", progress=False, echo=_quiet, fuse=3
    )
    assert summary.skipped == jobs[:1]
    assert [r.job for r in summary.results] == jobs[1:]
    assert all(r.ok and r.iters_run == 40 for r in summary.results)
    assert _result(jobs[1], out)["method_info"]["fused"]["k"] == 2
    log = JobFolder.of(jobs[1], out).log.read_text()
    assert "resuming" in log  # it went on from its solo checkpoint


def test_local_workers_run_a_fused_group_as_one_task(fakes):
    jobs = [_job("tinypiad", c, 0, iters=20) for c in ("h", "v")] + [_job("kde", "h")]
    summary = run_jobs(jobs, fakes / "data", fakes / "out", backend="local", progress=False,
                       echo=_quiet, fuse=2)  # fmt: skip
    assert sorted(r.job.method for r in summary.results) == ["kde", "tinypiad", "tinypiad"]
    assert all(r.ok for r in summary.results)
    assert _result(jobs[0], fakes / "out")["method_info"]["fused"]["group"] == [
        jobs[0].slug,
        jobs[1].slug,
    ]


@pytest.mark.slow
def test_ray_runs_a_fused_group_as_one_task(fakes):
    pytest.importorskip("ray")
    jobs = [_job("tinypiad", c, 0, iters=20) for c in ("h", "v")]
    summary = run_jobs(jobs, fakes / "data", fakes / "out", ["cpu"], backend="ray",
                       progress=False, echo=_quiet, fuse=2)  # fmt: skip
    assert [r.ok for r in summary.results] == [True, True]
    assert _result(jobs[1], fakes / "out")["method_info"]["fused"]["k"] == 2


def test_cli_fuse_option_and_its_error(fakes, capsys):
    assert cli_main(["--suite", "toy", "--fuse", "0", "--out", str(fakes / "o")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: --fuse '0': give a group size K >= 1 or 'auto'"]
