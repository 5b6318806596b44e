"""benchmarks.figures.curves: the learning-curve table read from hand-written eval.csv and
log.csv files in the runner's job layout, the mean +- std band over seeds, the figure."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from benchmarks.figures import common
from benchmarks.figures.curves import (
    collect_curves,
    curves_table,
    draw_curves,
    eval_files,
    has_eval_data,
    mean_band,
)
from piad.errors import PIADError

HEADER = "iteration,roc_auc,fpr95,n_images,eval_s,wall_s"


def _job(results: Path, dataset: str, method: str, normal: str, seed: int) -> Path:
    work = results / dataset / method / normal / f"seed{seed}" / "work"
    work.mkdir(parents=True)
    return work


def _eval_csv(work: Path, *rows: tuple[int, float, float]) -> Path:
    lines = [HEADER] + [f"{it},{auc},{fpr},50,0.1,{it / 10}" for it, auc, fpr in rows]
    path = work / "eval.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_results(results: Path) -> Path:
    """mnist/piad/3 with two seeds (seed 1 still training), mnist/piad/8 with one seed."""
    seed0 = _job(results, "mnist", "piad", "3", 0)
    _eval_csv(seed0, (10, 0.5, 0.9), (20, 0.6, 0.8), (30, 0.7, 0.7))
    (seed0 / "log.csv").write_text("iteration,rec,gamma_g\n10,0.5,1.0\n20,0.25,2.0\n")
    seed1 = _job(results, "mnist", "piad", "3", 1)
    _eval_csv(seed1, (20, 0.8, 0.6), (10, 0.7, 0.5))
    (seed1 / "log.csv").write_text("")  # a log not written yet
    _eval_csv(_job(results, "mnist", "piad", "8", 0), (10, 0.9, 0.1))
    (_job(results, "mnist", "kde", "3", 0) / "eval.csv").write_text(HEADER + "\n")  # no row
    return results


def test_eval_files_and_has_eval_data(tmp_path):
    assert eval_files(tmp_path / "absent") == [] and not has_eval_data(tmp_path / "absent")
    (_job(tmp_path, "mnist", "kde", "3", 0) / "eval.csv").write_text(HEADER + "\n")
    assert len(eval_files(tmp_path)) == 1 and not has_eval_data(tmp_path)  # header only
    (tmp_path / "mnist" / "eval.csv").write_text(HEADER + "\n10,0.5,0.5,1,0,0\n")  # not a job
    assert not has_eval_data(tmp_path)
    make_results(tmp_path / "r")
    files = eval_files(tmp_path / "r")
    assert [f.relative_to(tmp_path / "r").parts[:4] for f in files] == [
        ("mnist", "kde", "3", "seed0"),
        ("mnist", "piad", "3", "seed0"),
        ("mnist", "piad", "3", "seed1"),
        ("mnist", "piad", "8", "seed0"),
    ]
    assert has_eval_data(tmp_path / "r")


def test_collect_curves_reads_each_job_with_rows(tmp_path):
    jobs = collect_curves(make_results(tmp_path))
    assert [(j.dataset, j.method, j.normal, j.seed) for j in jobs] == [
        ("mnist", "piad", "3", 0),
        ("mnist", "piad", "3", 1),
        ("mnist", "piad", "8", 0),
    ]  # the KDE job's eval.csv has no row
    seed0 = jobs[0]
    assert seed0.path == tmp_path / "mnist" / "piad" / "3" / "seed0"
    assert seed0.panel == ("mnist", "piad", "3")
    assert seed0.eval_rows["roc_auc"].tolist() == [0.5, 0.6, 0.7]
    assert seed0.log_rows["rec"].tolist() == [0.5, 0.25]
    assert jobs[1].log_rows.empty and jobs[2].log_rows.empty  # empty, and absent


def test_mean_band_by_hand():
    seed0 = _rows([(10, 0.5), (20, 0.6), (30, 0.7)])
    seed1 = _rows([(10, 0.7), (20, 0.8)])
    band = mean_band([seed0, seed1], "roc_auc")
    assert band["iteration"].tolist() == [10, 20]  # only the iterations every seed has
    assert band["mean"].tolist() == pytest.approx([0.6, 0.7])
    assert band["std"].tolist() == pytest.approx([math.sqrt(0.02)] * 2)
    assert band["n"].tolist() == [2, 2]
    single = mean_band([seed0], "roc_auc")
    assert single["mean"].tolist() == [0.5, 0.6, 0.7] and single["std"].isna().all()
    assert list(mean_band([], "roc_auc").columns) == ["iteration", "mean", "std", "n"]


def _rows(points) -> pd.DataFrame:
    return pd.DataFrame(points, columns=["iteration", "roc_auc"])


def test_curves_table_is_tidy_and_sorted(tmp_path):
    table = curves_table(make_results(tmp_path))
    assert list(table.columns[:5]) == ["dataset", "method", "normal", "seed", "iteration"]
    assert table["iteration"].dtype.kind == "i"
    keys = list(zip(table["normal"], table["seed"], table["iteration"]))
    assert keys == [
        ("3", 0, 10),
        ("3", 0, 20),
        ("3", 0, 30),
        ("3", 1, 10),
        ("3", 1, 20),  # sorted, although seed 1's file lists 20 first
        ("8", 0, 10),
    ]
    assert table["fpr95"].tolist() == [0.9, 0.8, 0.7, 0.5, 0.6, 0.1]
    assert curves_table(tmp_path / "absent").empty
    with pytest.raises(PIADError, match="unknown metric 'auc'"):
        curves_table(tmp_path, metric="auc")


def test_draw_curves_needs_eval_files_and_a_known_metric(tmp_path):
    with pytest.raises(PIADError, match=r"no work/eval\.csv under .*--eval-every N first"):
        draw_curves(tmp_path)
    with pytest.raises(PIADError, match="unknown metric 'accuracy'"):
        draw_curves(make_results(tmp_path), metric="accuracy")


def test_draw_curves_one_column_per_class_with_the_paper_line(tmp_path, monkeypatch):
    drawn = {}
    save = common.save_figure

    def spy(fig, out, name, formats):
        drawn["titles"] = [ax.get_title() for ax in fig.axes]
        drawn["labels"] = [ax.get_legend_handles_labels()[1] for ax in fig.axes]
        return save(fig, out, name, formats)

    monkeypatch.setattr(common, "save_figure", spy)  # draw_curves imports it when it runs
    path = draw_curves(make_results(tmp_path / "suite"))
    assert path == tmp_path / "suite" / "figures" / "curves.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > im.height / 2
    # one column per class; rows: the metric, the losses, the gammas
    assert drawn["titles"][:2] == ["MNIST PIAD: normal 3", "MNIST PIAD: normal 8"]
    class3 = drawn["labels"][0]
    assert class3[:3] == ["seed 0", "seed 1", "mean"]
    assert class3[3] == "paper 0.981"  # the paper's MNIST class 3; no result.json: no budget
    assert drawn["labels"][1] == ["seed 0", "paper 0.982"]  # one seed: no mean line
    assert drawn["labels"][2] == ["rec"] and drawn["labels"][4] == ["gamma_g"]
    other = draw_curves(tmp_path / "suite", tmp_path / "out", "fpr95", ("png",), "fpr")
    assert other == tmp_path / "out" / "fpr.png"
    assert "paper 0.981" not in drawn["labels"][0]  # the paper reports ROC AUC only
