"""benchmarks.validation.lockstep: patches, capture, per-iteration rows, helpers and the CLI."""

from __future__ import annotations

import copy
import math
import re
import types
from pathlib import Path

import pytest
import torch
from peer_checkout import PEER, needs_peer
from torch import nn

from benchmarks.validation.lockstep import (
    DEFAULT_RTOL,
    DTYPES,
    OURS_PATCHES,
    Capture,
    _check_tape_used,
    _echo,
    _Iterations,
    _peer_settings,
    _PeerDistance,
    _record_in_grad_dtype,
    _step_both,
    _summary,
    _their_widths,
    _training_images,
    apply_ours_patches,
    capturing,
    iteration_values,
    main,
    parse_args,
    preprocessing_check,
    run_lockstep,
)
from benchmarks.validation.lockstep_report import quantities
from benchmarks.validation.peer import DEFAULT_STATS, Peer
from benchmarks.validation.random_replay import Tape
from piad.config import PIADConfig
from piad.errors import PIADError
from piad.weighting import GradientNormalizingWeights

NS = types.SimpleNamespace


def test_dtypes_and_their_default_tolerances() -> None:
    assert {"float64": torch.float64, "float32": torch.float32} == DTYPES
    assert DEFAULT_RTOL == {"float64": 1e-9, "float32": 1e-4}


# ------------------------------------------------------------------------------ --ours-patch
def with_grad(grad: torch.Tensor) -> nn.Module:
    net = nn.Linear(grad.shape[1], grad.shape[0]).to(grad.dtype)
    net.weight.grad = grad.clone()
    net.bias.grad = torch.full_like(net.bias, 100.0)  # biases are not recorded
    return net


GRAD = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)


@pytest.mark.parametrize(
    ("statistic", "value"),
    [("std", math.sqrt(17.5 / 6)), ("l2", math.sqrt(91.0))],  # population std; sqrt(sum x^2)
)
def test_patched_record_stores_one_statistic_per_weight(statistic: str, value: float) -> None:
    policy = GradientNormalizingWeights(statistic=statistic)
    _record_in_grad_dtype(policy)("adv", with_grad(GRAD))
    assert policy.layers == ["weight"]
    assert policy._values["adv"][0].tolist() == [pytest.approx(value, rel=1e-15)]


def test_patched_record_keeps_float64_and_takes_others_in_float32() -> None:
    tiny = torch.tensor([[1 + 1e-12, 1 - 1e-12]], dtype=torch.float64)  # both 1.0 in float32
    policy = GradientNormalizingWeights()
    _record_in_grad_dtype(policy)("adv", with_grad(tiny))
    _record_in_grad_dtype(policy)("rec", with_grad(tiny.half()))
    assert policy._values["adv"][0][0] == pytest.approx(1e-12, rel=1e-3)
    assert policy._values["rec"][0][0] == 0.0


def test_patched_record_matches_the_current_record() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    net(torch.randn(5, 3, dtype=torch.float64)).square().sum().backward()
    a, b = GradientNormalizingWeights(), GradientNormalizingWeights()
    a.record("adv", net)
    _record_in_grad_dtype(b)("adv", net)
    assert a.layers == b.layers == ["0.weight", "2.weight"]
    assert a._values["adv"][0].tolist() == b._values["adv"][0].tolist()


class Fixed:
    """A policy without a gradient history (fixed gamma)."""

    gamma = 1.0

    def record(self, loss: str, network: nn.Module) -> None:
        raise AssertionError("not patched, never called here")


def test_apply_patches_replaces_record_of_history_policies_only() -> None:
    trainer = NS(policies={"G": GradientNormalizingWeights(), "E": Fixed()})
    apply_ours_patches(trainer, [])
    assert "record" not in vars(trainer.policies["G"])
    apply_ours_patches(trainer, OURS_PATCHES)
    assert OURS_PATCHES == ("record-dtype",)
    assert "record" in vars(trainer.policies["G"]) and "record" not in vars(trainer.policies["E"])


def test_an_unknown_patch_is_refused() -> None:
    with pytest.raises(PIADError, match="unknown --ours-patch 'fast'; known: record-dtype"):
        apply_ours_patches(NS(policies={}), ["fast"])


