"""Fixtures of the piad.perceptual tests: an offline, empty cache for every test, and a
random-weight torchvision VGG-19 saved as a state_dict file."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache and no PIAD_STATS_FILE, and cannot reach the network."""
    monkeypatch.setenv("PIAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PIAD_STATS_FILE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)


def _save_tv_features(path: Path, full_model_keys: bool, legacy: bool = False) -> nn.Sequential:
    """A random-weight torchvision vgg19 features[:23] saved as a state_dict file.

    ``legacy`` uses the pre-zip serialisation of torchvision's 2017 ``vgg19-dcbb9e9d.pth``.
    """
    torch.manual_seed(0)
    tv = make_layers(cfgs["E"])[:23]
    state = tv.state_dict()
    if full_model_keys:
        state = {f"features.{k}": v for k, v in state.items()}
        state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return tv


@pytest.fixture
def save_tv_features():
    """:func:`_save_tv_features`, for the test modules (conftest files cannot be imported)."""
    return _save_tv_features
