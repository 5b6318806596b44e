"""The fused speed benchmark runs on a tiny config, writes its tables and merges runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.perf import fused_speed
from piad.errors import PIADError

ARGV = ["--tiny", "--in-process", "--presets", "mnist", "--iters", "1", "--warmup", "0",
        "--threads", "1", "--n-images", "16"]  # fmt: skip


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_tiny_writes_csv_and_markdown_and_merges(tmp_path: Path) -> None:
    a, b, merged = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    assert fused_speed.main([*ARGV, "--fuse", "1,2", "--loop", "1", "--out", str(a)]) == 0
    rows = _read(a / "fused_speed.csv")
    assert [(r["mode"], r["k"]) for r in rows] == [("loop", "1"), ("fused", "1"), ("fused", "2")]
    for r in rows:
        assert float(r["model_it_per_s"]) == pytest.approx(
            int(r["k"]) / float(r["s_per_group_iter"]), rel=1e-6
        )
        assert float(r["peak_rss_gb"]) > 0 and "tiny config" in r["note"]
    assert float(rows[0]["speedup_vs_solo"]) == 1.0
    assert (a / "fused_speed.md").read_text().startswith("# Fused training speed")
    assert fused_speed.main([*ARGV, "--fuse", "4", "--loop", "", "--out", str(b)]) == 0
    files = f"{a / 'fused_speed.csv'},{b / 'fused_speed.csv'}"
    assert fused_speed.main(["--from-csv", files, "--out", str(merged)]) == 0
    both = _read(merged / "fused_speed.csv")
    assert [r["k"] for r in both] == ["1", "1", "2", "4"]
    assert "Projected largest group" in (merged / "fused_speed.md").read_text()


def test_projection_from_the_per_model_slope() -> None:
    rows = [{"preset": "mnist", "mode": "fused", "k": k, "peak_rss_gb": 1.0 + 0.5 * k}
            for k in (1, 2, 4, 8)]  # fmt: skip
    assert fused_speed.per_model_memory(rows, "mnist") == pytest.approx((1.0, 0.5))
    proj = {p["card"]: p for p in fused_speed.project_groups(rows, {"mnist": 0})}
    usable = 139 * fused_speed.GPU_HEADROOM - fused_speed.GPU_BASE_GIB
    assert proj["H200 (139 GiB)"]["largest_group"] == int(usable // 0.5)


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert fused_speed.main(["--fuse", "one", "--tiny"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    with pytest.raises(PIADError, match="mode"):
        fused_speed.measure_fused("mnist", 1, 1, 1, mode="sideways", tiny=True)
