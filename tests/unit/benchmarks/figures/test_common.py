"""benchmarks.figures.common: save_figure writes each format atomically and closes the figure;
image grids, axes without ticks and the paper's printing of loss values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.figures.common import as_image, grid, pyplot, save_figure, show, value_text
from piad.errors import PIADError

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF", "svg": b"<?xml"}


def _figure():
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2.0, 1.5))
    ax.plot([0, 1], [1, 0])
    return plt, fig


def test_save_figure_writes_every_format_and_closes_the_figure(tmp_path):
    plt, fig = _figure()
    paths = save_figure(fig, tmp_path / "new", "fig", ("png", "svg", "pdf"))
    assert [p.name for p in paths] == ["fig.png", "fig.svg", "fig.pdf"]
    for p in paths:
        assert p.read_bytes().startswith(MAGIC[p.suffix[1:]]), p
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted(p.name for p in paths)
    assert not plt.fignum_exists(fig.number)
    plt, fig = _figure()
    assert [p.name for p in save_figure(fig, tmp_path, "default")] == ["default.png", "default.pdf"]


def test_an_unknown_format_is_one_line_and_the_figure_is_still_closed(tmp_path):
    plt, fig = _figure()
    with pytest.raises(PIADError, match=r"unknown figure format 'gif'; known: pdf, png, svg"):
        save_figure(fig, tmp_path, "fig", ("png", "gif"))
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]  # whole files only, no temp file


def test_grid_tiles_images_with_white_padding():
    images = torch.full((3, 3, 8, 8), -1.0)  # three black images, two per row
    tiled = grid(images, nrow=2)
    assert tiled.shape == (2 * 8 + 3 * 2, 2 * 8 + 3 * 2, 3)  # 2 px padding around each
    assert tiled[2:10, 2:10].max() == 0.0 and tiled[2:10, 12:20].max() == 0.0
    assert tiled[12:20, 12:20].min() == 1.0  # the missing fourth image stays white
    assert tiled[0].min() == 1.0 and tiled[:, 10:12].min() == 1.0
    chw = torch.rand(3, 5, 7)
    assert np.array_equal(as_image(chw), chw.permute(1, 2, 0).numpy())


def test_show_draws_an_image_without_ticks():
    plt = pyplot()
    fig, ax = plt.subplots()
    show(ax, np.zeros((4, 6, 3)), "title", fontsize=7)
    assert ax.get_title() == "title" and ax.title.get_fontsize() == 7
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert not any(s.get_visible() for s in ax.spines.values())
    assert ax.images[0].get_array().shape == (4, 6, 3)
    plt.close(fig)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4.2912, "4.29"),
        (0.5199, "0.52"),
        (99.9, "99.90"),
        (100.0, "100"),
        (99.996, "100"),
        (-99.996, "-100"),
        (-1234.6, "-1235"),
    ],
)
def test_value_text_prints_like_the_paper(value, text):
    assert value_text(value) == text
