"""Cutting jobs into tasks (``--fuse``): which jobs train together, in what order, and how many
(``--fuse auto`` from a memory probe)."""

from __future__ import annotations

import pytest
import runner_fakes

from benchmarks.experiments.fusion import (
    AUTO_MAX_GROUP,
    CPU_DEFAULT_FUSE,
    auto_group_size,
    default_fuse,
    describe,
    fusion_key,
    group_size_from_probe,
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


# --fuse auto: the group size from a memory probe, on a CPU with a fake probe
GiB = 1 << 30


@pytest.mark.parametrize(
    ("base", "per_member", "free", "per_device", "n_jobs", "expected"),
    [
        (2 * GiB, 1 * GiB, 100 * GiB, 1, 60, 60),  # floor((85 - 2) / 1) = 83 -> all 60 jobs
        (2 * GiB, 1 * GiB, 100 * GiB, 1, 100, AUTO_MAX_GROUP),  # 83 -> the cap
        (2 * GiB, 1 * GiB, 100 * GiB, 2, 60, 40),  # per slot 42.5: floor(40.5)
        (0, 3 * GiB, 10 * GiB, 1, 30, 2),  # floor(8.5 / 3)
        (1 * GiB, 7 * GiB, 10 * GiB, 1, 30, 1),  # 8 of 8.5 fit: one member
    ],
)
def test_group_size_from_the_probe(base, per_member, free, per_device, n_jobs, expected) -> None:
    assert group_size_from_probe(base, per_member, free, per_device, n_jobs) == expected


def test_one_member_that_does_not_fit_is_refused_in_one_line() -> None:
    with pytest.raises(PIADError) as err:
        group_size_from_probe(2 * GiB, 8 * GiB, 10 * GiB, 1, 30)  # 10 > 8.5
    message = str(err.value)
    assert "\n" not in message
    assert "one model needs 10.00 GiB" in message and "8.50 GiB" in message
    assert "--jobs-per-device" in message
    with pytest.raises(PIADError, match="2 job\\(s\\) per device"):
        group_size_from_probe(0, 5 * GiB, 10 * GiB, 2, 30)  # 5 > 4.25 per slot


def test_auto_group_size_uses_the_probe_and_the_free_memory(monkeypatch, tmp_path) -> None:
    runner_fakes.register(monkeypatch)
    jobs = [Job("toy", "toy", "one_vs_all", c, "tinypiad", "", s) for c in "hvc" for s in (0, 1)]
    seen: list[tuple[str, int, str]] = []

    def probe(job, info, n_train, device):  # type: ignore[no-untyped-def]
        seen.append((job.normal, n_train, device))
        return 1 * GiB, 2 * GiB

    k = auto_group_size(jobs, ["cuda:1"], 1, tmp_path, probe=probe, free_memory=lambda d: 8 * GiB)
    assert k == 2  # floor((0.85 * 8 - 1) / 2)
    assert seen[0][0] == "h" and seen[0][2] == "cuda:1" and seen[0][1] > 0
    huge = auto_group_size(jobs, ["cuda:0"], 1, tmp_path, probe=probe,
                           free_memory=lambda d: 1000 * GiB)  # fmt: skip
    assert huge == len(jobs)

    # on a CPU no probe runs: the CPU's measured default
    def no_probe(*a):  # type: ignore[no-untyped-def]
        raise AssertionError("probed on a CPU")

    assert auto_group_size(jobs, ["cpu"], 1, tmp_path, probe=no_probe) == CPU_DEFAULT_FUSE
