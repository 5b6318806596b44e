"""Damaged files in a results folder: a truncated ``result.json`` or ``checkpoint.pt``.

The rerun stops before any job, with one line per damaged file naming the file and its fix, exit
2, and every file left as it was (nothing trained over a good file, nothing restarted from
zero silently); following the fix, the rerun completes with the first run's AUCs.
"""

from __future__ import annotations

import json

import pytest
import runner_fakes

from benchmarks.cli import main
from benchmarks.experiments.jobs import Job, JobFolder
from piad.training.checkpoint import CHECKPOINT_NAME

ITERS = 40


@pytest.fixture
def out(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    monkeypatch.delenv("PIAD_PLUGINS", raising=False)
    return tmp_path


def _argv(out) -> list[str]:
    return [
        "--suite", "toy", "--classes", "h,v", "--methods", "tinypiad,kde", "--seeds", "0",
        "--iters", str(ITERS), "--backend", "inline", "--threads", "1", "--no-progress",
        "--data-root", str(out / "data"), "--out", str(out / "results"),
    ]  # fmt: skip


def _job(method: str, normal: str) -> Job:
    return Job("toy", "toy", "one_vs_all", normal, method, "", 0, iters=ITERS)


def _snapshot(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _cut(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_result_and_checkpoint_are_named_with_their_fix(out, capsys):
    assert main(_argv(out)) == 0
    results = out / "results"
    aucs = {p: json.loads(p.read_text())["auc"] for p in results.rglob(JobFolder.RESULT)}
    result = _job("kde", "h").folder(results) / JobFolder.RESULT
    checkpoint = _job("tinypiad", "v").folder(results) / JobFolder.WORK / CHECKPOINT_NAME
    (checkpoint.parent.parent / JobFolder.RESULT).unlink()  # tinypiad/v: as if interrupted
    _cut(result)
    _cut(checkpoint)
    before = _snapshot(results)
    capsys.readouterr()

    assert main(_argv(out)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines  # one line per damaged file, nothing else
    assert lines[0].startswith(f"error: {result}: a damaged result.json")
    assert "delete it and rerun the same command" in lines[0]
    assert lines[1].startswith(f"error: {checkpoint}: a truncated or damaged checkpoint")
    assert "delete it to train this job again from iteration 0" in lines[1]
    assert _snapshot(results) == before  # no job ran, no file changed

    result.unlink()  # the fixes the lines name
    checkpoint.unlink()
    assert main(_argv(out)) == 0
    assert {p: json.loads(p.read_text())["auc"] for p in results.rglob(JobFolder.RESULT)} == aucs
