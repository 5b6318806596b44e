"""benchmarks.validation.peer_seeds: arguments, plan, resume, deadline, timing and our run."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from piad_tiny import tiny_config, tiny_features, toy_images

import benchmarks.validation.peer_seeds as ps
from benchmarks.validation.peer import DEFAULT_STATS
from benchmarks.validation.peer_seeds import (
    OurRun,
    _guess,
    _have,
    _run_key,
    main,
    make_run,
    parse_args,
    parse_hints,
    stages,
    statistics_mean,
    time_codes,
)
from benchmarks.validation.peer_seeds_table import read_rows, summary_markdown
from benchmarks.validation.peer_setup import DigitSplit
from piad.errors import PIADError

NS = types.SimpleNamespace


# ------------------------------------------------------------------------------ arguments
def test_parse_args_defaults() -> None:
    a = parse_args([])
    assert (a.peer, a.peer_git, a.codes, a.digits) == (None, None, "ours,theirs", "1,8")
    assert (a.seeds, a.snapshots) == ([0, 1, 2, 3, 4], [500, 2000])
    assert (a.data, a.stats, a.out) == (Path("data"), DEFAULT_STATS, Path("results/peer_seeds"))
    assert (a.plan, a.deadline_hours, a.hint, a.threads, a.merge, a.time_only) == (
        "",
        0.0,
        "",
        2,
        "",
        0,
    )


@pytest.mark.parametrize(("text", "seeds"), [("3,1", [3, 1]), ("3,1,", [3, 1]), ("7", [7])])
def test_seed_lists(text: str, seeds: list[int]) -> None:
    assert parse_args(["--seeds", text]).seeds == seeds


def test_a_seed_that_is_not_a_number_is_refused(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        parse_args(["--snapshots", "500,x"])
    assert e.value.code == 2 and "--snapshots" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("1:500,8:500,1:2000", [("1", 500), ("8", 500), ("1", 2000)]),
        ("1,8", [("1", 2000), ("8", 2000)]),  # no length: the largest snapshot
        ("8:500", [("8", 500)]),
    ],
)
def test_stages(text: str, plan: list[tuple[str, int]]) -> None:
    assert stages(text, [500, 2000]) == plan


def test_a_stage_length_must_be_a_snapshot() -> None:
    with pytest.raises(PIADError, match=r"stage '1:700': run length 700 is not one of --snapshots"):
        stages("1:500,1:700", [500, 2000])


@pytest.mark.parametrize(
    ("text", "hints"),
    [
        ("theirs=11.7:692,ours=6.6:511", {"theirs": (11.7, 692.0), "ours": (6.6, 511.0)}),
        ("ours=2", {"ours": (2.0, 0.0)}),
        (",ours=1:2,", {"ours": (1.0, 2.0)}),
        ("", {}),
    ],
)
def test_parse_hints(text: str, hints: dict[str, tuple[float, float]]) -> None:
    assert parse_hints(text) == hints


def test_a_guess_is_measured_cost_else_the_hint_else_zero() -> None:
    cost = {("ours", 500): [10.0, 20.0]}
    hints = {"ours": (1.0, 1.0), "theirs": (2.0, 30.0)}
    assert _guess(cost, hints, "ours", 500, 1) == 15.0  # measured in this job
    assert _guess(cost, hints, "theirs", 500, 2) == 1060.0  # 2 * 500 + 30 * 2
    assert _guess(cost, hints, "ours", 2000, 2) == 2002.0  # another length: the hint
    assert _guess({}, {}, "ours", 500, 2) == 0.0


def test_statistics_mean() -> None:
    assert (statistics_mean([1.0, 2.0]), statistics_mean([])) == (1.5, 0.0)


def test_run_keys_read_csv_values_alike() -> None:
    rows = [
        {"code": "ours", "digit": 1, "seed": "0", "run_iters": 500.0, "iteration": "500"},
        {"code": "ours", "digit": "1", "seed": 0, "run_iters": 2000, "iteration": 500},
        {"code": "ours", "digit": "1", "seed": 0, "run_iters": 2000, "iteration": 2000},
    ]
    assert _run_key(rows[0]) == ("ours", "1", 0, 500)
    assert _have(rows, ("ours", "1", 0, 2000)) == {500, 2000}
    assert _have(rows, ("theirs", "1", 0, 2000)) == set()


# ------------------------------------------------------------------------------ make_run
def test_make_run_picks_the_code(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made: list[tuple[Any, ...]] = []
    monkeypatch.setattr(ps, "OurRun", lambda *a: made.append(("ours", *a)) or "our run")
    monkeypatch.setattr(ps, "PeerRun", lambda *a: made.append(("theirs", *a)) or "their run")
    kw = {"peer": "P", "digit": "8", "seed": 3, "iters": 500, "data_root": Path("d")}
    kw |= {"vgg": Path("v"), "stats": Path("s"), "work": tmp_path, "split": "S"}
    assert make_run("ours", **kw) == "our run"
    assert make_run("ours:permutations", **kw) == "our run"
    assert make_run("theirs", **kw) == "their run"
    assert made == [
        ("ours", "S", Path("v"), Path("s"), 3, 500, None),
        ("ours", "S", Path("v"), Path("s"), 3, 500, "permutations"),
        ("theirs", "P", 8, 3, 500, Path("d"), tmp_path / "theirs-8-3"),
    ]
    with pytest.raises(PIADError, match="unknown code 'mine'; use ours, ours:<data_order> or"):
        make_run("mine", **kw)


# ------------------------------------------------------------------------------ the plan
class FakeRun:
    """A run whose AUC is 0.5 + t / 10,000 + seed / 100 (+ 0.1 for ours): a fixed trajectory."""

    def __init__(self, code: str, seed: int) -> None:
        self.code, self.seed, self.t = code, seed, 0

    def advance(self, t: int) -> None:
        assert t >= self.t
        self.t = t

    def auc(self) -> float:
        return round(
            0.5 + self.t / 10_000 + self.seed / 100 + (0.1 if self.code == "ours" else 0), 6
        )


@pytest.fixture
def fakes(monkeypatch, tmp_path: Path) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """main() without training: fake peer, VGG-19 file, split and runs; the runs made."""
    made: list[tuple[Any, ...]] = []

    def fake_make_run(code: str, *, digit: str, seed: int, iters: int, **kw: Any) -> FakeRun:
        made.append((code, digit, seed, iters))
        return FakeRun(code, seed)

    monkeypatch.setattr(ps, "make_run", fake_make_run)
    monkeypatch.setattr(ps, "load_digit_split", lambda data, digit, seed: f"split {digit}")
    monkeypatch.setattr(ps, "load_peer", lambda *a: NS(provenance={"commit": "abc"}))
    monkeypatch.setattr(ps, "shared_vgg_weights", lambda folder: tmp_path / "vgg.pt")
    return made


def argv(out: Path, *extra: str) -> list[str]:
    return [
        *("--out", str(out), "--digits", "1", "--seeds", "0,1", "--snapshots", "500,2000"),
        *("--plan", "1:500,1:2000", "--threads", "1", *extra),
    ]


def test_main_runs_the_plan_seed_by_seed_and_writes_the_summary(fakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert main(argv(out)) == 0
    assert fakes == [
        ("ours", "1", 0, 500),
        ("theirs", "1", 0, 500),
        ("ours", "1", 1, 500),
        ("theirs", "1", 1, 500),
        ("ours", "1", 0, 2000),
        ("theirs", "1", 0, 2000),
        ("ours", "1", 1, 2000),
        ("theirs", "1", 1, 2000),
    ]
    rows = read_rows(out / "runs.csv")
    assert len(rows) == 4 + 8  # 500-runs scored at 500; 2000-runs at 500 and 2000
    assert [(r["iteration"], r["run_iters"], r["auc"]) for r in rows[-2:]] == [
        (500, 2000, 0.56),
        (2000, 2000, 0.71),
    ]
    text = (out / "summary.md").read_text()
    assert text == summary_markdown(rows)
    line = next(x for x in text.splitlines() if x.startswith("| 1 | 500 | ours |"))
    # 0.65, 0.66 against 0.55, 0.56: diff 0.1, t = 0.1 / sqrt(2 * 0.00005 / 2)
    assert line.startswith("| 1 | 500 | ours | 0.6550 ± 0.0071 (2) | +0.1000, t=14.14, ")
    assert line.endswith("| 0: 0.6500, 1: 0.6600 |")
    assert "two runs of different length: 4, largest AUC difference 0.00e+00" in text
    prov = json.loads((out / "provenance.json").read_text())
    assert prov == {
        "peer": {"commit": "abc"},
        "argv": argv(out),
        "threads": 1,
        "torch": torch.__version__,
    }


def test_main_resumes_past_the_rows_it_has(fakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    main(argv(out))
    rows = read_rows(out / "runs.csv")
    fakes.clear()
    assert main(argv(out)) == 0
    assert fakes == [] and read_rows(out / "runs.csv") == rows


def snapshot(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in ("code", "digit", "seed", "iteration", "run_iters", "auc"))


def test_a_half_done_run_starts_over(fakes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.validation.peer_seeds_table import write_rows

    out = tmp_path / "out"
    main(argv(out))
    rows = read_rows(out / "runs.csv")
    half = [
        r
        for r in rows
        if (r["code"], r["seed"], r["iteration"], r["run_iters"]) != ("theirs", 1, 2000, 2000)
    ]
    write_rows(out / "runs.csv", half)
    fakes.clear()
    main(argv(out))
    assert fakes == [("theirs", "1", 1, 2000)]
    again = read_rows(out / "runs.csv")
    assert sorted(map(snapshot, again)) == sorted(map(snapshot, rows))  # its 500 row once


def test_the_deadline_starts_no_run_expected_to_end_after_it(fakes, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert main(argv(out, "--deadline-hours", "0.001", "--hint", "ours=100,theirs=100:60")) == 0
    assert fakes == []
    printed = capsys.readouterr().out
    # seed 0, 500 its: 100 * 500 + (100 * 500 + 60 * 1) seconds = 1667.7 minutes
    assert "deadline: not starting digit 1 seed 0 (500 its, ~1668 min for ours, theirs)" in printed
    assert (out / "summary.md").read_text() == "no runs yet\n"


# ------------------------------------------------------------------------------ timing
class TimedRun:
    """Advancing costs ``per_it`` seconds of a fake clock per iteration."""

    def __init__(self, clock: list[float], per_it: float, per_1000: float) -> None:
        self.clock, self.per_it, self.per_1000, self.t = clock, per_it, per_1000, 0

    def advance(self, t: int) -> None:
        self.clock[0] += (t - self.t) * self.per_it
        self.t = t

    def time_scoring(self, n: int) -> float:
        return self.per_1000 * n / 1000


def test_time_codes_projects_every_run(monkeypatch, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    clock = [0.0]
    speed = {"ours": (0.5, 3.0), "theirs": (1.0, 6.0)}  # s / iteration, s / 1,000 scored
    monkeypatch.setattr(ps, "time", NS(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(ps, "load_digit_split", lambda *a: "split")
    monkeypatch.setattr(ps, "make_run", lambda code, **kw: TimedRun(clock, *speed[code]))
    args = parse_args(["--seeds", "0,1", "--time-only", "4", "--out", str(tmp_path)])
    total = time_codes(args, NS(), tmp_path / "vgg.pt", ["ours", "theirs"], ["1", "8"])
    # 4 runs x (s/it x 2,000 + s/scoring (x 10 for 10,000 images) x 2 snapshots)
    assert total == pytest.approx(4 * (0.5 * 2000 + 30 * 2) + 4 * (1.0 * 2000 + 60 * 2))
    assert capsys.readouterr().out.splitlines() == [
        "ours: 0.500 s/iteration, 30.0 s per scoring of the test set; 4 runs -> 1.18 h",
        "theirs: 1.000 s/iteration, 60.0 s per scoring of the test set; 4 runs -> 2.36 h",
        "projected total: 3.53 h",
    ]


# ------------------------------------------------------------------------------ our run
@pytest.fixture
def our_run(monkeypatch) -> OurRun:  # type: ignore[no-untyped-def]
    real = ps.our_trainer
    cfg = {"reconstruction": "rel_perc_l1", "in_channels": 1}
    monkeypatch.setattr(ps, "our_config", lambda vgg, stats, **ch: tiny_config(**cfg, **ch))
    monkeypatch.setattr(ps, "our_trainer", lambda c, x: real(c, x, features=tiny_features()))
    labels = np.array([0, 1, 0, 1, 0, 1])
    split = DigitSplit("1", toy_images(), toy_images(6, seed=1), labels)
    return OurRun(split, Path("v.pt"), Path("s.pt"), seed=2, iters=3, data_order="permutations")


def test_our_run_takes_seed_length_and_data_order(our_run: OurRun) -> None:
    c = our_run.config
    assert (c.seed, c.iterations, c.data_order) == (2, 3, "permutations")
    assert our_run.trainer.data.data_order == "permutations"
    our_run.advance(2)
    assert our_run.trainer.iteration == 2


def test_our_scores_are_per_test_image_whatever_the_batch(our_run: OurRun) -> None:
    a = our_run.scores(batch=32)
    assert a.shape == (6,) and a.dtype == np.float64 and len(set(a.tolist())) == 6
    assert our_run.scores(batch=4) == pytest.approx(a, rel=1e-6)
    assert our_run.scores(batch=4, limit=2) == pytest.approx(a[:2], rel=1e-6)


def test_our_auc_orients_anomalies_as_positives(our_run: OurRun, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # anomalies 0.9, 0.8, 0.05 vs normals 0.1, 0.2, 0.3: 6 of 9 pairs ordered right
    monkeypatch.setattr(our_run, "scores", lambda: np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.05]))
    assert our_run.auc() == pytest.approx(6 / 9)
