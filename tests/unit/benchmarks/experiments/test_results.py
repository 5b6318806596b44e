"""Result files: atomic round trip, one-line errors, and collection into a table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.experiments.jobs import Job
from benchmarks.experiments.results import COLUMNS, RESULT_FILE, Result, collect, failed_result
from piad.errors import PIADError

JOB = Job("table3", "celeba", "celeba_attributes", "normal", "piad", "code", 1, iters=100)


def _ok(job: Job = JOB, **fields) -> Result:
    values = dict(
        auc=0.7,
        aucs={"Bald": 0.5, "Eyeglasses": 0.8},
        iters_run=100,
        iters_paper=200_000,
        device="cpu",
        wall_time_s=1.5,
        method_info={"config": {"iterations": 100}, "weights": np.float32(0.5)},
    )
    values.update(fields)
    return Result(job=job, status="ok", **values)


def test_result_round_trips_through_json(tmp_path):
    result = _ok()
    path = result.save(JOB.folder(tmp_path))
    assert path == tmp_path / "celeba/piad-code/normal/seed1" / RESULT_FILE
    loaded = Result.load(path)
    assert loaded.job == JOB
    assert loaded.aucs == {"Bald": 0.5, "Eyeglasses": 0.8}
    assert loaded.method_info["weights"] == 0.5  # numpy scalars become JSON numbers
    assert loaded.reduced_budget  # 100 iterations run, the paper's 200k
    assert Result.load(path.parent).auc == 0.7  # a job folder works too
    assert [p.name for p in path.parent.iterdir()] == [RESULT_FILE]  # no temporary left


def test_failed_result_has_a_one_line_error_and_no_auc():
    try:
        raise ValueError("bad pixels\nmore detail")
    except ValueError as err:
        result = failed_result(JOB, err, device="cuda:0")
    assert result.status == "failed" and not result.ok
    assert result.error == "ValueError: bad pixels"
    assert result.auc is None and result.rows()[0]["auc"] is None


def test_bad_status_and_corrupt_or_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(PIADError, match="status must be one of"):
        Result(job=JOB, status="done")
    with pytest.raises(PIADError, match=r"no result at .*run the job first"):
        Result.load(tmp_path / RESULT_FILE)
    (tmp_path / RESULT_FILE).write_text("{not json")
    with pytest.raises(PIADError, match=r"corrupt.*delete it and rerun"):
        Result.load(tmp_path / RESULT_FILE)
    (tmp_path / RESULT_FILE).write_text(json.dumps({"status": "ok"}))
    with pytest.raises(PIADError, match="corrupt"):
        Result.load(tmp_path / RESULT_FILE)


def test_collect_gives_one_row_per_group_and_keeps_failures(tmp_path):
    _ok().save(JOB.folder(tmp_path))
    kde = Job("table2", "mnist", "one_vs_all", "3", "kde", "", 0)
    Result(job=kde, status="ok", auc=0.61).save(kde.folder(tmp_path))
    bad = Job("table2", "mnist", "one_vs_all", "3", "kde", "", 1)
    failed_result(bad, "RuntimeError: out of memory").save(bad.folder(tmp_path))

    df = collect(tmp_path)
    assert list(df.columns) == COLUMNS
    assert len(df) == 4  # 2 CelebA groups + 1 ok + 1 failed
    celeba = df[df["dataset"] == "celeba"]
    assert celeba[["row", "auc"]].to_numpy().tolist() == [["Bald", 0.5], ["Eyeglasses", 0.8]]
    assert set(celeba["normal"]) == {"normal"} and set(celeba["iters_run"]) == {100}
    failed = df[df["status"] == "failed"]
    assert failed["auc"].isna().all() and failed["error"].tolist() == [
        "RuntimeError: out of memory"
    ]
    assert df.loc[df["method"] == "kde", "row"].tolist() == ["3", "3"]


def test_collect_of_an_empty_or_missing_folder_is_an_empty_table(tmp_path):
    assert collect(tmp_path / "nothing").empty
    assert list(collect(tmp_path).columns) == COLUMNS
