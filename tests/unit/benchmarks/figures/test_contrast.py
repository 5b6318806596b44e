"""benchmarks.figures.contrast: contrast reduction toward grey, the shifted pair cut from a
photo, the table of a ContrastResult, photo reading and their one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from benchmarks.figures.contrast import (
    ContrastResult,
    contrast_curves,
    read_photo,
    reduce_contrast,
    sample_photo,
    shifted_pair,
)
from piad.errors import MissingInputError, PIADError


def _gradient(h: int = 20, w: int = 30) -> np.ndarray:
    """An RGB photo whose pixel (y, x) is (8 x, 8 y, 100): every window is different."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([8 * xx, 8 * yy, np.full_like(xx, 100)], axis=-1).astype(np.uint8)


def test_mean_grey_keeps_each_images_own_brightness():
    x = torch.stack([torch.full((3, 2, 2), 0.5), torch.full((3, 2, 2), -0.5)])
    x[0, 0, 0, 0] = 1.0  # image 0: mean (0.5 * 11 + 1) / 12
    mean0 = float(x[0].mean())
    flat = reduce_contrast(x, 1.0, grey="mean")
    assert torch.allclose(flat[0], torch.full((3, 2, 2), mean0))
    assert torch.allclose(flat[1], torch.full((3, 2, 2), -0.5))
    half = reduce_contrast(x, 0.25, grey="mean")
    assert torch.allclose(half, 0.75 * x + 0.25 * flat)
    assert torch.equal(reduce_contrast(x, 0.0, grey="mean"), x)


@pytest.mark.parametrize("level", [-0.1, 1.01, float("nan")])
def test_a_level_outside_0_1_is_one_line(level):
    with pytest.raises(PIADError, match=r"contrast level must be in \[0, 1\]"):
        reduce_contrast(torch.zeros(1, 3, 2, 2), level)


def _as_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x[0] + 1) * 127.5).round().permute(1, 2, 0).numpy().astype(np.uint8)


def test_shifted_pair_cuts_two_windows_shift_apart_from_a_photo_that_just_holds_them():
    photo = _gradient(15, 17)  # exactly two 12 px windows 3 px down and 5 px right: no resize
    x, y = shifted_pair(photo, size=12, shift=(3, 5))
    assert x.shape == y.shape == (1, 3, 12, 12) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert np.array_equal(_as_uint8(x), photo[0:12, 0:12])
    assert np.array_equal(_as_uint8(y), photo[3:15, 5:17])
    back_x, back_y = shifted_pair(photo, size=12, shift=(-3, -5))  # the other way round
    assert np.array_equal(_as_uint8(back_x), photo[3:15, 5:17])
    assert np.array_equal(_as_uint8(back_y), photo[0:12, 0:12])


def test_shifted_pair_enlarges_a_small_photo_and_checks_its_input():
    x, y = shifted_pair(_gradient(10, 10), size=16, shift=(0, 4))
    assert x.shape == (1, 3, 16, 16) and torch.equal(x[..., 4:], y[..., :-4])
    with pytest.raises(PIADError, match=r"RGB uint8 \(H, W, 3\), got uint8 \(10, 10\)"):
        shifted_pair(np.zeros((10, 10), np.uint8))
    with pytest.raises(PIADError, match="size must be >= 8 pixels, got 4"):
        shifted_pair(_gradient(), size=4)


def _result(levels=(0.0, 0.5, 1.0)) -> ContrastResult:
    x = torch.full((1, 3, 2, 2), 0.8)
    return ContrastResult(
        levels=np.array(levels),
        perc=np.array([4.0, 1.0, 0.0]),
        rel_perc_l1=np.array([0.5, 0.5, 0.25]),
        feature_l1=np.array([2.0, 1.0, 0.5]),
        normalized_feature_l1=np.array([1.0, 0.9, 0.8]),
        x=x,
        y=-x,
    )


def test_contrast_result_table_is_relative_to_level_0():
    table = _result().table()
    assert list(table.columns) == [
        "level",
        "perc",
        "rel_perc_l1",
        "feature_l1",
        "normalized_feature_l1",
        "perc_rel",
        "rel_perc_l1_rel",
        "feature_l1_rel",
    ]
    assert table["perc_rel"].tolist() == [1.0, 0.25, 0.0]
    assert table["rel_perc_l1_rel"].tolist() == [1.0, 1.0, 0.5]
    assert table["feature_l1_rel"].tolist() == [1.0, 0.5, 0.25]
    pd.testing.assert_series_equal(table["level"], pd.Series([0.0, 0.5, 1.0], name="level"))


def test_index_of_and_images_at():
    result = _result()
    assert result.index_of(0.5) == 1 and result.index_of(0.5 + 1e-12) == 1
    with pytest.raises(PIADError, match=r"contrast level 0.2 was not computed; levels: 0, 0.5, 1"):
        result.index_of(0.2)
    a, b = result.images_at(0.5)
    assert torch.allclose(a, torch.full((1, 3, 2, 2), 0.4))
    assert torch.allclose(b, torch.full((1, 3, 2, 2), -0.4))


def test_contrast_curves_checks_its_images_and_levels_first():
    one = torch.zeros(1, 3, 8, 8)
    with pytest.raises(PIADError, match=r"same shape \(1, C, H, W\), got \(2, 3, 8, 8\)"):
        contrast_curves(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), None)
    with pytest.raises(PIADError, match=r"got \(1, 3, 8, 8\) and \(1, 3, 8, 9\)"):
        contrast_curves(one, torch.zeros(1, 3, 8, 9), None)
    with pytest.raises(PIADError, match="give at least one contrast level"):
        contrast_curves(one, one, None, levels=())


def test_read_photo_converts_to_rgb_and_names_a_bad_file(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    rgb = read_photo(tmp_path / "grey.png")
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 1], grey)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(PIADError, match=r"cannot read image .*broken\.png"):
        read_photo(tmp_path / "broken.png")
    with pytest.raises(MissingInputError, match="give an existing PNG/JPEG file"):
        read_photo(tmp_path)  # a folder is not an image file


def test_sample_photo_names_the_known_photos():
    flower = sample_photo("flower")
    assert flower.shape == (427, 640, 3) and flower.dtype == np.uint8
    assert not np.array_equal(flower, sample_photo("china"))
    with pytest.raises(PIADError, match="unknown sample photo 'lena'; known: china, flower"):
        sample_photo("lena")
