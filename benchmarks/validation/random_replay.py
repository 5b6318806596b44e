"""Record the random inputs of Algorithm 1 on one side and replay them into the other.

A :class:`Tape` holds three first-in-first-out streams: training batches ``x``, prior samples
``z`` and gradient-penalty mixing coefficients ``alpha``. Both codes consume each stream in the
same order (per iteration: ``n_dis`` critic steps, each one x, one z, alpha for D_X then for
D_Z; then one x and one z for the E+G step), so one stream per kind is enough, whatever the
interleaving between kinds.

Hooks (context managers; nothing is edited, everything is restored on exit):

- ours (:func:`ours_hooks`): ``trainer.data.next`` (BatchSource), ``trainer._prior`` and
  ``torch.rand`` as seen by :mod:`piad.losses` (the mixing coefficients of ``critic_loss``);
- theirs (:func:`peer_hooks`): ``trainer.image_model`` (their DataLoader stream),
  ``trainer.latent_model`` (their GaussianNoise) and ``torch.rand`` as seen by their
  ``adv_losses`` (their gradient penalty).

>>> tape = Tape()
>>> with ours_hooks(trainer, tape, "record"):                      # doctest: +SKIP
...     trainer.step()
>>> with peer_hooks(peer, their_trainer, tape, "replay"):           # doctest: +SKIP
...     run_peer_until(their_trainer, 1)
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from piad.errors import PIADError

KINDS = ("x", "z", "alpha")
MODES = ("record", "replay")


class Tape:
    """FIFO streams of tensors, one per kind (``x``, ``z``, ``alpha``); counts what passed."""

    def __init__(self) -> None:
        self.streams: dict[str, deque[Tensor]] = {k: deque() for k in KINDS}
        self.recorded = dict.fromkeys(KINDS, 0)
        self.taken = dict.fromkeys(KINDS, 0)

    def put(self, kind: str, value: Tensor) -> None:
        self.streams[kind].append(value.detach().clone())
        self.recorded[kind] += 1

    def take(self, kind: str) -> Tensor:
        if not self.streams[kind]:
            raise PIADError(
                f"the replaying side asked for {kind} number {self.taken[kind] + 1}, but the "
                f"recording side drew only {self.recorded[kind]}: the two loops draw differently"
            )
        self.taken[kind] += 1
        return self.streams[kind].popleft()

    def pending(self) -> dict[str, int]:
        """Recorded but not yet replayed, per kind (all 0 when both sides drew alike)."""
        return {k: len(v) for k, v in self.streams.items()}

    def copy(self) -> Tape:
        """An independent copy (to replay the same record twice)."""
        return copy.deepcopy(self)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise PIADError(f"tape mode must be one of {MODES}, got {mode!r}")


def _cast(x: Tensor, dtype: torch.dtype | None) -> Tensor:
    return x if dtype is None else x.to(dtype)


@contextlib.contextmanager
def _torch_rand_of(module: Any, rand: Callable[..., Tensor]) -> Iterator[None]:
    """``module.torch`` -> a shim whose ``rand`` is ``rand`` (only that module sees it)."""
    from benchmarks.validation.peer import _TorchShim

    saved = module.torch
    module.torch = _TorchShim(rand=rand)
    try:
        yield
    finally:
        module.torch = saved


@contextlib.contextmanager
def _attribute(obj: Any, name: str, value: Any) -> Iterator[None]:
    """Instance attribute ``obj.name = value`` inside (shadows a method), removed after."""
    had = name in vars(obj)
    saved = vars(obj).get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, saved)
        else:
            delattr(obj, name)


def _recording_rand(tape: Tape, real_rand: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``torch.rand`` that records each gradient-penalty mixing draw (one per image) on the tape."""

    def rand(*args: Any, **kwargs: Any) -> Tensor:
        alpha = real_rand(*args, **kwargs)
        tape.put("alpha", alpha.reshape(alpha.shape[0], 1, 1, 1))
        return alpha

    return rand


