"""The checks before any job: ``--out`` and the files a rerun would resume from."""

from __future__ import annotations

import json

import pytest

from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.preflight import check_out_folder, job_folder_problems
from piad.errors import PIADError


def _job(normal: str = "h") -> Job:
    return Job("toy", "toy", "one_vs_all", normal, "kde", "", 0)


def test_out_may_not_exist_yet_but_may_not_be_a_file(tmp_path):
    assert check_out_folder(tmp_path / "new" / "results") == tmp_path / "new" / "results"
    assert not (tmp_path / "new").exists()  # nothing is created by a check
    (tmp_path / "f").write_text("x")
    with pytest.raises(PIADError, match="is a file, not a folder"):
        check_out_folder(tmp_path / "f")
    with pytest.raises(PIADError, match=r"f is a file, not a folder; give another --out"):
        check_out_folder(tmp_path / "f" / "results")


def test_damaged_files_of_a_job_folder_are_one_line_each(tmp_path):
    good, bad = JobFolder.of(_job("h"), tmp_path), JobFolder.of(_job("v"), tmp_path)
    for folder in (good, bad):
        (folder.work).mkdir(parents=True)
    good.result.write_text(json.dumps({"status": "ok"})[:5])  # a cut result.json
    (bad.work / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a whole zip")
    problems = job_folder_problems([_job("h"), _job("v")], tmp_path)
    assert len(problems) == 2
    assert problems[0].startswith(f"{good.result}: a damaged result.json")
    assert problems[1].startswith(f"{bad.work / 'checkpoint.pt'}: a truncated or damaged")
    assert job_folder_problems([_job("c")], tmp_path) == []  # a job never run: nothing to say


def test_preflight_fetches_what_is_missing_then_checks_again(monkeypatch, tmp_path):
    from benchmarks.data import acquire as fetching
    from benchmarks.experiments import preflight as pf

    calls = []
    state = {"coil100": "dataset 'coil100' is missing", "cifar10": "dataset 'cifar10' is missing"}

    def fake_fetch(names, root, progress=True, yes=False):
        calls.append((tuple(names), yes))
        if names == ["cifar10"]:
            raise fetching.MissingInputError("cannot download cifar-10-python.tar.gz: offline")
        state[names[0]] = None
        return [root / names[0]]

    monkeypatch.setattr(fetching, "availability", lambda name, root: state.get(name))
    monkeypatch.setattr(fetching, "fetch", fake_fetch)
    with pytest.raises(pf.ProblemsError) as err:
        pf.preflight(["coil100_bilinear", "coil100", "cifar10", "mnist5k"], tmp_path, yes=True)
    assert calls == [(("coil100",), True), (("cifar10",), True)]  # coil100 once, for both names
    assert err.value.problems == (
        "dataset 'cifar10' is missing; fetching it failed: MissingInputError: cannot download "
        "cifar-10-python.tar.gz: offline",
    )
    assert pf.preflight(["coil100"], tmp_path) == []  # now present: nothing fetched
