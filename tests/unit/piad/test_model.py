"""The PIAD estimator: input handling, fit/score/reconstruct/sample, save/load, learning."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from piad_tiny import tiny_config
from sklearn.metrics import roc_auc_score
from torch import nn

import piad.perceptual
from piad import PIAD
from piad.errors import PIADError
from piad.losses import mse
from piad.model import prepare_images
from piad.perceptual import PerceptualFeatures, to_three_channels

WIDE32 = {"gen_channels": (4,) * 4, "enc_channels": (4,) * 4, "dx_channels": (4,) * 4}  # 32 px


def tiny_features(seed: int = 0, filters: int = 8) -> PerceptualFeatures:
    """A fixed random conv net standing in for VGG-19."""
    torch.manual_seed(seed)
    body = nn.Sequential(
        nn.Conv2d(3, filters, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(filters, filters, 3, 2, 1),
        nn.ReLU(),
    )
    mu, sigma = torch.zeros(1, filters, 1, 1), torch.ones(1, filters, 1, 1)
    return PerceptualFeatures(body, to_three_channels, mu, sigma, {"weights": "tiny-random"})


def stripes(n: int, vertical: bool, seed: int, size: int = 16) -> np.ndarray:
    """uint8 (n, size, size) sinusoidal stripes of random period and phase, plus noise."""
    rng = np.random.default_rng(seed)
    coords = np.arange(size)
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):
        period, phase = rng.integers(4, 8), rng.uniform(0, 2 * np.pi)
        img = np.tile((0.5 + 0.5 * np.sin(2 * np.pi * coords / period + phase))[:, None], (1, size))
        img = img.T if vertical else img
        out[i] = (np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1) * 255).astype(np.uint8)
    return out


@pytest.fixture
def no_vgg(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the VGG-19 must not be loaded for the MSE distance")

    monkeypatch.setattr(piad.perceptual, "load_perceptual", refuse)


@pytest.fixture(scope="module")
def fitted() -> PIAD:
    return PIAD(tiny_config()).fit(stripes(16, False, 0, size=8), progress=False)


# ------------------------------------------------------------------------------ inputs
def test_prepare_uint8_nhw_and_resize() -> None:
    cfg = tiny_config(image_size=32, in_channels=1, **WIDE32)
    x = prepare_images(np.full((3, 28, 28), 200, np.uint8), cfg)
    assert x.shape == (3, 1, 32, 32) and x.dtype == torch.uint8
    assert int(x.min()) == int(x.max()) == 200  # a constant image stays constant
    rgb = prepare_images(np.zeros((2, 32, 32, 3), np.uint8), cfg.replace(in_channels=3))
    assert rgb.shape == (2, 3, 32, 32)


def test_prepare_float_tensor_passes_through() -> None:
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.equal(prepare_images(x, tiny_config(image_size=32, in_channels=1, **WIDE32)), x)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 32, 32, 3), np.uint8), "3 channel"),
        (np.zeros((2, 32, 32), np.float32), "must be uint8"),
        (torch.full((2, 1, 32, 32), 3.0), r"lie in \[-1, 1\]"),
        (torch.zeros(2, 32, 32), r"\(N, 1\|3, H, W\)"),
        ([1, 2, 3], "numpy uint8 array"),
        (np.zeros((0, 32, 32), np.uint8), "no images"),
    ],
)
def test_bad_inputs_have_clear_errors(images, message) -> None:
    with pytest.raises(PIADError, match=message):
        prepare_images(images, tiny_config(image_size=32, in_channels=1, **WIDE32))


def test_score_before_fit_is_refused() -> None:
    with pytest.raises(PIADError, match="not trained"):
        PIAD(tiny_config()).score(np.zeros((2, 8, 8), np.uint8))


# ------------------------------------------------------------------------------ API
def test_mse_model_never_loads_vgg(no_vgg) -> None:
    model = PIAD(tiny_config()).fit(stripes(16, False, 0, size=8), progress=False)
    assert model.score(stripes(5, True, 1, size=8)).shape == (5,)
    assert model.provenance()["perceptual"] is None


def test_score_is_distance_to_reconstruction(fitted: PIAD) -> None:
    images = stripes(7, True, 3, size=8)
    scores = fitted.score(images, batch_size=3)  # batched: 3 + 3 + 1
    x = torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)
    expected = mse(x, fitted.reconstruct(images)).double().numpy()  # eq. 1: A(x) = d(x, G(E(x)))
    assert scores.shape == (7,) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert np.all(scores > 0)


def test_bf16_scores_are_close_not_equal_and_bad_mode_is_named(fitted: PIAD) -> None:
    images = stripes(7, True, 3, size=8)
    ref, low = fitted.score(images), fitted.score(images, autocast="bf16")
    assert not np.array_equal(ref, low)  # bf16 really ran
    np.testing.assert_allclose(low, ref, rtol=0.05)  # about 3 significant digits
    with pytest.raises(PIADError, match="unknown autocast mode 'fp8'"):
        fitted.score(images, autocast="fp8")


def test_reconstruct_and_sample_shapes_and_seed(fitted: PIAD) -> None:
    assert fitted.reconstruct(stripes(3, False, 4, size=8)).shape == (3, 1, 8, 8)
    a, b, c = fitted.sample(5, seed=1), fitted.sample(5, seed=1), fitted.sample(5, seed=2)
    assert a.shape == (5, 1, 8, 8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_save_load_round_trip(fitted: PIAD, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "model.pt")
    loaded = PIAD.load(path)
    images = stripes(6, True, 5, size=8)
    np.testing.assert_array_equal(loaded.score(images), fitted.score(images))
    assert loaded.config == fitted.config
    assert loaded.iterations_run == 4
    prov = loaded.provenance()
    assert prov["iterations"] == 4 and prov["torch"] == torch.__version__
    assert prov["config"]["reconstruction"] == "mse"
    blob = torch.load(path, weights_only=True)  # plain, safe-loadable content
    assert blob["format"] == "piad-model/1"


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(PIADError, match="no model file"):
        PIAD.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(PIADError, match="cannot read model file"):
        PIAD.load(tmp_path / "junk.pt")


def test_perceptual_provenance_recorded(tmp_path: Path) -> None:
    cfg = tiny_config(reconstruction="rel_perc_l1")
    model = PIAD(cfg, features=tiny_features()).fit(stripes(16, False, 0, size=8), progress=False)
    prov = model.provenance()
    assert prov["perceptual"] == {"weights": "tiny-random"}
    assert prov["reconstruction"] == prov["score_distance"] == "rel_perc_l1"
    model.save(tmp_path / "m.pt")
    assert PIAD.load(tmp_path / "m.pt").provenance()["perceptual"] == {"weights": "tiny-random"}


def test_from_checkpoint_rebuilds_the_model_of_a_training_run(tmp_path: Path) -> None:
    images = stripes(16, False, 0, size=8)
    model = PIAD(tiny_config(iterations=4)).fit(images, workdir=tmp_path / "w", progress=False)
    test = stripes(6, True, 1, size=8)
    for source in (tmp_path / "w", tmp_path / "w" / "checkpoint.pt"):
        again = PIAD.from_checkpoint(source, device="cpu")
        assert again.fitted and again.iterations_run == 4
        np.testing.assert_allclose(again.score(test), model.score(test), rtol=1e-6)
    via_load = PIAD.load(tmp_path / "w" / "checkpoint.pt")  # load reads checkpoints too
    np.testing.assert_allclose(via_load.score(test), model.score(test), rtol=1e-6)
    with pytest.raises(PIADError, match=r"no training checkpoint at .*checkpoint\.pt"):
        PIAD.from_checkpoint(tmp_path / "empty")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(PIADError, match="neither a PIAD model"):
        PIAD.load(tmp_path / "other.pt")


def test_fit_resumes_from_workdir(tmp_path: Path) -> None:
    images = stripes(16, False, 0, size=8)
    first = PIAD(tiny_config(iterations=4)).fit(images, workdir=tmp_path, progress=False)
    assert first.iterations_run == 4
    longer = PIAD(tiny_config(iterations=6)).fit(images, workdir=tmp_path, progress=False)
    straight = PIAD(tiny_config(iterations=6)).fit(images, progress=False)
    assert longer.iterations_run == 6
    for p, q in zip(longer.networks.parameters(), straight.networks.parameters()):
        assert torch.equal(p, q)


# ------------------------------------------------------------------------------ learning
@pytest.mark.slow
def test_learns_stripes_and_flags_the_other_orientation() -> None:
    """Horizontal stripes are normal; vertical stripes must score higher (ROC AUC > 0.9)."""
    cfg = tiny_config(
        image_size=16,
        in_channels=1,
        latent_dim=8,
        gen_channels=(8, 8, 8),
        enc_channels=(8, 8, 8),
        dx_channels=(8, 8, 8),
        dz_hidden=(32, 32),
        batch_size=32,
        n_weight=100,
        iterations=500,
        reconstruction="rel_perc_l1",  # the paper's distance, on a tiny fixed feature network
        seed=0,
    )
    start = time.perf_counter()
    model = PIAD(cfg, features=tiny_features(filters=16)).fit(
        stripes(256, False, 0), progress=False
    )
    normal, anomalous = model.score(stripes(100, False, 1)), model.score(stripes(100, True, 2))
    auc = roc_auc_score(np.r_[np.zeros(100), np.ones(100)], np.r_[normal, anomalous])
    assert auc > 0.9, f"ROC AUC {auc:.3f}"
    assert time.perf_counter() - start < 300


def test_bf16_autocast_is_opt_in_and_changes_only_numerics() -> None:
    images = stripes(16, False, 0, size=8)
    fp32 = PIAD(tiny_config(in_channels=1, seed=3)).fit(images, progress=False)
    bf16 = PIAD(tiny_config(in_channels=1, seed=3)).fit(images, progress=False, autocast="bf16")
    a, b = fp32.score(images), bf16.score(images)
    assert np.isfinite(b).all() and not np.array_equal(a, b)
    with pytest.raises(PIADError, match="unknown autocast mode 'fp8'"):
        PIAD(tiny_config(in_channels=1)).fit(images, progress=False, autocast="fp8")
