"""Cutting jobs into tasks (``--fuse``): which jobs train together, in what order."""

from __future__ import annotations

import pytest
import runner_fakes

from benchmarks.experiments.fusion import (
    default_fuse,
    describe,
    fusion_key,
    parse_fuse,
    plan_tasks,
    run_group,
)
from benchmarks.experiments.jobs import Job, freeze_overrides
from piad.errors import PIADError


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    runner_fakes.register(monkeypatch)


def _job(method: str, normal: str, seed: int = 0, iters: int | None = 40) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, method, "", seed, iters=iters)


def test_fuse_values_and_the_devices_default():
    assert parse_fuse(None) is None and parse_fuse("") is None
    assert parse_fuse("AUTO") == "auto" and parse_fuse("3") == 3 and parse_fuse(2) == 2
    for bad in ("0", "-1", "two"):
        with pytest.raises(PIADError, match="give a group size K >= 1 or 'auto'"):
            parse_fuse(bad)
    assert default_fuse(["cpu"]) == 1 and default_fuse(["cuda:0"]) == "auto"


def test_compatible_jobs_form_groups_of_k_in_first_appearance_order():
    jobs = [_job("tinypiad", n) for n in ("h", "v", "c")]
    kde = _job("kde", "h", iters=None)
    tasks = plan_tasks([jobs[0], kde, jobs[1], jobs[2]], 2)
    assert tasks == [(jobs[0], jobs[1]), (jobs[2],), (kde,)]  # a group where its first job was
    assert describe(tasks) == "1 fused group of 2 models (2 jobs fused)"
    assert plan_tasks(jobs, 1) == [(j,) for j in jobs] and describe([(kde,)]) == "no fused groups"
    assert fusion_key(kde) is None  # a method not registered fusable always runs alone


def test_members_may_differ_in_seed_and_budget_but_not_in_their_networks():
    a, b = _job("tinypiad", "h", seed=0, iters=40), _job("tinypiad", "v", seed=1, iters=80)
    assert fusion_key(a) == fusion_key(b) and plan_tasks([a, b], 2) == [(a, b)]
    wider = Job("toy", "toy", "one_vs_all", "c", "tinypiad", "", 0, iters=40,
                overrides=freeze_overrides({"latent_dim": 16}))  # fmt: skip
    assert fusion_key(wider) != fusion_key(a)
    assert plan_tasks([a, wider], 2) == [(a,), (wider,)]


def test_a_group_needs_two_jobs(tmp_path):
    with pytest.raises(PIADError, match="a fused group needs two jobs or more"):
        run_group([_job("tinypiad", "h")], tmp_path / "data", tmp_path / "out")
