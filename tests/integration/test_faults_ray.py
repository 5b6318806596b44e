"""Losing a Ray node mid-job: Ray runs the lost task again on another node, which resumes it.

A real multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head with no CPU
for tasks and two worker nodes of one CPU each, one shared ``--out``) runs two tiny PIAD jobs,
one per node. Once both have checkpointed, one worker node is lost (its raylet and workers
killed, as when its machine dies). Ray sends the lost task to the remaining node
(``max_retries``); the job resumes from its checkpoint there, and the final table equals an
uninterrupted inline run. No job folder is left half-written: no temporary files, each job
one ``=== ok`` and one ``result.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time

import pytest
from paths import HELPERS
from processes import alive, descendants
from runner_fakes import register

from benchmarks.experiments.jobs import JobFolder
from benchmarks.experiments.results import RESULT_FILE
from benchmarks.experiments.runner import run_jobs
from benchmarks.experiments.suites import make_jobs
from benchmarks.reporting.render import write_report

ITERS = 300  # ~12 s a job on one core: the node is removed well before the end
NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}


def _quiet(*args: object) -> None:
    pass


def lose(cluster: object, node: object) -> None:
    """The node is gone, as when its machine dies: its raylet and every process below it
    (the worker training a job) are killed at once, then Ray is told the node is removed."""
    raylets = [p.process.pid for p in node.all_processes["raylet"]]  # type: ignore[attr-defined]
    doomed = {pid for r in raylets for pid in descendants(r)} | set(raylets)
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    cluster.remove_node(node, allow_graceful=False)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while [p for p in doomed if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in doomed if alive(p)], "a process of the lost node lived on"


@pytest.mark.slow
def test_a_lost_worker_node_is_retried_elsewhere_and_resumes(monkeypatch, tmp_path):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("PIAD_PLUGINS", "runner_plugin")  # the nodes' workers inherit these
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HELPERS), path) if p))
    register(monkeypatch)
    jobs = make_jobs("toy", classes="h,v", methods="tinypiad", seeds="0", iters=ITERS)
    data, out, inline = tmp_path / "data", tmp_path / "cluster", tmp_path / "inline"
    run_jobs(jobs, data, inline, backend="inline", progress=False, echo=_quiet, threads=1)

    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "num_cpus": 0})
    try:
        workers = [cluster.add_node(**NODE) for _ in range(2)]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        summary: dict[str, object] = {}

        def drive() -> None:
            summary["run"] = run_jobs(
                jobs, data, out, ["cpu"], backend="ray", progress=False, echo=_quiet, threads=1
            )

        driver = threading.Thread(target=drive)
        driver.start()
        checkpoints = [job.folder(out) / "work" / "checkpoint.pt" for job in jobs]
        deadline = time.monotonic() + 300
        while not all(c.exists() for c in checkpoints):
            assert driver.is_alive(), "the run ended before both jobs checkpointed"
            assert time.monotonic() < deadline, "the jobs did not both checkpoint"
            time.sleep(0.05)
        lose(cluster, workers[0])
        driver.join(timeout=600)
        assert not driver.is_alive()
    finally:
        ray.shutdown()
        cluster.shutdown()

    run = summary["run"]
    assert [r.status for r in run.results] == ["ok", "ok"], [r.error for r in run.results]
    retried = []
    for job in jobs:
        folder = job.folder(out)
        log = (folder / JobFolder.LOG).read_text()
        assert log.count("=== ok") == 1 and (folder / RESULT_FILE).is_file()
        assert not list(folder.rglob("*.tmp")), "a half-written file was left behind"
        if log.count(f"=== {job.slug} on") == 2:
            retried.append(job)
            assert "resuming" in log  # from the checkpoint the lost node wrote
        ours = json.loads((folder / RESULT_FILE).read_text())
        ref = json.loads((job.folder(inline) / RESULT_FILE).read_text())
        assert ours["auc"] == ref["auc"]
    logs = {j.slug: (j.folder(out) / JobFolder.LOG).read_text()[:1500] for j in jobs}
    assert len(retried) == 1, f"exactly the lost node's job runs twice: {logs}"
    ours, ref = write_report(out), write_report(inline)
    assert ours.markdown == ref.markdown  # the final table equals the uninterrupted run's
