"""Which PIAD configuration and image recipe ``piad fit`` uses: a preset or a JSON file,
adapted to ``--size`` and to the images' channel count.

>>> cfg = config_for_size(PIADConfig.preset("cifar10"), 64)
>>> cfg.gen_channels, cfg.enc_channels
((256, 256, 128, 64, 64), (64, 64, 64, 128, 256))
>>> recipe_for(PIADConfig.preset("celeba"), 1)
ImageRecipe(size=64, channels=1, crop='celeba')
"""

from __future__ import annotations

import json
from pathlib import Path

from piad.config import FAMILIES, PIADConfig
from piad.errors import PIADError, one_line
from piad.image_files import ImageRecipe

#: presets used when ``--preset`` is not given, by the images' channel count (both 32 px)
DEFAULT_PRESETS = {1: "mnist", 3: "cifar10"}


def read_config(preset: str, variant: str = "code") -> PIADConfig:
    """A preset family name, or a JSON file of :class:`PIADConfig` fields.

    In a JSON file, a ``"family"`` that names a preset starts from that preset (in ``variant``)
    and the other fields change it; otherwise the fields change the defaults.
    """
    if preset in FAMILIES:
        return PIADConfig.preset(preset, variant)
    path = Path(preset)
    if not preset.endswith(".json") and not path.is_file():
        raise PIADError(
            f"unknown preset {preset!r}; known: {', '.join(FAMILIES)}, or a .json file of "
            "PIADConfig fields"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PIADError(
            f"cannot read the config file {path}: {one_line(e)}; give a JSON object "
            "of PIADConfig fields"
        ) from e
    if not isinstance(data, dict):
        raise PIADError(f"{path} must hold a JSON object of PIADConfig fields")
    family = data.get("family")
    if family in FAMILIES:
        rest = {k: v for k, v in data.items() if k not in ("family", "variant")}
        return PIADConfig.preset(family, data.get("variant", variant), **rest)
    return PIADConfig.from_dict(data)


def _resized_widths(widths: tuple[int, ...], n: int, high_res_last: bool) -> tuple[int, ...]:
    """Widths for ``n`` resolutions: the highest-resolution width repeated or dropped."""
    if len(widths) == n:
        return widths
    if high_res_last:  # G: from 4x4 up to the image size
        return (widths + (widths[-1],) * n)[:n]
    return (((widths[0],) * n) + widths)[-n:]  # E, D_X: from the image size down to 4x4


def config_for_size(config: PIADConfig, size: int | None) -> PIADConfig:
    """``config`` at another image size: one block per resolution more or less (supplement
    Tables 1-4 add one BlockUp/BlockDown per doubling), the new ones as wide as the old
    highest-resolution ones."""
    if size is None or size == config.image_size:
        return config
    if size < 8 or size & (size - 1):
        raise PIADError(
            f"--size must be a power of two >= 8 for PIAD (8, 16, 32, 64, ...), got {size}"
        )
    n = size.bit_length() - 2  # log2(size / 4) + 1 resolutions, 4x4 to size x size
    return config.replace(
        image_size=size,
        gen_channels=_resized_widths(config.gen_channels, n, high_res_last=True),
        enc_channels=_resized_widths(config.enc_channels, n, high_res_last=False),
        dx_channels=_resized_widths(config.dx_channels, n, high_res_last=False),
    )


def recipe_for(config: PIADConfig, channels: int | None) -> ImageRecipe:
    """How images are cropped and resized for ``config``: CelebA's crop for its family."""
    crop = "celeba" if config.family == "celeba" else "square"
    return ImageRecipe(config.image_size, channels, crop)


__all__ = ["DEFAULT_PRESETS", "config_for_size", "read_config", "recipe_for"]