# ------------------------------------------------------------------------------ capture
class OurSteps:
    def _critic_step(self) -> torch.Tensor:
        return torch.tensor([1.0, 2.0])

    def _encoder_generator_step(self, t: int) -> torch.Tensor:
        return torch.tensor([3.0, 4.0, 5.0]) + t


class TheirLosses:
    def compute_image_dis_loss(self, *args: object) -> dict[str, float]:
        return {"total": 10.0 + len(args)}

    def compute_latent_dis_loss(self, *args: object) -> dict[str, float]:
        return {"total": 20.0}

    def compute_enc_gen_loss(self, *args: object) -> dict[str, float]:
        return {"rec_loss": 30.0}


def test_capturing_records_both_sides_and_unwraps_after() -> None:
    ours, theirs, cap = OurSteps(), NS(optimizer=TheirLosses()), Capture()
    with capturing(ours, theirs, cap):
        ours._critic_step()
        ours._critic_step()
        assert ours._encoder_generator_step(2).tolist() == [5.0, 6.0, 7.0]  # passed through
        theirs.optimizer.compute_image_dis_loss("a", "b")
        theirs.optimizer.compute_latent_dis_loss()
        theirs.optimizer.compute_enc_gen_loss()
    assert cap.ours == {"critic": [[1.0, 2.0], [1.0, 2.0]], "eg": [[5.0, 6.0, 7.0]]}
    assert cap.peer == {
        "dx": [{"total": 12.0}],
        "dz": [{"total": 20.0}],
        "eg": [{"rec_loss": 30.0}],
    }
    assert not vars(ours) and not vars(theirs.optimizer)  # the class methods are back
    cap.reset()
    assert cap.ours == {"critic": [], "eg": []} and cap.peer == {"dx": [], "dz": [], "eg": []}


def nets(value: float) -> dict[str, nn.Module]:
    out = {}
    for k in ("E", "G", "DX", "DZ"):
        out[k] = nn.Sequential(nn.Linear(2, 2))
        with torch.no_grad():
            out[k][0].weight.fill_(value)
            out[k][0].bias.fill_(value)
    return out


def sides() -> tuple[NS, NS]:
    mine = nets(1.0)
    other = copy.deepcopy(mine)
    with torch.no_grad():
        other["DX"][0].weight[0, 0] = 1.5  # |1 - 1.5| / 1.5
    ours = NS(networks=NS(**mine), gammas={"G": 1e-6, "E": 3.0})
    theirs = NS(
        enc=other["E"],
        gen=other["G"],
        image_dis=other["DX"],
        latent_dis=other["DZ"],
        optimizer=NS(gen_rec_loss_weight=2e-6, enc_rec_loss_weight=3.0),
    )
    return ours, theirs


def two_critic_steps() -> Capture:
    cap = Capture()
    cap.ours["critic"] = [[1.0, 2.0], [1.5, 2.0]]
    cap.ours["eg"] = [[0.5, -1.0, 1e-5]]
    cap.peer["dx"] = [{"total": 1.0}, {"total": 1.0}]
    cap.peer["dz"] = [{"total": 2.0}, {"total": 2.0}]
    cap.peer["eg"] = [{"image_adv_loss": 0.25, "latent_adv_loss": -1.0, "rec_loss": 2e-5}]
    return cap


def test_iteration_values_by_hand() -> None:
    ours, theirs = sides()
    rows = iteration_values(two_critic_steps(), ours, theirs, n_dis=2)
    assert [r["quantity"] for r in rows] == quantities(2)
    rel = {r["quantity"]: r["rel"] for r in rows}
    assert rel == {
        "D_X[1]": 0.0,
        "D_Z[1]": 0.0,
        "D_X[2]": pytest.approx(1 / 3),  # 0.5 / 1.5
        "D_Z[2]": 0.0,
        "w_DX": pytest.approx(1 / 3),
        "w_DZ": 0.0,
        "adv_G": pytest.approx(0.5),
        "adv_E": 0.0,
        "rec": pytest.approx(0.01),  # 1e-5 / the loss floor 1e-3
        "gamma_G": pytest.approx(0.5),  # no floor for gammas: 1e-6 / 2e-6
        "gamma_E": 0.0,
        "w_E": 0.0,
        "w_G": 0.0,
    }
    by = {r["quantity"]: r for r in rows}
    assert by["w_DX"]["where"] == "DX.0.weight" and math.isnan(by["w_DX"]["ours"])
    assert (by["rec"]["ours"], by["rec"]["theirs"]) == (1e-5, 2e-5)


