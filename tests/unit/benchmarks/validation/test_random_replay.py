"""benchmarks.validation.random_replay: the tape, and the record / replay hooks of both sides."""

from __future__ import annotations

import types

import pytest
import torch
from peer_checkout import PEER, needs_peer
from torch import nn

import piad.losses
from benchmarks.validation.random_replay import KINDS, MODES, Tape, ours_hooks, peer_hooks
from piad.errors import PIADError


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values)


# ------------------------------------------------------------------------------ the tape
def test_kinds_and_modes() -> None:
    assert KINDS == ("x", "z", "alpha") and MODES == ("record", "replay")


def test_each_kind_is_first_in_first_out_and_counted() -> None:
    tape = Tape()
    tape.put("x", t(1.0))
    tape.put("z", t(10.0))
    tape.put("x", t(2.0))
    assert tape.recorded == {"x": 2, "z": 1, "alpha": 0}
    assert tape.pending() == {"x": 2, "z": 1, "alpha": 0}
    assert float(tape.take("x")) == 1.0  # the kinds do not interleave: x1 before z
    assert float(tape.take("z")) == 10.0
    assert float(tape.take("x")) == 2.0
    assert tape.taken == {"x": 2, "z": 1, "alpha": 0}
    assert tape.pending() == {"x": 0, "z": 0, "alpha": 0}


def test_taking_more_than_was_recorded_names_the_kind_and_counts() -> None:
    tape = Tape()
    tape.put("z", t(1.0))
    tape.take("z")
    with pytest.raises(PIADError, match="asked for z number 2, but the recording side drew only 1"):
        tape.take("z")
    with pytest.raises(PIADError, match=r"asked for alpha number 1, .* drew only 0"):
        tape.take("alpha")


def test_put_keeps_a_detached_copy() -> None:
    tape = Tape()
    x = torch.ones(2, requires_grad=True)
    tape.put("x", x)
    with torch.no_grad():
        x.mul_(5)
    got = tape.take("x")
    assert torch.equal(got, torch.ones(2)) and not got.requires_grad


def test_copy_replays_independently() -> None:
    tape = Tape()
    tape.put("alpha", t(0.25))
    twin = tape.copy()
    assert float(twin.take("alpha")) == 0.25
    assert tape.pending() == {"x": 0, "z": 0, "alpha": 1} and tape.taken["alpha"] == 0
    assert float(tape.take("alpha")) == 0.25


# ------------------------------------------------------------------------------ our side
class Data:
    """Stands in for BatchSource: batches 0, 1, 2, ... (each filled with its number)."""

    def __init__(self) -> None:
        self.n = 0
        self.device = torch.device("cpu")
        self.memory_format = torch.contiguous_format
        self.last_index: object = "set by next"

    def next(self) -> torch.Tensor:
        self.n += 1
        return torch.full((2, 1, 2, 2), float(self.n - 1))


class Ours:
    """Stands in for our Trainer: ``data``, ``device`` and ``_prior``."""

    def __init__(self, seed: int = 0) -> None:
        self.data = Data()
        self.device = torch.device("cpu")
        self.noise = torch.Generator().manual_seed(seed)

    def _prior(self, n: int) -> torch.Tensor:
        return torch.randn(n, 3, generator=self.noise)


def draw_ours(trainer: Ours) -> list[torch.Tensor]:
    """What one critic step draws: x, z and a mixing coefficient through piad.losses."""
    x, z = trainer.data.next(), trainer._prior(2)
    alpha = piad.losses.torch.rand((2, 1, 1, 1), device=torch.device("cpu"), dtype=torch.float32)
    return [x, z, alpha]


def test_our_record_then_replay_gives_the_same_draws() -> None:
    tape, a, b = Tape(), Ours(seed=0), Ours(seed=1)
    with ours_hooks(a, tape, "record"):
        first = draw_ours(a) + draw_ours(a)
    assert tape.recorded == {"x": 2, "z": 2, "alpha": 2}
    assert float(first[3][0, 0, 0, 0]) == 1.0  # the second batch
    with ours_hooks(b, tape, "replay"):
        again = draw_ours(b) + draw_ours(b)
    assert all(torch.equal(u, v) for u, v in zip(first, again))
    assert b.data.n == 0 and b.data.last_index is None  # nothing drawn; no cache lookup
    assert tape.pending() == {"x": 0, "z": 0, "alpha": 0}


def test_our_record_casts_to_the_dtype_and_replay_defaults_to_float32() -> None:
    tape, a = Tape(), Ours()
    with ours_hooks(a, tape, "record", torch.float64):
        x, z = a.data.next(), a._prior(2)
    assert x.dtype == z.dtype == torch.float64
    assert tape.streams["x"][0].dtype == torch.float64
    b = Ours()
    with ours_hooks(b, tape, "replay"):
        assert b.data.next().dtype == torch.float32
    with ours_hooks(b, tape, "replay", torch.float64):
        assert b._prior(2).dtype == torch.float64


def test_mixing_coefficients_are_recorded_one_per_image() -> None:
    tape, a = Tape(), Ours()
    with ours_hooks(a, tape, "record"):
        alpha = piad.losses.torch.rand((3, 1), dtype=torch.float32)  # a latent critic's shape
    assert alpha.shape == (3, 1) and tape.streams["alpha"][0].shape == (3, 1, 1, 1)
    assert torch.equal(tape.streams["alpha"][0].flatten(), alpha.flatten())


