"""Stop signals: SIGTERM / SIGINT to a real ``run_all`` process tree (solo and ``--fuse 2``) and
to ``piad fit``.

Each stopped PIAD job writes its checkpoint at the next iteration boundary and is recorded as
interrupted (no ``result.json``, a line in ``job.log``); no process of the run outlives it; the
run ends with a one-line summary and exit 143 (SIGTERM) / 130 (SIGINT); the same command then
resumes and gives the uninterrupted run's scores bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from paths import ROOT, plugin_env
from processes import alive, descendants

from benchmarks.experiments.jobs import Job, JobFolder
from piad.training.checkpoint import read_checkpoint

ITERS = 200  # tiny PIAD (~40 ms an iteration on one core): caught mid-run; checkpoint every 20


def _job(normal: str) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, "tinypiad", "", 0, iters=ITERS)


def _cli(out: Path, classes: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.cli", "--suite", "toy", "--classes", classes,
        "--methods", "tinypiad", "--seeds", "0", "--iters", str(ITERS), "--out", str(out),
        "--threads", "1", "--data-root", str(out.parent / "data"), "--no-progress", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return plugin_env()


def wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def scores(out: Path, normal: str) -> np.ndarray:
    with np.load(_job(normal).folder(out) / JobFolder.SCORES) as z:
        return z["scores"].copy()


def stop_and_resume(tmp_path: Path, classes: str, signum: int, extra: tuple[str, ...]) -> None:
    normals = classes.split(",")
    reference = subprocess.run(
        _cli(tmp_path / "ref", classes, *extra), env=_env(), cwd=ROOT, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(out, classes, *extra), env=_env(), cwd=ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    checkpoints = [_job(n).folder(out) / "work" / "checkpoint.pt" for n in normals]
    wait_for(lambda: all(c.exists() for c in checkpoints), proc, "the first checkpoints")
    tree = descendants(proc.pid)
    assert tree, "the runner has no worker process"
    t0 = time.monotonic()
    os.kill(proc.pid, signum)  # the runner only, as a scheduler or `kill` does
    _, err = proc.communicate(timeout=120)
    stop_seconds = time.monotonic() - t0
    assert proc.returncode == 128 + signum, err
    last = err.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last.startswith(f"stopped by {name}: 0 done, {len(normals)} interrupted"), err
    deadline = time.monotonic() + 10
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in tree if alive(p)], "a process of the run outlived it"
    for normal, checkpoint in zip(normals, checkpoints):
        folder = _job(normal).folder(out)
        assert not (folder / JobFolder.RESULT).exists()  # interrupted, not failed, not done
        log = (folder / JobFolder.LOG).read_text()
        assert f"=== interrupted: interrupted by {name} at iteration" in log
        iteration = read_checkpoint(checkpoint)["iteration"]
        assert 0 < iteration < ITERS
        assert f"at iteration {iteration}, checkpoint" in log or f"iteration {iteration}" in log
    print(f"stopped in {stop_seconds:.2f} s")  # measured: one iteration + checkpoint + exit

    rerun = subprocess.run(
        _cli(out, classes, *extra), env=_env(), cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    for normal in normals:
        assert "resuming" in (_job(normal).folder(out) / JobFolder.LOG).read_text()
        assert np.array_equal(scores(out, normal), scores(tmp_path / "ref", normal))
        assert (_job(normal).folder(out) / JobFolder.LOG).read_text().count("=== ok") == 1


@pytest.mark.slow
def test_sigterm_to_the_runner_stops_a_solo_job_at_a_checkpoint(tmp_path):
    stop_and_resume(tmp_path, "h", signal.SIGTERM, ())


@pytest.mark.slow
def test_sigint_to_the_runner_stops_a_fused_group_at_a_checkpoint(tmp_path):
    stop_and_resume(tmp_path, "h,v", signal.SIGINT, ("--fuse", "2"))


def test_iters_zero_is_refused_in_one_line(tmp_path):
    for argv in (
        [sys.executable, "-m", "benchmarks.cli", "--suite", "quick", "--iters", "0",
         "--out", str(tmp_path / "out")],
        [sys.executable, "-m", "piad", "fit", str(tmp_path), "--out", str(tmp_path / "m.pt"),
         "--iters", "0"],
    ):  # fmt: skip
        done = subprocess.run(argv, env=_env(), cwd=ROOT, capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert "--iters" in lines[0] and "0" in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.pt").exists()


FIT_ITERS = 1500  # the tests' tiny PIAD (8 px, MSE): a few ms an iteration


def _fit_cli(tmp_path: Path, out: Path, workdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "piad", "fit", str(tmp_path / "images"), "--out", str(out),
        "--preset", str(tmp_path / "tiny.json"), "--iters", str(FIT_ITERS), "--workdir",
        str(workdir), "--no-progress", "--seed", "3",
    ]  # fmt: skip


@pytest.mark.slow
def test_sigterm_to_piad_fit_checkpoints_and_the_same_command_resumes(tmp_path):
    import json

    from piad_tiny import tiny_config
    from PIL import Image

    from piad import PIAD

    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(
            tmp_path / "images" / f"{i:03d}.png"
        )
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_config(checkpoint_every=50).to_dict()))
    env = _env()
    ref = subprocess.run(
        _fit_cli(tmp_path, tmp_path / "ref.pt", tmp_path / "ref"), env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr

    model, work = tmp_path / "m.pt", tmp_path / "work"
    argv = _fit_cli(tmp_path, model, work)
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: (work / "checkpoint.pt").exists(), proc, "the first checkpoint")
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    iteration = read_checkpoint(work / "checkpoint.pt")["iteration"]
    assert 0 < iteration < FIT_ITERS
    assert last == (
        f"piad fit: interrupted by SIGTERM at iteration {iteration}, checkpoint "
        f"{work / 'checkpoint.pt'} written; run the same command to resume from {work}"
    )
    assert not model.exists()  # no model file of an unfinished training

    again = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    reference, resumed = PIAD.load(tmp_path / "ref.pt"), PIAD.load(model)
    assert resumed.iterations_run == FIT_ITERS
    pairs = zip(reference.networks.state_dict().values(), resumed.networks.state_dict().values())
    for a, b in pairs:
        assert torch.equal(a, b)  # bit for bit