@contextlib.contextmanager
def ours_hooks(
    trainer: Any, tape: Tape, mode: str, dtype: torch.dtype | None = None
) -> Iterator[None]:
    """Record our batches, prior samples and mixing coefficients, or replay a tape into ours."""
    import piad.losses

    _check_mode(mode)
    data = trainer.data
    next_batch, prior = data.next, trainer._prior
    real_rand = torch.rand

    if mode == "record":

        def batch() -> Tensor:
            x = _cast(next_batch(), dtype)
            tape.put("x", x)
            return x

        def sample(n: int) -> Tensor:
            z = _cast(prior(n), dtype)
            tape.put("z", z)
            return z

        rand = _recording_rand(tape, real_rand)

    else:

        def batch() -> Tensor:
            x = tape.take("x").to(data.device, dtype or torch.float32)
            data.last_index = None  # not one of our images' rows: no feature-cache lookup
            return x.contiguous(memory_format=data.memory_format)

        def sample(n: int) -> Tensor:
            z = tape.take("z").to(trainer.device, dtype or torch.float32)
            if z.shape[0] != n:
                raise PIADError(f"replayed z has {z.shape[0]} rows, the step wants {n}")
            return z

        def replay_rand(*args: Any, **kwargs: Any) -> Tensor:
            shape = args[0]  # gradient_penalty: torch.rand(shape, generator=..., ...)
            alpha = tape.take("alpha")
            if alpha.numel() != math.prod(shape):
                raise PIADError(f"replayed alpha has {alpha.numel()} values, wanted {shape}")
            return alpha.reshape(shape).to(kwargs.get("device"), kwargs.get("dtype"))

        rand = replay_rand

    with (
        _attribute(data, "next", batch),
        _attribute(trainer, "_prior", sample),
        _torch_rand_of(piad.losses, rand),
    ):
        yield


class _Stream:
    """An iterator that their loop calls ``next()`` on."""

    def __init__(self, draw: Callable[[], Tensor]) -> None:
        self.draw = draw

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Tensor:
        return self.draw()


@contextlib.contextmanager
def peer_hooks(
    peer: Any, trainer: Any, tape: Tape, mode: str, dtype: torch.dtype | None = None
) -> Iterator[None]:
    """Record their batches, latent samples and mixing coefficients, or replay a tape into theirs.

    Their loop draws ``next(trainer.latent_model)`` and ``next(trainer.image_model)`` and their
    gradient penalty ``torch.rand(batch, 1)``.
    """
    _check_mode(mode)
    images, latents = trainer.image_model, trainer.latent_model
    real_rand = torch.rand

    if mode == "record":

        def batch() -> Tensor:
            x = _cast(next(images), dtype)
            tape.put("x", x)
            return x

        def sample() -> Tensor:
            z = _cast(next(latents), dtype)
            tape.put("z", z)
            return z

        rand = _recording_rand(tape, real_rand)

    else:

        def batch() -> Tensor:
            return _cast(tape.take("x"), dtype or torch.get_default_dtype())

        def sample() -> Tensor:
            return _cast(tape.take("z"), dtype or torch.get_default_dtype())

        def replay_rand(*size: Any, **kwargs: Any) -> Tensor:
            alpha = tape.take("alpha")
            if alpha.numel() != math.prod(size):
                raise PIADError(f"replayed alpha has {alpha.numel()} values, wanted {size}")
            return alpha.reshape(size).to(kwargs.get("dtype") or torch.get_default_dtype())

        rand = replay_rand

    with (
        _attribute(trainer, "image_model", _Stream(batch)),
        _attribute(trainer, "latent_model", _Stream(sample)),
        _torch_rand_of(peer.m["adv_losses"], rand),
    ):
        yield


__all__ = ["KINDS", "MODES", "Tape", "ours_hooks", "peer_hooks"]