def test_iteration_values_refuse_another_number_of_critic_steps() -> None:
    ours, theirs = sides()
    with pytest.raises(PIADError, match="ours 2, theirs 2; expected n_dis = 3"):
        iteration_values(two_critic_steps(), ours, theirs, n_dis=3)


def test_unused_draws_are_an_error() -> None:
    tape = Tape()
    _check_tape_used(tape, 1)  # nothing recorded: fine
    tape.put("x", torch.zeros(1))
    left = {"x": 1, "z": 0, "alpha": 0}
    with pytest.raises(PIADError, match=re.escape(f"iteration 5: the replaying side left {left}")):
        _check_tape_used(tape, 5)


@pytest.mark.parametrize(("tape_from", "order"), [("ours", ["ours", 3]), ("peer", [3, "ours"])])
def test_the_recording_side_steps_first(tape_from: str, order: list[object]) -> None:
    calls: list[object] = []
    ours = NS(step=lambda: calls.append("ours"))
    theirs = NS(tqdm_logger=NS(total=0))
    theirs.train = lambda: calls.append(theirs.tqdm_logger.total)
    seconds = {"ours": 0.0, "theirs": 0.0}
    _step_both(ours, theirs, 3, tape_from, seconds)
    assert calls == order and set(seconds) == {"ours", "theirs"}


# ------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [((32, 32, 32, 32), [32, 32, 32, 32]), ((4, 8, 16), [8, 16, 16]), ((4, 4), [4, 4])],
)
def test_their_widths(ours: tuple[int, ...], theirs: list[int]) -> None:
    assert _their_widths(ours) == theirs


def test_peer_distance_is_the_batch_mean_of_our_distance() -> None:
    d = _PeerDistance(lambda x, y: (x - y).abs().flatten(1).sum(1))
    x = torch.zeros(2, 1, 2, 2)
    y = torch.stack([torch.ones(1, 2, 2), torch.full((1, 2, 2), 2.0)])
    assert float(d(x, y)) == 6.0  # (4 + 8) / 2


def test_echo_line(capsys) -> None:  # type: ignore[no-untyped-def]
    rel = dict.fromkeys(quantities(1), 0.0) | {"rec": 0.5, "gamma_E": 2e-3, "w_E": 1e-5}
    vals = [{"quantity": q, "rel": r} for q, r in rel.items()]
    _echo(3, vals, {"iteration": 3, "quantity": "rec"})
    _echo(4, vals, {"iteration": 3, "quantity": "rec"})
    assert capsys.readouterr().out.splitlines() == [
        "it    3 losses 5.0e-01 gammas 2.0e-03 weights E=1.0e-05 G=0.0e+00 DX=0.0e+00 DZ=0.0e+00"
        "  <- first parting: rec",
        "it    4 losses 5.0e-01 gammas 2.0e-03 weights E=1.0e-05 G=0.0e+00 DX=0.0e+00 DZ=0.0e+00",
    ]


def test_summary_per_iteration_seconds_settings_and_diagnosis() -> None:
    peer = NS(provenance={"commit": "abc"}, stats_path=Path("stats.pt"))
    run = _Iterations([], [1e-12, 2e-12], {"ours": 3.0, "theirs": 6.0}, None)
    s = _summary(
        peer,
        NS(n_dis=2, n_weight=100),
        run,
        {"iters": 2, "normal": "1", "dtype": "float64", "seed": 0},
        "peer",
        1e-9,
        Path("vgg.pt"),
        torch.zeros(24, 1, 8, 8),
        {"E": 0.0},
        math.nan,
    )
    assert s["seconds_per_iteration"] == {"ours": 1.5, "theirs": 3.0}
    assert s["settings"] == {
        "iters": 2,
        "normal": "1",
        "dtype": "float64",
        "seed": 0,
        "n_dis": 2,
        "tape_from": "peer",
        "rtol": 1e-9,
        "loss_floor": 1e-3,
        "threads": torch.get_num_threads(),
        "vgg": "vgg.pt",
        "stats": "stats.pt",
        "n_train": 24,
    }
    assert s["peer"] == {"commit": "abc"} and s["first_parting"] is None and s["rows"] == []
    assert s["diagnosis"].endswith(
        "over all 2 iterations; the largest relative difference of any quantity was 2.00e-12"
    )


