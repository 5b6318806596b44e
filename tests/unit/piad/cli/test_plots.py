"""piad.cli.plots: the pictures of ``piad report`` (grids of images beside their
reconstructions, score histogram, ROC curve, training curve, overview) as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from piad.cli import plots


def test_grid_layout():
    assert plots.grid_shape(8, pairs=True) == (2, 4) and plots.grid_shape(8, pairs=False) == (1, 8)
    assert plots.grid_shape(3, pairs=True) == (1, 3)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        return im.size


@pytest.fixture
def digits() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)


def test_grid_png_is_as_large_as_its_rows_and_columns(digits):
    scores, ranks, labels = np.linspace(3, 1, 8), list(range(1, 9)), [1, 0] * 4
    # 8 pairs: 2 rows of 4 image + reconstruction pairs = 8 columns, 1.1 in each, 100 dpi
    pairs = plots.grid_png(digits, digits, scores, ranks, labels, "most anomalous")
    assert _png_size(pairs) == (880, 300)  # height 0.5 + 1.25 per row
    singles = plots.grid_png(digits[:3], None, scores[:3], ranks[:3], None, "three")
    assert _png_size(singles) == (330, 175)  # 1 row of 3 (at least 3 in wide)
    assert _png_size(plots.grid_png(digits[:1], None, [1.0], [1], None, "one")) == (300, 175)


def test_draw_grid_titles_each_image_and_marks_anomalies(digits):
    from matplotlib.figure import Figure

    fig = Figure()
    plots.draw_grid(fig, digits[:3], digits[:3], [2.5, 1.25, 0.5], [1, 2, 3], [1, 0, 1], "top")
    axes = fig.axes
    assert len(axes) == 6  # one row: 3 images, each beside its reconstruction
    titles = [ax.get_title() for ax in axes]
    assert titles == ["#1 2.5 anomaly", "G(E(x))", "#2 1.25 normal", "G(E(x))", "#3 0.5 anomaly",
                      "G(E(x))"]  # fmt: skip
    red = [ax.spines["left"].get_edgecolor() for ax in axes[::2]]
    assert red[0] == red[2] != red[1]  # the anomalies' frames are coloured
    assert fig.get_suptitle() == "top"
    fig = Figure()
    plots.draw_grid(fig, digits[:5], None, np.ones(5), range(1, 6), None, "no labels")
    assert [ax.get_title() for ax in fig.axes] == [f"#{r} 1" for r in range(1, 6)]


def test_histogram_roc_training_curve_and_overview_are_pngs(digits):
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(30), np.ones(30)].astype(int)
    scores = labels + rng.normal(0, 0.7, 60)
    assert _png_size(plots.histogram_png(scores, labels)) == (500, 320)
    assert _png_size(plots.histogram_png(scores, None)) == (500, 320)
    assert _png_size(plots.roc_png(labels, scores)) == (360, 360)
    history = [{"iteration": i, "roc_auc": 0.5 + i / 100, "fpr95": 0.9, "n_images": 60}
               for i in (10, 20)]  # fmt: skip
    assert _png_size(plots.training_curve_png(history)) == (560, 340)
    grid = {"images": digits[:2], "reconstructions": digits[:2], "scores": scores[:2],
            "ranks": [1, 2], "labels": labels[:2], "title": "t"}  # fmt: skip
    # width max(7 in, 2 pairs x 1.1 in), height 2 grids of 1 row + 3.4 in for the panels
    with_roc = plots.overview_png(grid, grid, scores, labels, 0.8, "overview")
    assert _png_size(with_roc) == (700, 2 * 175 + 340)
    without = plots.overview_png(grid, grid, scores, None, None, "overview")
    assert _png_size(without) == (700, 690) and without != with_roc


def test_the_report_roc_panel_is_the_one_roc_plot(monkeypatch):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    plots.draw_roc(ax, np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert ax.get_lines()[0].get_label() == "AUC 0.7500"  # four digits, no name
    assert ax.get_lines()[0].get_color() == plots.ANOMALY_COLOUR
    assert ax.get_aspect() == 1.0 and ax.get_title() == "ROC curve"