def test_our_replay_refuses_misfitting_draws() -> None:
    tape, b = Tape(), Ours()
    tape.put("z", torch.zeros(3, 4))
    tape.put("alpha", torch.zeros(3, 1, 1, 1))
    with ours_hooks(b, tape, "replay"):
        with pytest.raises(PIADError, match="replayed z has 3 rows, the step wants 4"):
            b._prior(4)
        with pytest.raises(PIADError, match=r"replayed alpha has 3 values, wanted \(5, 1, 1, 1\)"):
            piad.losses.torch.rand((5, 1, 1, 1))


def test_our_hooks_are_removed_on_exit_even_after_an_error() -> None:
    a = Ours()
    own_next = a.data.next  # a bound method: the class's
    with pytest.raises(RuntimeError), ours_hooks(a, Tape(), "replay"):
        assert "next" in vars(a.data) and "_prior" in vars(a)
        raise RuntimeError
    assert "next" not in vars(a.data) and "_prior" not in vars(a)
    assert a.data.next == own_next and piad.losses.torch is torch


def test_an_instance_attribute_that_was_there_is_put_back() -> None:
    a = Ours()
    mine = lambda: torch.zeros(1)  # noqa: E731
    a.data.next = mine  # type: ignore[method-assign]
    with ours_hooks(a, Tape(), "record"):
        assert a.data.next is not mine
    assert a.data.next is mine


@pytest.mark.parametrize(
    "hooks",
    [ours_hooks, lambda tr, tape, mode: peer_hooks(None, tr, tape, mode)],
    ids=["ours", "theirs"],
)
def test_an_unknown_mode_is_refused(hooks) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(
            PIADError, match=r"tape mode must be one of \('record', 'replay'\), got 'play'"
        ),
        hooks(Ours(), Tape(), "play"),
    ):
        pass


# ------------------------------------------------------------------------------ their side
class TheirTrainer:
    """Stands in for their PIADTrainer: endless image and latent iterators."""

    def __init__(self, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.image_model = iter(lambda: torch.rand(2, 1, 2, 2, generator=g), None)
        self.latent_model = iter(lambda: torch.randn(2, 3, 1, 1, generator=g), None)


def fake_peer() -> types.SimpleNamespace:
    return types.SimpleNamespace(m={"adv_losses": types.SimpleNamespace(torch=torch)})


def draw_theirs(peer, trainer: TheirTrainer) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    rand = peer.m["adv_losses"].torch.rand
    return [next(trainer.latent_model), next(trainer.image_model), rand(2, 1)]


def test_their_record_then_replay_gives_the_same_draws() -> None:
    peer, tape = fake_peer(), Tape()
    a, b = TheirTrainer(0), TheirTrainer(1)
    with peer_hooks(peer, a, tape, "record"):
        first = draw_theirs(peer, a) + draw_theirs(peer, a)
    assert tape.recorded == {"x": 2, "z": 2, "alpha": 2}
    assert tape.streams["alpha"][0].shape == (2, 1, 1, 1)
    with peer_hooks(peer, b, tape, "replay"):
        again = draw_theirs(peer, b) + draw_theirs(peer, b)
    assert [u.shape for u in again] == [u.shape for u in first]  # rand(2, 1) stays (2, 1)
    assert all(torch.equal(u, v) for u, v in zip(first, again))
    assert peer.m["adv_losses"].torch is torch


def test_their_hooks_put_their_iterators_back() -> None:
    peer, b = fake_peer(), TheirTrainer(0)
    images, latents = b.image_model, b.latent_model
    with peer_hooks(peer, b, Tape(), "record"):
        assert b.image_model is not images
    assert b.image_model is images and b.latent_model is latents


def test_their_replay_uses_the_default_dtype_and_checks_alpha() -> None:
    peer, tape, b = fake_peer(), Tape(), TheirTrainer(0)
    tape.put("x", torch.zeros(2, 1, 2, 2, dtype=torch.float64))
    tape.put("alpha", torch.zeros(2, 1, 1, 1))
    with peer_hooks(peer, b, tape, "replay"):
        assert next(b.image_model).dtype == torch.float32
        with pytest.raises(PIADError, match=r"replayed alpha has 2 values, wanted \(3, 1\)"):
            peer.m["adv_losses"].torch.rand(3, 1)


# ------------------------------------------------------------------------------ across sides
def critic() -> nn.Module:
    """A non-linear critic: its input gradient, so the penalty, depends on the mixing point."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)).double()


@needs_peer
@pytest.mark.parametrize("recorder", ["ours", "peer"])
def test_a_recorded_mixing_gives_both_gradient_penalties_alike(recorder: str) -> None:
    from benchmarks.validation.peer import cpu_runtime, load_peer
    from benchmarks.validation.peer_setup import default_dtype

    peer = load_peer(PEER)
    their_gp = peer.m["adv_losses"]._gradient_penalty
    d, g = critic(), torch.Generator().manual_seed(1)
    real, fake = (torch.randn(3, 1, 2, 2, generator=g, dtype=torch.float64) for _ in range(2))
    ours_mode, peer_mode = ("record", "replay") if recorder == "ours" else ("replay", "record")
    tape = Tape()
    with default_dtype(torch.float64), cpu_runtime():
        for side in ["ours", "peer"] if recorder == "ours" else ["peer", "ours"]:
            if side == "ours":
                with ours_hooks(Ours(), tape, ours_mode, torch.float64):
                    mine = float(piad.losses.gradient_penalty(d, real, fake).detach())
            else:
                with peer_hooks(peer, TheirTrainer(0), tape, peer_mode, torch.float64):
                    theirs = float(their_gp(d, real, fake).detach())
        other = float(their_gp(d, real, fake).detach())  # its own mixing: another value
    assert tape.recorded["alpha"] == tape.taken["alpha"] == 1
    assert mine == pytest.approx(theirs, rel=1e-12, abs=0)
    assert abs(other - mine) > 1e-6
