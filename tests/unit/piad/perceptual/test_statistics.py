"""piad.perceptual.statistics: the authors' statistics file (environment, cache, download,
sha256 check, one-line errors offline), reading and saving a statistics file, streaming
statistics equal to numpy over arrays and folders, the divisor floor, and the sample photos."""

from __future__ import annotations

import io
import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from paths import SHARED_DATA
from torch import nn

import piad.perceptual as P
from piad.errors import MissingInputError, PIADError
from piad.image_files import find_images
from piad.io import sha256_file
from piad.perceptual import (
    AUTHORS_STATS_FILE,
    PerceptualFeatures,
    fetch_authors_stats,
    load_stats_file,
)
from piad.perceptual.statistics import (
    RunningStats,
    compute_feature_stats,
    safe_divisor,
    sample_photo_crops,
    sample_photo_stats,
    save_stats,
)

SHARED_STATS = SHARED_DATA / AUTHORS_STATS_FILE
needs_shared = pytest.mark.skipif(not SHARED_STATS.is_file(), reason="../shared copy absent")


@needs_shared
def test_shared_authors_stats_load_with_weights_only():
    stats = torch.load(SHARED_STATS, map_location="cpu", weights_only=True)
    assert len(stats) == 37 and {"r42", "c11", "p5"} <= set(stats)
    mean, second = stats["r42"]
    assert mean.shape == second.shape == (1, 512, 1, 1)
    assert (second > 0).all()
    assert sha256_file(SHARED_STATS) == P.AUTHORS_STATS_SHA256
    mu, sigma = load_stats_file(SHARED_STATS)
    assert torch.equal(mu, mean) and torch.equal(sigma, second)  # divisor used as given


@needs_shared
def test_authors_stats_from_env_cache_or_download(tmp_path, monkeypatch):
    # pre-seeded cache
    cached = P.cache_dir() / AUTHORS_STATS_FILE
    cached.parent.mkdir(parents=True)
    shutil.copy(SHARED_STATS, cached)
    assert fetch_authors_stats() == cached
    # env var wins
    monkeypatch.setenv("PIAD_STATS_FILE", str(SHARED_STATS))
    assert fetch_authors_stats() == SHARED_STATS
    monkeypatch.delenv("PIAD_STATS_FILE")
    # a download (stubbed) is verified and cached atomically
    cached.unlink()
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: io.BytesIO(SHARED_STATS.read_bytes())
    )
    assert fetch_authors_stats() == cached and sha256_file(cached) == P.AUTHORS_STATS_SHA256


def test_authors_stats_offline_gives_one_clear_error():
    with pytest.raises(MissingInputError) as info:
        fetch_authors_stats()
    message = str(info.value)
    assert AUTHORS_STATS_FILE in message and "PIAD_STATS_FILE" in message
    assert str(P.cache_dir() / AUTHORS_STATS_FILE) in message and "\n" not in message


def test_wrong_file_in_cache_is_refused():
    bad = P.cache_dir() / AUTHORS_STATS_FILE
    bad.parent.mkdir(parents=True)
    torch.save({"r42": (torch.zeros(1, 512, 1, 1), torch.ones(1, 512, 1, 1))}, bad)
    with pytest.raises(PIADError, match="sha256"):
        fetch_authors_stats()


def fixed_features() -> PerceptualFeatures:
    """A fixed 1x1 conv 3 -> 2 channels on the ImageNet-normalised input (weights seeded)."""
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 2, kernel_size=1)
    ones, zeros = torch.ones(1, 2, 1, 1), torch.zeros(1, 2, 1, 1)
    return PerceptualFeatures(conv, P.ImageNetInput(), zeros, ones, {"weights": "test"})