def test_given_training_images_skip_the_preprocessing_check() -> None:
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    got, pre = _training_images(None, images, Path("nowhere"), "1", 0, Path("w"))  # type: ignore[arg-type]
    assert got is images and math.isnan(pre)


def test_preprocessing_check_is_nan_without_mnist_files(tmp_path: Path) -> None:
    images = torch.zeros(3, 1, 32, 32, dtype=torch.uint8)
    assert math.isnan(preprocessing_check(None, tmp_path, "1", images, tmp_path / "w"))  # type: ignore[arg-type]


def test_an_unknown_tape_side_is_refused_first() -> None:
    with pytest.raises(PIADError, match="--tape-from must be 'ours' or 'peer', got 'both'"):
        run_lockstep(None, iters=1, normal="1", tape_from="both")  # type: ignore[arg-type]


@needs_peer
@pytest.mark.parametrize(("normal", "cls"), [("1", 1), ("8", 8), ("obj3", 0)])
def test_their_settings_take_our_architecture(tmp_path: Path, normal: str, cls: int) -> None:
    cfg = PIADConfig.preset(
        "mnist",
        image_size=8,
        latent_dim=4,
        gen_channels=(4, 6),
        enc_channels=(4, 8),
        dx_channels=(5, 6),
        dz_hidden=(8, 9),
        batch_size=8,
        n_weight=7,
    )
    p = _peer_settings(Peer(root=PEER, m={}), cfg, normal, tmp_path, seed=5, iters=3)
    assert {k: p[k] for k in ("normal_class", "random_seed", "iters", "update_grad_norm_iter")} == {
        "normal_class": cls,
        "random_seed": 5,
        "iters": 3,
        "update_grad_norm_iter": 7,
    }
    assert {k: p[k] for k in ("image_res", "image_dim", "latent_dim", "latent_res")} == {
        "image_res": 8,
        "image_dim": 1,
        "latent_dim": 4,
        "latent_res": cfg.latent_size,
    }
    assert (p["n_dis"], p["batch_size"]) == (cfg.n_dis, 8)
    assert (p["gen"], p["enc"], p["image_dis"], p["latent_dis"]) == ([4, 6], [8, 8], [6, 6], [8, 9])
    assert p["output_root"] == p["dataset_root"] == str(tmp_path) and p["num_workers"] == 0
    assert p["dataset_type"] == "mnist"  # the rest from their configs/mnist.yaml


# ------------------------------------------------------------------------------ CLI
def test_parse_args_defaults() -> None:
    a = parse_args([])
    assert (a.peer, a.peer_git, a.iters, a.normal, a.dtype) == (None, None, 200, "1", "float64")
    assert (a.out, a.data, a.stats) == (Path("results/lockstep"), Path("data"), DEFAULT_STATS)
    assert (a.seed, a.n_weight, a.tape_from, a.rtol, a.threads) == (0, None, "ours", None, 2)
    assert a.ours_patch == []


def test_parse_args_values() -> None:
    argv = ["--iters", "3", "--dtype", "float32", "--tape-from", "peer", "--rtol", "1e-6"]
    a = parse_args([*argv, "--ours-patch", "record-dtype", "--ours-patch", "record-dtype"])
    assert (a.iters, a.dtype, a.tape_from, a.rtol, a.n_weight) == (3, "float32", "peer", 1e-6, None)
    assert parse_args(["--n-weight", "2"]).n_weight == 2
    assert a.ours_patch == ["record-dtype", "record-dtype"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--iters", "0"], "--iters must be >= 1"),
        (["--dtype", "float16"], "invalid choice: 'float16'"),
        (["--ours-patch", "fast"], "invalid choice: 'fast'"),
        (["--tape-from", "both"], "invalid choice: 'both'"),
    ],
)
def test_parse_args_refuses(argv: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_main_without_a_checkout_ends_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--peer", str(tmp_path / "none"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"no checkout of ninatu/piad at {tmp_path / 'none'}" in err
    assert not (tmp_path / "out").exists()
