"""Image grids: torchvision's make_grid layout and save_image pixels, without torchvision."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from piad.errors import PIADError
from piad.grids import grid_image, save_grid


@pytest.mark.parametrize("shape,nrow", [((5, 1, 6, 7), 3), ((8, 3, 4, 4), 8), ((2, 3, 5, 5), 4)])
def test_grid_matches_torchvision_make_grid(shape, nrow):
    from torchvision.utils import make_grid

    images = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2.4 - 1.2
    ours = grid_image(images, nrow=nrow, padding=2)
    unit = ((images + 1) / 2).clamp(0, 1)
    expected = make_grid(unit, nrow=nrow, padding=2, pad_value=1.0)
    assert torch.equal(ours, expected)


def test_saved_png_matches_torchvision_save_image(tmp_path):
    from torchvision.utils import save_image

    images = torch.rand(6, 3, 5, 5, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ours = np.asarray(Image.open(save_grid(images, tmp_path / "g.png", nrow=3)))
    buf = io.BytesIO()
    save_image(grid_image(images, nrow=3), buf, format="png")
    assert np.array_equal(ours, np.asarray(Image.open(buf)))


def test_bad_shape_is_refused():
    with pytest.raises(PIADError, match="expected images shaped"):
        grid_image(torch.zeros(2, 2, 4, 4))


def test_training_modules_do_not_import_torchvision():
    code = "import sys, piad.training, piad.model; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
