"""benchmarks.perf.harness: what the speed benchmarks share."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.perf.harness import (
    check_run_args,
    machine_description,
    parse_worker,
    peak_rss_gb,
    worker_env,
)
from piad.errors import PIADError


def done(code: int, out: str, err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["x"], code, out, err)


def test_worker_figures_are_its_last_json_line_and_failures_one_line() -> None:
    assert parse_worker(done(0, 'warming up\n{"it_per_s": 1.5}\n'), "mnist") == {"it_per_s": 1.5}
    with pytest.raises(PIADError, match=r"worker for mnist failed: RuntimeError: out of memory$"):
        parse_worker(done(1, "", "Traceback\n  ...\nRuntimeError: out of memory\n"), "mnist")
    with pytest.raises(PIADError, match="printed no figures"):
        parse_worker(done(0, "no json here\n"), "mnist")
    with pytest.raises(PIADError, match="printed no figures"):
        parse_worker(done(0, ""), "mnist")


def test_checks_threads_and_machine_line() -> None:
    check_run_args(iters=1, threads=1, device="cpu")
    with pytest.raises(PIADError, match="--iters and --threads must be >= 1"):
        check_run_args(iters=3, threads=0, device="cpu")
    env = worker_env(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert "3 torch threads" in machine_description("cpu", 3)
    assert 0 < peak_rss_gb() < 1024


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units checked on Linux")
def test_peak_rss_is_in_gib() -> None:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert peak_rss_gb() == pytest.approx(kib / (1 << 20), rel=0.05)
