"""benchmarks.reporting.plots: one job's ROC curve and a suite's ours-vs-reported bars as PNG
files that decode at the size of their figure, written atomically, redrawn only when stale."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from PIL import Image

from benchmarks.data.splits import Split
from benchmarks.experiments.jobs import Job, JobFolder
from benchmarks.experiments.results import Result
from benchmarks.reporting.aggregate import aggregate
from benchmarks.reporting.plots import job_roc, plot_bars, plot_roc
from piad.io import atomic_save_npz


def test_plots_are_written_as_png(tmp_path, make_table2_results, REPORTED):
    import numpy as np

    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    path = plot_roc(labels, scores, tmp_path / "roc.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grouped = plot_roc(
        labels, scores, tmp_path / "g.png", groups={"A": labels >= 0, "B": scores != 0.9}
    )
    assert grouped.stat().st_size > 1000
    agg = aggregate(make_table2_results(tmp_path / "r"), REPORTED)
    bars = plot_bars(agg, tmp_path / "bars.png", "REDUCED BUDGET")
    assert bars is not None and bars.read_bytes()[:4] == b"\x89PNG"


DPI = 110  # plots.py saves at 110 dpi


def _bars_agg(datasets) -> pd.DataFrame:
    rows = []
    for dataset in datasets:
        for row, mean, paper in (("0", 0.9, 0.95), ("1", 0.8, float("nan"))):
            rows.append(
                {"dataset": dataset, "row": row, "method": "kde", "mean": mean, "std": 0.01}
                | {"reported": paper}
            )
    return pd.DataFrame(rows)


def test_bars_decode_with_one_panel_of_3_2_inches_per_dataset(tmp_path):
    heights = []
    for n in (1, 2, 3):
        path = plot_bars(_bars_agg(["mnist", "cifar10", "fmnist"][:n]), tmp_path / f"{n}.png")
        with Image.open(path) as im:
            im.load()
            assert im.format == "PNG" and 0.9 * 11 * DPI <= im.width <= 1.1 * 11 * DPI
            heights.append(im.height)
            assert np.asarray(im.convert("L")).std() > 0  # something is drawn
    steps = np.diff(heights)
    assert np.allclose(steps, 3.2 * DPI, atol=3), heights
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.png", "2.png", "3.png"]  # no temp


def test_no_bars_without_a_number(tmp_path):
    empty = _bars_agg(["mnist"]).assign(mean=float("nan"))
    assert plot_bars(empty, tmp_path / "a.png") is None
    assert plot_bars(empty.iloc[:0], tmp_path / "b.png") is None
    assert list(tmp_path.iterdir()) == []


def test_roc_png_decodes_at_the_figure_size(tmp_path):
    path = plot_roc(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.3]), tmp_path / "r.png")
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert 0.8 * 4.2 * DPI <= im.width <= 4.2 * DPI + 2
        assert 0.8 * 4.0 * DPI <= im.height <= 4.0 * DPI + 2


def _roc_job(out) -> JobFolder:
    """A finished job as the runner leaves it: split.npz, scores.npz, result.json."""
    job = Job("s", "mnist", "one_vs_all", "3", "kde", "", 0)
    folder = JobFolder(job.folder(out))
    labels = np.array([0, 0, 0, 1, 1, 1])
    test = np.array([15, 11, 12, 13, 14, 10])
    Split("mnist", "one_vs_all", "3", 0, "fp", [0, 1], test, labels).save(folder.split)
    atomic_save_npz(
        folder.scores,
        scores=np.array([0.1, 0.2, 0.6, 0.5, 0.8, 0.9]),
        labels=labels,
        test_index=test,
    )
    Result(job, "ok", auc=8 / 9).save(folder.path)
    return folder


def test_job_roc_is_drawn_once_and_redrawn_when_the_scores_change(tmp_path):
    folder = _roc_job(tmp_path)
    path = job_roc(folder.path)
    assert path == folder.roc and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = path.stat().st_mtime_ns
    os.utime(folder.scores, ns=(drawn - 10**9, drawn - 10**9))
    assert job_roc(folder.path) == path and path.stat().st_mtime_ns == drawn  # up to date
    os.utime(folder.scores, ns=(drawn + 10**9, drawn + 10**9))
    job_roc(folder.path)
    assert path.stat().st_mtime_ns != drawn  # the scores are newer: drawn again
    folder.scores.unlink()
    assert job_roc(folder.path) is None