def test_running_stats_match_numpy_over_batches_even_with_a_large_offset():
    rng = np.random.default_rng(0)
    data = 1e4 + rng.normal(size=(13, 3, 4, 5)) * np.array([1, 0.01, 5]).reshape(1, 3, 1, 1)
    rs = RunningStats()
    for s in (slice(0, 1), slice(1, 7), slice(7, 13)):
        rs.update(torch.from_numpy(data[s]).float())
    ref = data.astype(np.float32).astype(np.float64)  # what the float32 batches hold
    assert rs.count == 13 * 4 * 5
    assert np.allclose(rs.mean.numpy(), ref.mean(axis=(0, 2, 3)), rtol=0, atol=1e-9)
    assert np.allclose(rs.std.numpy(), ref.std(axis=(0, 2, 3)), rtol=1e-6)


def test_folder_stats_equal_numpy_over_the_same_features(tmp_path, write_mixed_folder):
    arrays = write_mixed_folder(tmp_path / "imgs")
    assert len(find_images(tmp_path / "imgs")) == 5
    f = fixed_features()
    mean, std = compute_feature_stats(f, tmp_path / "imgs", size=8, batch_size=2, progress=False)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1
    feats = f(x).double().numpy()
    assert mean.shape == std.shape == (1, 2, 1, 1)
    assert np.allclose(mean.flatten().numpy(), feats.mean(axis=(0, 2, 3)), atol=1e-5)
    assert np.allclose(std.flatten().numpy(), feats.std(axis=(0, 2, 3)), atol=1e-5)


def test_max_images_takes_a_seeded_subset():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)

    def run(seed: int) -> torch.Tensor:
        return compute_feature_stats(
            lambda x: x, images, size=None, max_images=3, seed=seed, progress=False
        )[0]

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    idx = np.sort(np.random.default_rng(0).choice(10, size=3, replace=False))
    expected = (images[idx].astype(np.float64) / 127.5 - 1).mean(axis=(0, 1, 2))
    assert np.allclose(run(0).flatten().numpy(), expected, atol=1e-6)


def test_saved_stats_have_the_authors_format(tmp_path):
    mean, std = torch.arange(4.0), torch.arange(4.0) + 1
    path = save_stats(tmp_path / "s.pt", mean, std, layer="r42", meta={"images": "x"})
    obj = torch.load(path, weights_only=True)
    assert list(obj) == ["r42"] and isinstance(obj["r42"], tuple)
    assert obj["r42"][0].shape == obj["r42"][1].shape == (1, 4, 1, 1)
    mu, sigma = load_stats_file(path)
    assert torch.equal(mu.flatten(), mean) and torch.equal(sigma.flatten(), std)
    assert json.loads(Path(f"{path}.json").read_text()) == {"images": "x"}


def test_safe_divisor_floors_silent_filters_only():
    std, floored = safe_divisor(torch.tensor([0.0, 2.0, 4.0, 6.0]))
    # torch's median of an even count is the lower middle value (2.0): floor 2e-3
    assert floored == 1 and std.tolist() == pytest.approx([2e-3, 2.0, 4.0, 6.0])


def test_sample_photo_crops_are_seeded_real_photos():
    a, b = sample_photo_crops(6, 16, seed=0), sample_photo_crops(6, 16, seed=1)
    assert a.shape == (6, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, sample_photo_crops(6, 16, seed=0)) and not np.array_equal(a, b)
    assert a.std() > 20  # photos, not a flat fill


def test_sample_photo_stats_are_cached(tmp_path):
    f = fixed_features()
    path, description = sample_photo_stats(f, n=8, size=16)
    assert "NOT ImageNet" in description and path.parent == P.cache_dir() / "stats"
    stamp = path.stat().st_mtime_ns
    assert sample_photo_stats(f, n=8, size=16)[0] == path and path.stat().st_mtime_ns == stamp
    mean, std = load_stats_file(path)
    ref_mean, ref_std = compute_feature_stats(
        f, sample_photo_crops(8, 16), size=None, progress=False
    )
    assert torch.allclose(mean, ref_mean) and torch.allclose(std, ref_std)
