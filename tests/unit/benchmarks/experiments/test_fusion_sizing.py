"""``--fuse auto``'s group size from a memory probe, tested on a CPU with a fake probe."""

from __future__ import annotations

import pytest
import runner_fakes

from benchmarks.experiments.fusion import (
    AUTO_MAX_GROUP,
    CPU_DEFAULT_FUSE,
    auto_group_size,
    group_size_from_probe,
)
from benchmarks.experiments.jobs import Job
from piad.errors import PIADError

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
