"""PIADConfig: presets per family, fidelity variants, (de)serialisation, validation."""

from __future__ import annotations

import json

import pytest

from piad.config import (
    FAMILIES,
    FIDELITY,
    LEGACY_DEFAULTS,
    NOT_IN_PAPER,
    PIADConfig,
    fidelity_rows,
)
from piad.errors import PIADError


def test_defaults_are_the_mnist_code_preset() -> None:
    assert PIADConfig() == PIADConfig.preset("mnist")


def test_shared_training_settings() -> None:
    # supplement sec. 1 and the facts note
    for family in FAMILIES:
        c = PIADConfig.preset(family)
        assert (c.batch_size, c.lr_d, c.betas, c.weight_decay) == (32, 5e-4, (0.5, 0.99), 1e-8)
        assert (c.gp_weight, c.drift, c.n_weight) == (10.0, 1e-3, 100)
        assert (c.history, c.alpha) == (200, 0.05)
        assert (c.reconstruction, c.score_distance_name, c.weights) == (
            "rel_perc_l1",
            "rel_perc_l1",
            "gradnorm",
        )


@pytest.mark.parametrize(
    ("family", "size", "channels", "latent", "n_dis", "iters"),
    [
        ("mnist", 32, 1, (32, 1, 1), 2, 50_000),
        ("fmnist", 32, 1, (32, 1, 1), 2, 50_000),
        ("coil100", 32, 3, (32, 1, 1), 2, 20_000),
        ("cifar10", 32, 3, (256, 1, 1), 2, 100_000),
        ("celeba", 64, 3, (64, 1, 1), 3, 200_000),
        ("lsun", 64, 3, (32, 4, 4), 3, 300_000),
    ],
)
def test_family_presets(family, size, channels, latent, n_dis, iters) -> None:
    c = PIADConfig.preset(family)
    assert (c.image_size, c.in_channels, c.latent_shape, c.n_dis, c.iterations) == (
        size,
        channels,
        latent,
        n_dis,
        iters,
    )


def test_code_and_paper_variants_differ_exactly_as_fidelity_says() -> None:
    for family in FAMILIES:
        code = PIADConfig.preset(family, "code")
        paper = PIADConfig.preset(family, "paper")
        differing = {k for k, v in code.to_dict().items() if paper.to_dict()[k] != v}
        # where the paper is silent (paper value "n/a") both variants use the code's value
        silent = {k for k, v in FIDELITY[family].items() if v[1] == NOT_IN_PAPER}
        assert differing == (set(FIDELITY[family]) - silent) | {"variant"}
        assert (code.lr_ge, paper.lr_ge) == (1e-4, 2e-4)
        assert (code.grad_statistic, paper.grad_statistic) == ("std", "l2")
        assert (code.grad_pooling, paper.grad_pooling) == ("median", "mean")
    assert PIADConfig.preset("lsun", "paper").iterations == 200_000
    assert PIADConfig.preset("cifar10", "paper").iterations == 100_000


def test_fidelity_rows_are_printable() -> None:
    rows = fidelity_rows()
    assert {"family", "field", "code", "paper", "why"} == set(rows[0])
    assert any(r["family"] == "lsun" and r["field"] == "iterations" for r in rows)
    assert all(r["why"] for r in rows)


def test_round_trip_through_json() -> None:
    c = PIADConfig.preset("lsun", "paper").replace(seed=7, score_distance="mse")
    assert PIADConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(PIADError, match="unknown family 'mnsit'; known: celeba, cifar10"):
        PIADConfig.preset("mnsit")
    with pytest.raises(PIADError, match="unknown variant 'papers'; known: code, paper"):
        PIADConfig.preset("mnist", "papers")
    with pytest.raises(PIADError, match="unknown PIADConfig field 'lr'; known: alpha"):
        PIADConfig().replace(lr=1.0)
    with pytest.raises(PIADError, match="unknown PIADConfig field"):
        PIADConfig.from_dict({"bogus": 1})
    with pytest.raises(PIADError, match="unknown reconstruction distance 'l2'"):
        PIADConfig(reconstruction="l2")
    with pytest.raises(PIADError, match="unknown weights 'auto'"):
        PIADConfig(weights="auto")


def test_invalid_values_raise() -> None:
    with pytest.raises(PIADError, match="power of two"):
        PIADConfig(image_size=48)
    with pytest.raises(PIADError, match="in_channels"):
        PIADConfig(in_channels=2)
    with pytest.raises(PIADError, match="batch_size"):
        PIADConfig(batch_size=0)
    with pytest.raises(PIADError, match="latent_size"):
        PIADConfig(latent_size=2)


def test_needs_perceptual() -> None:
    assert PIADConfig().needs_perceptual
    assert not PIADConfig(reconstruction="mse").needs_perceptual
    assert PIADConfig(reconstruction="mse", score_distance="perc").needs_perceptual


def test_preset_with_changes() -> None:
    c = PIADConfig.preset("cifar10", weights="fixed", reconstruction="mse")
    assert (c.weights, c.reconstruction, c.gamma_g, c.gamma_e) == ("fixed", "mse", 100.0, 10.0)


def test_fidelity_table_lists_each_paper_vs_code_difference():
    from piad.config import fidelity_markdown

    table = fidelity_markdown()
    assert "| iterations     | lsun " in table and "300000" in table and "200000" in table
    # header rule + lr_ge, statistic, pooling, data order (paper: n/a), LSUN iterations
    assert table.count("\n") == 1 + 5
    assert "| data_order     |" in table and "| n/a " in table


def test_config_field_fidelity_row_and_saved_configs() -> None:
    assert PIADConfig().data_order == "code"
    for family in FIDELITY:  # the paper is silent: both variants use the code's order
        assert FIDELITY[family]["data_order"][:2] == ("code", NOT_IN_PAPER)
        assert PIADConfig.preset(family, "paper").data_order == "code"
    assert PIADConfig.preset("mnist", data_order="permutations").data_order == "permutations"
    with pytest.raises(PIADError, match="unknown data_order 'shuffle'"):
        PIADConfig(data_order="shuffle")
    saved = PIADConfig.preset("mnist").to_dict()
    del saved["data_order"]  # a checkpoint written before the field existed
    assert LEGACY_DEFAULTS["data_order"] == "permutations"
    assert PIADConfig.from_saved(saved).data_order == "permutations"
    assert PIADConfig.from_dict(saved).data_order == "code"  # a new partial config: the default
    full = PIADConfig.preset("mnist").to_dict()
    assert PIADConfig.from_saved(full) == PIADConfig.preset("mnist")


def test_inconsistent_widths_raise() -> None:
    with pytest.raises(PIADError, match="gen_channels needs 4"):
        PIADConfig.preset("mnist").replace(gen_channels=(32, 32))
