"""benchmarks.validation.weight_map: layer pairing, checks, copies and differences."""

from __future__ import annotations

import pytest
import torch
from peer_checkout import PEER, needs_peer, their_networks
from torch import nn

from benchmarks.validation.weight_map import (
    NETWORKS,
    copy_networks,
    copy_ours_to_peer,
    copy_peer_to_ours,
    layer_pairs,
    weight_differences,
    weight_layers,
    worst_tensors,
)
from piad.errors import PIADError


def ours_net() -> nn.Module:
    """A conv, a ReLU, a 2-channel conv, a flatten and a dense layer (8 -> 3)."""
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(2, 2, 3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )


class Theirs(nn.Module):
    """The same layers as :func:`ours_net`, nested differently, the dense layer a 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
        self.b = nn.Sequential(nn.Sequential(nn.Conv2d(2, 2, 3, stride=2, padding=1)))
        self.head = nn.Conv2d(8, 3, 1)


def fill(net: nn.Module, start: float) -> nn.Module:
    """Parameters set to start, start + 1, ... (every tensor of ``net`` distinct)."""
    with torch.no_grad():
        for i, p in enumerate(net.parameters()):
            p.fill_(start + i)
    return net


def four(make) -> dict[str, nn.Module]:  # type: ignore[no-untyped-def]
    return {k: make() for k in NETWORKS}


def test_networks_are_the_four_of_piad() -> None:
    assert NETWORKS == ("E", "G", "DX", "DZ")


def test_weight_layers_are_conv_and_linear_in_module_order() -> None:
    names = [n for n, _ in weight_layers(ours_net())]
    assert names == ["0", "2", "4"]
    assert [n for n, _ in weight_layers(Theirs())] == ["a.0", "b.0.0", "head"]


def test_pairs_match_positionally_and_a_linear_pairs_with_a_1x1_conv() -> None:
    pairs = layer_pairs(ours_net(), Theirs())
    assert [(na, nb) for na, _, nb, _ in pairs] == [("0", "a.0"), ("2", "b.0.0"), ("4", "head")]
    assert isinstance(pairs[2][1], nn.Linear) and isinstance(pairs[2][3], nn.Conv2d)


def test_a_different_layer_count_is_refused() -> None:
    shorter = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(PIADError, match="our network has 3 weight layers, theirs 1"):
        layer_pairs(ours_net(), shorter)


@pytest.mark.parametrize(
    ("theirs", "signature"),
    [
        (nn.Conv2d(1, 3, 3, padding=1), r"\(1, 3, \(3, 3\), \(1, 1\), \(1, 1\)\)"),  # channels
        (nn.Conv2d(1, 2, 5, padding=1), r"\(1, 2, \(5, 5\), \(1, 1\), \(1, 1\)\)"),  # kernel
        (nn.Conv2d(1, 2, 3, stride=2, padding=1), r"\(1, 2, \(3, 3\), \(2, 2\), \(1, 1\)\)"),
        (nn.Conv2d(1, 2, 3, padding=0), r"\(1, 2, \(3, 3\), \(1, 1\), \(0, 0\)\)"),  # padding
        (nn.Conv2d(1, 2, 3, padding=1, bias=False), r"\(1, 2, \(3, 3\), \(1, 1\), \(1, 1\)\)"),
    ],
)
def test_a_layer_that_differs_is_named_with_both_signatures(theirs: nn.Module, signature) -> None:  # type: ignore[no-untyped-def]
    ours = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(PIADError, match=rf"layer 0 \(1, 2, .* does not match their 0 {signature}"):
        layer_pairs(ours, nn.Sequential(theirs))


def test_a_dense_layer_differing_in_width_is_refused() -> None:
    with pytest.raises(PIADError, match=r"layer 0 \(8, 3, \(1, 1\), \(1, 1\), \(0, 0\)\)"):
        layer_pairs(nn.Sequential(nn.Linear(8, 3)), nn.Sequential(nn.Conv2d(8, 4, 1)))


def test_string_padding_is_compared_as_padding() -> None:
    with pytest.raises(PIADError, match="does not match"):
        layer_pairs(
            nn.Sequential(nn.Conv2d(2, 2, 3, padding="same")),
            nn.Sequential(nn.Conv2d(2, 2, 3, padding=0)),
        )


def test_copy_ours_to_peer_copies_every_tensor_in_place() -> None:
    ours, theirs = four(lambda: fill(ours_net(), 1.0)), four(lambda: fill(Theirs(), 100.0))
    kept = {k: [p for p in v.parameters()] for k, v in theirs.items()}
    copy_ours_to_peer(ours, theirs)
    for k in NETWORKS:
        assert [p for p in theirs[k].parameters()] == kept[k]  # the same Parameter objects
        for na, ma, _nb, mb in layer_pairs(ours[k], theirs[k]):
            assert torch.equal(mb.weight.reshape(ma.weight.shape), ma.weight), na
            assert torch.equal(mb.bias, ma.bias), na
    assert theirs["DZ"].head.weight.shape == (3, 8, 1, 1)  # their layout is kept
    assert (
        float(theirs["E"].head.weight.detach()[2, 7, 0, 0]) == 5.0
    )  # our 5th tensor, Linear.weight


def test_copy_peer_to_ours_leaves_theirs_as_it_was() -> None:
    ours, theirs = four(lambda: fill(ours_net(), 1.0)), four(lambda: fill(Theirs(), 100.0))
    copy_peer_to_ours(theirs, ours)
    assert all(
        float(p.detach().flatten()[0]) == 100.0 + i for i, p in enumerate(theirs["G"].parameters())
    )
    assert [float(p.detach().flatten()[0]) for p in ours["G"].parameters()] == [
        100.0 + i for i in range(6)
    ]
    assert ours["G"][4].weight.shape == (3, 8)


def test_copy_casts_to_the_destination_dtype() -> None:
    ours = four(lambda: fill(ours_net(), 0.1).double())
    theirs = four(lambda: Theirs())
    copy_networks(ours, theirs, ours_first=True)
    assert theirs["DX"].a[0].weight.dtype == torch.float32
    assert float(theirs["DX"].a[0].weight.detach()[0, 0, 0, 0]) == pytest.approx(0.1, rel=1e-7)


def test_differences_are_zero_after_a_copy_and_name_the_worst_tensor() -> None:
    ours, theirs = four(lambda: fill(ours_net(), 1.0)), four(Theirs)
    copy_ours_to_peer(ours, theirs)
    assert weight_differences(ours, theirs) == dict.fromkeys(NETWORKS, 0.0)
    assert worst_tensors(ours, theirs) == dict.fromkeys(NETWORKS, (0.0, ""))
    with torch.no_grad():
        theirs["DX"].b[0][0].bias[1] = 4.0  # ours: 4.0 everywhere in "2.bias" -> rel 0
        theirs["DX"].b[0][0].bias[0] = 6.0  # |4 - 6| / max(4, 6) = 1/3
        theirs["DZ"].head.weight[0, 0, 0, 0] = 4.0  # ours 5.0: 1/5
        theirs["DZ"].a[0].weight[0, 0, 0, 0] = -1.0  # ours 1.0: |1 - -1| / 1 = 2
    worst = worst_tensors(ours, theirs)
    assert worst["DX"] == (pytest.approx(1 / 3), "2.bias")
    assert worst["DZ"] == (pytest.approx(2.0), "0.weight")
    assert worst["E"] == worst["G"] == (0.0, "")
    assert weight_differences(ours, theirs) == {
        "E": 0.0,
        "G": 0.0,
        "DX": pytest.approx(1 / 3),
        "DZ": pytest.approx(2.0),
    }


def test_relative_difference_is_scaled_by_the_larger_tensor() -> None:
    ours, theirs = four(lambda: fill(ours_net(), 0.0)), four(Theirs)
    for net in (*ours.values(), *theirs.values()):
        for p in net.parameters():
            p.detach().zero_()
    assert weight_differences(ours, theirs) == dict.fromkeys(NETWORKS, 0.0)  # 0 / 0 is 0
    with torch.no_grad():
        theirs["E"].a[0].weight[1, 0, 2, 2] = 1e-3  # ours 0: 1e-3 / max(0, 1e-3)
        theirs["G"].a[0].weight[1, 0, 2, 2] = 1e-3
        ours["G"][0].weight[0, 0, 0, 0] = 4e-3  # equal there, 1e-3 apart elsewhere:
        theirs["G"].a[0].weight[0, 0, 0, 0] = 4e-3  # 1e-3 / max(4e-3, 4e-3)
    assert weight_differences(ours, theirs) == {
        "E": pytest.approx(1.0),
        "G": pytest.approx(0.25),
        "DX": 0.0,
        "DZ": 0.0,
    }


@pytest.fixture(scope="module")
def mnist_pairs():  # type: ignore[no-untyped-def]
    from benchmarks.validation.peer import load_peer
    from piad.config import PIADConfig
    from piad.networks import build_networks

    cfg = PIADConfig.preset("mnist")
    nets = build_networks(cfg, seed=0)
    ours = {k: getattr(nets, k) for k in NETWORKS}
    theirs = their_networks(load_peer(PEER), cfg)
    return ours, theirs, {k: layer_pairs(ours[k], theirs[k]) for k in NETWORKS}


@needs_peer
@pytest.mark.parametrize(
    ("net", "index", "our_name", "their_name"),
    [
        ("E", 0, "stem", "model.0.model.0"),
        ("E", 8, "out", "model.6.model.0"),
        ("G", 1, "blocks.0.conv1", "model.1.model.2.model.0"),
        ("G", 7, "tail.conv1", "model.4.model.1.model.0"),
        ("DX", 7, "body", "model.6.model.0"),
        ("DZ", 2, "mlp.4", "model.2.model.0"),
    ],
)
def test_known_pairs_of_the_mnist_preset(mnist_pairs, net, index, our_name, their_name) -> None:  # type: ignore[no-untyped-def]
    _, _, pairs = mnist_pairs
    na, _, nb, _ = pairs[net][index]
    assert (na, nb) == (our_name, their_name)


@needs_peer
def test_mnist_layer_counts(mnist_pairs) -> None:  # type: ignore[no-untyped-def]
    _, _, pairs = mnist_pairs
    # E, D_X: stem + 3 blocks x 2 convs + body + head; G: stem + 4 x 2 + out; D_Z: 3 dense
    assert {k: len(v) for k, v in pairs.items()} == {"E": 9, "G": 10, "DX": 9, "DZ": 3}


@needs_peer
@pytest.mark.parametrize("net", NETWORKS)
def test_every_parameter_is_mapped_once_with_the_same_size(mnist_pairs, net: str) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, pairs = mnist_pairs
    mine = {id(p): n for n, p in ours[net].named_parameters()}
    other = {id(p): n for n, p in theirs[net].named_parameters()}
    seen_a: list[int] = []
    seen_b: list[int] = []
    for na, ma, nb, mb in pairs[net]:
        for param in ("weight", "bias"):
            a, b = getattr(ma, param), getattr(mb, param)
            seen_a.append(id(a))
            seen_b.append(id(b))
            dense = isinstance(ma, nn.Linear) and param == "weight"
            assert b.shape == ((*a.shape, 1, 1) if dense else a.shape), (na, nb)
    assert sorted(seen_a) == sorted(mine) and len(set(seen_a)) == len(seen_a)
    assert sorted(seen_b) == sorted(other) and len(set(seen_b)) == len(seen_b)
