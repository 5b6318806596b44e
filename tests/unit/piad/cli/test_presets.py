"""piad.cli.presets: the PIAD config of ``piad fit`` (a preset or a JSON file) at another
``--size``, and the image recipe for a config."""

from __future__ import annotations

import json

import pytest

from piad.cli.presets import DEFAULT_PRESETS, config_for_size, read_config, recipe_for
from piad.config import PIADConfig
from piad.errors import PIADError
from piad.image_files import ImageRecipe


def test_presets_sizes_and_recipes(tmp_path):
    cfg = config_for_size(PIADConfig.preset("mnist"), 64)
    assert cfg.image_size == 64 and cfg.gen_channels == (32,) * 5
    small = config_for_size(PIADConfig.preset("cifar10"), 16)
    assert small.gen_channels == (256, 256, 128) and small.enc_channels == (64, 128, 256)
    assert recipe_for(PIADConfig.preset("celeba"), None).crop == "celeba"
    assert recipe_for(PIADConfig.preset("lsun"), 3) == ImageRecipe(64, 3, "square")
    (tmp_path / "c.json").write_text(json.dumps({"family": "celeba", "iterations": 7}))
    from_file = read_config(str(tmp_path / "c.json"))
    assert from_file.family == "celeba" and from_file.iterations == 7
    assert from_file.latent_dim == PIADConfig.preset("celeba").latent_dim
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(PIADError, match="JSON object"):
        read_config(str(tmp_path / "bad.json"))


def test_a_preset_name_is_the_preset_in_the_asked_variant():
    assert read_config("cifar10") == PIADConfig.preset("cifar10", "code")
    assert read_config("mnist", "paper") == PIADConfig.preset("mnist", "paper")
    assert DEFAULT_PRESETS == {1: "mnist", 3: "cifar10"}


def test_a_json_file_with_or_without_a_family(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"family": "mnist", "variant": "paper", "batch_size": 16}))
    assert read_config(str(path)) == PIADConfig.preset("mnist", "paper", batch_size=16)
    fields = {**PIADConfig().to_dict(), "family": "custom", "latent_dim": 7}
    path.write_text(json.dumps(fields))
    assert read_config(str(path)) == PIADConfig.from_dict(fields)
    assert read_config(str(path)).latent_dim == 7


def test_unknown_presets_and_unreadable_files_are_one_line(tmp_path):
    with pytest.raises(PIADError, match=r"unknown preset 'imagenet'; known: mnist, .*\.json file"):
        read_config("imagenet")
    with pytest.raises(PIADError, match=r"cannot read the config file .*missing\.json"):
        read_config(str(tmp_path / "missing.json"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(PIADError, match=r"broken\.json: JSONDecodeError") as info:
        read_config(str(tmp_path / "broken.json"))
    assert "\n" not in str(info.value)


def test_config_for_size_adds_or_drops_one_block_per_doubling():
    mnist = PIADConfig.preset("mnist")  # 32 px: 4 resolutions, 4x4 .. 32x32
    assert config_for_size(mnist, None) is mnist and config_for_size(mnist, 32) is mnist
    small = config_for_size(mnist, 8)  # 2 resolutions: 4x4 and 8x8
    assert small.image_size == 8 and len(small.gen_channels) == 2
    big = config_for_size(PIADConfig.preset("cifar10"), 128)  # 6 resolutions
    cifar = PIADConfig.preset("cifar10")
    # G runs from 4x4 up: the new 128 px block repeats G's last (highest-resolution) width;
    # E and D_X run from the image size down: the new block repeats their first width
    assert big.gen_channels == (*cifar.gen_channels, cifar.gen_channels[-1], cifar.gen_channels[-1])
    assert big.enc_channels == (cifar.enc_channels[0],) * 2 + cifar.enc_channels
    assert big.dx_channels == (cifar.dx_channels[0],) * 2 + cifar.dx_channels
    for bad in (4, 20, 100):
        with pytest.raises(PIADError, match=f"--size must be a power of two >= 8.*got {bad}"):
            config_for_size(mnist, bad)


def test_recipe_for_crops_celeba_only():
    for family in ("mnist", "cifar10", "lsun", "celeba"):
        cfg = PIADConfig.preset(family)
        crop = "celeba" if family == "celeba" else "square"
        assert recipe_for(cfg, 1) == ImageRecipe(cfg.image_size, 1, crop)
    assert recipe_for(PIADConfig.preset("mnist"), None).channels is None
