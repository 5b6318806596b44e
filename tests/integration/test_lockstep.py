"""benchmarks.validation.lockstep: weight mapping, record/replay hooks, a tiny lockstep.

The tests that need the authors' code read the checkout of ``peer.default_peer()``:
``$PIAD_PEER``, else ``../shared/peer/ninatu-piad`` beside the repository (where CI has it).
They skip, with the reason, when there is none. Nothing is written into the checkout.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from peer_checkout import PEER, needs_peer, their_networks
from piad_tiny import tiny_config, tiny_features, toy_images

from benchmarks.validation.random_replay import Tape, ours_hooks, peer_hooks
from benchmarks.validation.weight_map import (
    NETWORKS,
    copy_ours_to_peer,
    copy_peer_to_ours,
    layer_pairs,
    weight_differences,
)
from piad.config import PIADConfig
from piad.errors import PIADError
from piad.networks import build_networks
from piad.training import Trainer


@pytest.fixture(scope="module")
def peer():  # type: ignore[no-untyped-def]
    from benchmarks.validation.peer import load_peer

    return load_peer(PEER)


def ours_of(cfg: PIADConfig, seed: int) -> dict[str, torch.nn.Module]:
    nets = build_networks(cfg, seed=seed).double()
    return {k: getattr(nets, k) for k in NETWORKS}


# ------------------------------------------------------------------------------ weight mapping
@needs_peer
@pytest.mark.parametrize("family", ["mnist", "cifar10"])  # cifar10: 1x1 skip convs in blocks
def test_weight_mapping_round_trip_and_same_function(peer, family: str) -> None:  # type: ignore[no-untyped-def]
    cfg = PIADConfig.preset(family)
    ours, other = ours_of(cfg, 0), ours_of(cfg, 1)
    theirs = {k: v.double() for k, v in their_networks(peer, cfg).items()}
    assert min(weight_differences(ours, theirs).values()) > 0.1  # different starts
    copy_ours_to_peer(ours, theirs)
    copy_peer_to_ours(theirs, other)  # ours -> theirs -> ours
    for k in NETWORKS:
        a, b = ours[k].state_dict(), other[k].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    # our folded BlockUp / BlockDown convs compute their conv + upsample / pool from the same
    # 3x3 weights: same outputs to float64 rounding
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g).double()
    z = torch.randn(3, *cfg.latent_shape, generator=g).double()
    with torch.no_grad():
        for k, inp in (("E", x), ("G", z), ("DX", x), ("DZ", z)):
            a, b = ours[k](inp).reshape(3, -1), theirs[k](inp).reshape(3, -1)
            assert float((a - b).abs().max() / a.abs().max()) < 1e-12, k


@needs_peer
def test_weight_mapping_refuses_another_architecture(peer) -> None:  # type: ignore[no-untyped-def]
    cfg = PIADConfig.preset("mnist")
    wider = their_networks(peer, cfg.replace(enc_channels=(32, 32, 32, 64)))  # + a skip conv
    with pytest.raises(PIADError, match="our network has 9 weight layers, theirs 10"):
        layer_pairs(ours_of(cfg, 0)["E"], wider["E"])
    other_latent = their_networks(peer, cfg.replace(latent_dim=16))
    with pytest.raises(PIADError, match=r"layer out \(32, 32, .*does not match their"):
        layer_pairs(ours_of(cfg, 0)["E"], other_latent["E"])


# ------------------------------------------------------------------------------ replay hooks
def test_recorded_draws_replayed_give_the_same_batches_and_trajectory(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import piad.training.trainer as trainer_module

    cfg = tiny_config(reconstruction="rel_perc_l1", n_weight=2)
    nets = build_networks(cfg)
    feats = tiny_features()
    seen: list[torch.Tensor] = []  # what the critic steps are given: x (D_X), z (D_Z)
    critic_loss = trainer_module.critic_loss

    def spy(critic, real, fake, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(real.detach().clone())
        return critic_loss(critic, real, fake, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "critic_loss", spy)

    def trainer(seed: int) -> Trainer:
        return Trainer(
            cfg.replace(seed=seed),
            toy_images(),
            networks=copy.deepcopy(nets),
            features=feats,
            progress=False,
            feature_cache="off",
        )

    a, b, c = trainer(0), trainer(1), trainer(1)
    tape = Tape()
    with ours_hooks(a, tape, "record"):
        for _ in range(3):
            a.step()
    seen_a, seen[:] = list(seen), []
    assert tape.recorded == {"x": 9, "z": 9, "alpha": 12}  # 3 x (2 critic + 1 E+G); 2 GPs
    with ours_hooks(b, tape, "replay"):
        for _ in range(3):
            b.step()
    assert tape.pending() == {"x": 0, "z": 0, "alpha": 0}
    assert len(seen) == len(seen_a) == 12 and all(torch.equal(u, v) for u, v in zip(seen_a, seen))
    for p, q in zip(a.networks.parameters(), b.networks.parameters()):
        assert torch.equal(p, q)  # the same inputs give the same trajectory, bit for bit
    for _ in range(3):
        c.step()  # its own seed: other batches, another trajectory
    assert not all(
        torch.equal(p, q) for p, q in zip(a.networks.parameters(), c.networks.parameters())
    )
    with ours_hooks(c, Tape(), "replay"), pytest.raises(PIADError, match="asked for x number 1"):
        c.step()
    assert not hasattr(c.data, "__dict__") or "next" not in vars(c.data)  # hooks removed


# ------------------------------------------------------------------------------ lockstep
TINY = {
    "image_size": 8,
    "latent_dim": 4,
    "gen_channels": (4, 4),
    "enc_channels": (4, 4),
    "dx_channels": (4, 4),
    "dz_hidden": (8, 8),
    "batch_size": 8,
}


def tiny_lockstep(peer, tmp_path: Path, iters: int = 3, **kw):  # type: ignore[no-untyped-def]
    from benchmarks.validation.lockstep import run_lockstep

    return run_lockstep(
        peer,
        iters=iters,
        normal="1",
        dtype_name="float64",
        out=tmp_path,
        n_weight=2,
        train_images=toy_images(),
        features=tiny_features(),
        config_changes=TINY,
        echo=False,
        **kw,
    )


@needs_peer
@pytest.mark.parametrize("tape_from", ["ours", "peer"])
def test_three_iteration_lockstep_agrees_with_the_fix(peer, tmp_path: Path, tape_from: str) -> None:  # type: ignore[no-untyped-def]
    s = tiny_lockstep(
        peer, tmp_path, tape_from=tape_from, ours_patches=["record-dtype"], rtol=1e-11
    )
    assert s["first_parting"] is None, s["diagnosis"]
    assert max(s["per_iteration_max_rel"]) < 1e-11
    assert {r["quantity"] for r in s["rows"]} >= {"D_X[2]", "gamma_E", "w_G", "rec"}
    assert len(s["rows"]) == 3 * 13


def _adam_eps(trainer) -> None:  # type: ignore[no-untyped-def]
    trainer.optimizer.enc_gen_opt.param_groups[0]["eps"] = 1e-6


def _smoothing(trainer) -> None:  # type: ignore[no-untyped-def]
    trainer.optimizer.grad_norm_policy_helper._alpha = 0.5


@needs_peer
@pytest.mark.parametrize(
    ("change", "iteration", "quantity", "cause"),
    [
        (_adam_eps, 1, "w_E", "Adam eps"),  # the E+G step's update, at once
        (_smoothing, 4, "gamma_G", "smoothing"),  # alpha matters from the 2nd update (it 4) on
    ],
)
def test_lockstep_names_the_first_quantity_of_a_known_difference(  # type: ignore[no-untyped-def]
    peer, tmp_path: Path, change, iteration: int, quantity: str, cause: str
) -> None:
    s = tiny_lockstep(
        peer, tmp_path, iters=4, ours_patches=["record-dtype"], peer_change=change, rtol=1e-11
    )
    part = s["first_parting"]
    assert part is not None and (part["iteration"], part["quantity"]) == (iteration, quantity)
    assert "ABRUPTLY" in s["diagnosis"] and cause in s["diagnosis"]
    assert max(s["per_iteration_max_rel"][: iteration - 1], default=0.0) < 1e-11


@needs_peer
def test_peer_replay_reproduces_their_own_run(peer) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.validation.lockstep import _PeerDistance, _their_widths
    from benchmarks.validation.peer import (
        ImageListDataset,
        build_peer_trainer,
        cpu_runtime,
        peer_config,
        peer_networks,
        run_peer_until,
    )
    from piad.image_arrays import to_float
    from piad.losses import bind_distance

    cfg = tiny_config()
    pcfg = peer_config(
        peer,
        1,
        output_root=Path("unused"),
        dataset_root=Path("unused"),
        seed=0,
        iters=3,
        n_weight=2,
    )
    pcfg.update(
        image_res=8,
        latent_dim=4,
        batch_size=8,
        gen=[4, 4],
        enc=_their_widths((4, 4)),
        image_dis=[4, 4],
        latent_dis=[8, 8],
    )
    data = ImageListDataset(to_float(toy_images()), min_size=10_000)
    rec = _PeerDistance(bind_distance("rel_perc_l1", tiny_features()))
    with cpu_runtime():
        a = build_peer_trainer(peer, pcfg, data, rec_loss=rec)
        b = build_peer_trainer(peer, {**pcfg, "random_seed": 1}, data, rec_loss=rec)
        ours = {k: getattr(build_networks(cfg), k) for k in NETWORKS}
        copy_ours_to_peer(ours, peer_networks(a))
        copy_ours_to_peer(ours, peer_networks(b))
        tape = Tape()
        with peer_hooks(peer, a, tape, "record"):
            run_peer_until(a, 3)
        assert len(data) == 10_008 and tape.recorded["x"] == 9
        with peer_hooks(peer, b, tape, "replay"):
            run_peer_until(b, 3)
    assert max(weight_differences(peer_networks(a), peer_networks(b)).values()) == 0.0
