"""Reading the images to score with a model: its recipe, and a refusal of images unlike the
training ones (another file size or channel count) unless ``--convert`` is given."""

from __future__ import annotations

from collections.abc import Sequence

from piad.cli.estimators import Model
from piad.errors import PIADError
from piad.image_files import LoadedImages, channel_name, load_images


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def check_like_training(loaded: LoadedImages, model: Model) -> None:
    """Refuse (one line, naming the first file) images of another channel count than any
    training file, or of another file size when all training files had one size."""
    info = model.input
    trained = " or ".join(channel_name(c) for c in info.source_channels)
    fix = "or pass --convert to crop, resize and convert them as at training"
    bad = [i for i, c in enumerate(loaded.source_channels) if c not in info.source_channels]
    if bad:
        first = loaded.paths[bad[0]]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise PIADError(
            f"{first}{more} is {channel_name(loaded.source_channels[bad[0]])} but "
            f"{model.path} was trained on {trained} images; convert them to {trained}, {fix}"
        )
    want = info.one_size()
    if want is None:
        return
    bad = [i for i, s in enumerate(loaded.source_sizes) if s != want]
    if bad:
        first = loaded.paths[bad[0]]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise PIADError(
            f"{first}{more} is {_size(loaded.source_sizes[bad[0]])} but {model.path} was "
            f"trained on {_size(want)} images; resize them to {_size(want)}, {fix}"
        )


def read_for_model(
    sources: Sequence[str],
    model: Model,
    *,
    strict: bool = False,
    convert: bool = False,
    progress: bool = False,
) -> LoadedImages:
    """The images of ``sources`` as ``model``'s training images were read."""
    loaded = load_images(sources, model.input.recipe, strict=strict, progress=progress)
    if not convert:
        check_like_training(loaded, model)
    return loaded


__all__ = ["check_like_training", "read_for_model"]
