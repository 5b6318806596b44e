"""benchmarks.validation.peer_seeds_table: the seeded comparison's table and merge."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.validation.peer_seeds_table import (
    cell_stats,
    merge_runs,
    read_rows,
    summary_markdown,
    write_rows,
)
from piad.errors import PIADError


def row(code: str, seed: int, auc: float, it: int = 500, length: int = 500, digit: str = "1"):  # type: ignore[no-untyped-def]
    return {
        "code": code,
        "digit": digit,
        "seed": seed,
        "iteration": it,
        "run_iters": length,
        "auc": auc,
        "train_seconds": 2.0 * it,
        "score_seconds": 60.0,
    }


OURS = [0.99, 0.97, 0.95]
THEIRS = [0.93, 0.94]


def rows_of() -> list[dict]:  # type: ignore[type-arg]
    return [row("ours", s, a) for s, a in enumerate(OURS)] + [
        row("theirs", s, a) for s, a in enumerate(THEIRS)
    ]


def test_cell_stats_are_mean_and_sample_std_over_seeds() -> None:
    stats = cell_stats([*rows_of(), row("theirs", 0, 0.8, digit="8")])
    mean, std, n = stats[("1", 500, "ours")]
    assert n == 3 and mean == pytest.approx(0.97)
    assert std == pytest.approx(0.02)  # sqrt(((0.02)^2 + 0 + (0.02)^2) / 2)
    mean, std, n = stats[("1", 500, "theirs")]
    assert (n, mean, std) == (2, pytest.approx(0.935), pytest.approx(math.sqrt(0.00005)))
    assert math.isnan(stats[("8", 500, "theirs")][1])  # one seed: no std


def test_summary_gives_welch_test_per_seed_values_and_unpaired_seeds() -> None:
    text = summary_markdown(rows_of())
    # Welch by hand: t = (0.97 - 0.935) / sqrt(0.02^2 / 3 + 0.00005 / 2)
    t = 0.035 / math.sqrt(0.0004 / 3 + 0.00005 / 2)
    ours = next(line for line in text.splitlines() if line.startswith("| 1 | 500 | ours |"))
    assert "0.9700 ± 0.0200 (3)" in ours and "+0.0350" in ours and f"t={t:.2f}" in ours
    assert "0: 0.9900, 1: 0.9700, 2: 0.9500" in ours
    theirs = next(line for line in text.splitlines() if line.startswith("| 1 | 500 | theirs |"))
    assert "0.9350 ± 0.0071 (2)" in theirs and "t=" not in theirs
    assert "ours: seeds [2]" in text  # the seed theirs lacks is named
    assert "- ours: 2.000" in text  # seconds per iteration


def test_a_snapshot_scored_in_two_runs_counts_once() -> None:
    rows = [*rows_of(), row("ours", 0, 0.99, it=500, length=2000), row("ours", 0, 0.9, 2000, 2000)]
    stats = cell_stats(rows)
    assert stats[("1", 500, "ours")][2] == 3 and stats[("1", 2000, "ours")][2] == 1
    assert "largest AUC difference 0.00e+00" in summary_markdown(rows)


def test_merge_joins_folders_and_refuses_conflicting_runs(tmp_path: Path) -> None:
    a, b = tmp_path / "ours", tmp_path / "theirs"
    for folder, code, aucs in ((a, "ours", OURS), (b, "theirs", THEIRS)):
        folder.mkdir()
        write_rows(folder / "runs.csv", [row(code, s, v) for s, v in enumerate(aucs)])
    merged = merge_runs([a, b, a])  # a folder twice: its rows once
    assert sorted((r["code"], r["seed"]) for r in merged) == sorted(
        [("ours", s) for s in range(3)] + [("theirs", s) for s in range(2)]
    )
    c = tmp_path / "other"
    c.mkdir()
    write_rows(c / "runs.csv", [row("ours", 0, 0.5)])
    with pytest.raises(PIADError, match="both hold"):
        merge_runs([a, c])
    with pytest.raises(PIADError, match="does not exist"):
        merge_runs([tmp_path / "missing"])


def test_read_rows_names_a_file_that_is_not_a_runs_csv(tmp_path: Path) -> None:
    assert read_rows(tmp_path / "none.csv") == []
    bad = tmp_path / "runs.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(PIADError, match="lacks columns"):
        read_rows(bad)


def test_merge_command_writes_runs_and_summary(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.validation.peer_seeds import main

    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    for folder, code, aucs in ((a, "ours", OURS), (b, "theirs", THEIRS)):
        folder.mkdir()
        write_rows(folder / "runs.csv", [row(code, s, v) for s, v in enumerate(aucs)])
    assert main(["--merge", f"{a},{b}", "--out", str(out)]) == 0
    assert len(read_rows(out / "runs.csv")) == 5
    assert "0.9700 ± 0.0200 (3)" in (out / "summary.md").read_text()
    capsys.readouterr()
    assert main(["--peer", str(tmp_path / "none"), "--out", str(out)]) == 2  # no checkout there
    assert "no checkout of ninatu/piad at" in capsys.readouterr().err
