"""piad.cli.inputs: images to score are read with the model's recipe, and images unlike the
training ones (another channel count, another file size) are refused unless converted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from piad.cli.estimators import Model, TrainingInput
from piad.cli.inputs import check_like_training, read_for_model
from piad.errors import PIADError
from piad.image_files import ImageRecipe, LoadedImages


def _model(channels=(1,), sizes=((28, 28),), n_sizes=1, recipe=None) -> Model:
    info = TrainingInput(recipe or ImageRecipe(8), list(channels), list(sizes), n_sizes)
    return Model(Path("m.pt"), "kde", estimator=None, input=info)


def _loaded(channels: list[int], sizes: list[tuple[int, int]]) -> LoadedImages:
    n = len(channels)
    paths = [Path(f"imgs/{i}.png") for i in range(n)]
    return LoadedImages(np.zeros((n, 8, 8, 1), np.uint8), paths, sizes, channels)


def test_images_like_the_training_ones_pass():
    check_like_training(_loaded([1, 1], [(28, 28)] * 2), _model())
    # several training sizes were seen: any size is accepted
    check_like_training(_loaded([1], [(50, 70)]), _model(sizes=((28, 28), (30, 30)), n_sizes=2))
    check_like_training(_loaded([3, 1], [(28, 28)] * 2), _model(channels=(1, 3)))


def test_another_channel_count_is_refused_naming_the_first_file():
    with pytest.raises(PIADError) as info:
        check_like_training(_loaded([1, 3, 3], [(28, 28)] * 3), _model())
    message = str(info.value)
    assert message.startswith("imgs/1.png (and 1 more) is RGB but m.pt was trained on grayscale")
    assert message.endswith("convert them to grayscale, or pass --convert to crop, resize and "
                            "convert them as at training")  # fmt: skip


def test_another_file_size_is_refused_when_training_had_one_size():
    with pytest.raises(PIADError, match=r"^imgs/0\.png is 56x56 but m\.pt was trained on 28x28"):
        check_like_training(_loaded([1, 1], [(56, 56), (28, 28)]), _model())
    with pytest.raises(PIADError, match=r"resize them to 28x28, or pass --convert"):
        check_like_training(_loaded([1], [(28, 30)]), _model())


def test_read_for_model_uses_the_recipe_and_checks_unless_converted(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    model = _model(sizes=((40, 40),), recipe=ImageRecipe(16, 1))
    loaded = read_for_model([str(tmp_path)], model)
    assert loaded.images.shape == (2, 16, 16, 1) and loaded.source_sizes == [(40, 40)] * 2
    other = _model(sizes=((28, 28),), recipe=ImageRecipe(16, 3))
    with pytest.raises(PIADError, match=r"is 40x40 but m\.pt was trained on 28x28"):
        read_for_model([str(tmp_path)], other)
    converted = read_for_model([str(tmp_path)], other, convert=True)
    assert converted.images.shape == (2, 16, 16, 3)  # the model's recipe: RGB
