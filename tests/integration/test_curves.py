"""--eval-every on the toy suite: eval.csv per PIAD job, the curves figure, the same table;
--metric renders every format; --check's numbers do not move."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import runner_fakes
from paths import HELPERS

from benchmarks.cli import main
from benchmarks.experiments.jobs import JobFolder
from benchmarks.experiments.results import Result
from benchmarks.figures.curves import curves_table, has_eval_data
from benchmarks.reporting.render import write_report
from piad.metrics import METRICS
from piad.training.tracking import EVAL_NAME, read_eval_csv


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    monkeypatch.setenv("PIAD_PLUGINS", "runner_plugin")
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HELPERS), path) if p))
    return tmp_path


def _run(out: Path, *extra: str) -> int:
    return main([
        "--suite", "toy", "--classes", "h,v", "--seeds", "0", "--iters", "30",
        "--out", str(out), "--data-root", str(out.parent / "data"), "--backend", "inline",
        "--threads", "1", "--no-progress", *extra,
    ])  # fmt: skip


def _piad_folders(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.rglob("result.json") if "tinypiad" in str(p))


def test_eval_every_gives_curves_and_the_same_table(fakes, capsys):
    plain, watched, subset = fakes / "plain", fakes / "watched", fakes / "subset"
    assert _run(plain) == 0
    assert _run(watched, "--eval-every", "10") == 0
    assert _run(subset, "--eval-every", "10", "--eval-subset", "10") == 0
    capsys.readouterr()

    # the tables keep the final iteration's numbers, bit for bit the run without evaluation
    assert (watched / "report.csv").read_text() == (plain / "report.csv").read_text()
    assert (subset / "report.csv").read_text() == (plain / "report.csv").read_text()
    md_plain, md_watched = (plain / "report.md").read_text(), (watched / "report.md").read_text()
    assert md_watched.startswith(md_plain) and "## Learning curves" not in md_plain
    assert "figures/curves.png" in md_watched
    assert (watched / "figures" / "curves.png").stat().st_size > 1000
    assert not (plain / "figures").exists() and not has_eval_data(plain)

    folders = _piad_folders(watched)
    assert len(folders) == 2
    for folder in folders:
        twin = plain / folder.relative_to(watched)
        with np.load(folder / JobFolder.SCORES) as a, np.load(twin / JobFolder.SCORES) as b:
            assert np.array_equal(a["scores"], b["scores"])
        rows = read_eval_csv(folder / JobFolder.WORK / EVAL_NAME)
        assert [r["iteration"] for r in rows] == [10, 20, 30]
        result = Result.load(folder)
        assert rows[-1]["roc_auc"] == pytest.approx(result.auc, abs=1e-12)  # whole test split
        assert rows[-1]["n_images"] == result.split["n_test"]
        assert set(result.metrics) == set(METRICS)
        assert result.metrics["roc_auc"] == pytest.approx(result.auc)
        assert result.method_info["tracking"]["eval_every"] == 10
        assert not (twin / JobFolder.WORK / EVAL_NAME).exists()
        small = read_eval_csv(subset / folder.relative_to(watched) / JobFolder.WORK / EVAL_NAME)
        assert [r["n_images"] for r in small] == [10, 10, 10]
    assert not any("ocsvm" in str(p) or "kde" in str(p) for p in watched.rglob(EVAL_NAME))
    table = curves_table(watched)
    assert len(table) == 6 and set(table["normal"]) == {"h", "v"}


def test_metric_picks_the_tables_and_leaves_check_alone(fakes, capsys):
    out = fakes / "run"
    assert _run(out) == 0
    capsys.readouterr()
    roc = write_report(out)
    aupr = write_report(out, metric="aupr_anomaly")
    assert aupr.aggregated.equals(roc.aggregated)  # --check and report.png read ROC AUC
    md = (out / "report.md").read_text()
    tex = (out / "report.tex").read_text()
    assert "AUPR (anomalies positive) per normal class" in md and "ROC AUC per" not in md
    assert "AUPR (anomalies positive)" in tex
    csv = (out / "report.csv").read_text().splitlines()[0].split(",")
    assert {"aupr_anomaly", "aupr_normal", "fpr95", "f1_max", "mean", "reported"} <= set(csv)
    for metric in METRICS:
        assert _run(out, "--report-only", "--metric", metric) == 0
    assert _run(out, "--report-only", "--metric", "auprc") == 2
    assert "unknown metric 'auprc'" in capsys.readouterr().err


def test_old_results_without_the_metrics_still_render(fakes, capsys):
    out = fakes / "run"
    assert _run(out) == 0
    for path in out.rglob("result.json"):  # as written before the metrics existed
        result = Result.load(path)
        result.metrics, result.group_metrics = {}, {}
        d = result.to_dict()
        d.pop("metrics"), d.pop("group_metrics")
        import json

        path.write_text(json.dumps(d))
    capsys.readouterr()
    assert _run(out, "--report-only", "--metric", "f1_max") == 0
    md = (out / "report.md").read_text()
    assert "| h       |             — |" in md or "—" in md.split("## ")[1]
    assert _run(out, "--report-only") == 0  # ROC AUC: the numbers as before
    assert "—" not in (out / "report.md").read_text().split("| class")[1].split("\n\n")[0]
