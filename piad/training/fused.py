"""Fused training: K independent PIAD models of one configuration trained as one computation.

Each member is a :class:`~piad.training.trainer.Trainer` of its own (own config and seed, own
images and :class:`~piad.training.data.BatchSource`, own noise generator, weight policies, log
and checkpoint); :class:`FusedTrainer` only replaces the arithmetic of Algorithm 1's steps. The
members' parameters are stacked (:mod:`piad.training.fused_nets`: row k of every (K, ...) tensor
is member k's parameter, which the member's own networks see as a view), their activations sit
side by side in the channel dimension, and every convolution runs once with ``groups=K``. The
frozen VGG-19 runs once over all K*B reconstructions. Per member and unchanged from a solo run:
batches (its BatchSource), latent samples and gradient-penalty mixing (its generator, drawn in
the solo order z, a_X, a_Z), minibatch stddev and gradient penalty over its own batch only, its
Adam state (``piad.optim.Adam`` is elementwise, so the stacked state gives each row its own
update), its weight-policy histories and gammas (Alg. 2-3; the gradient statistics are taken on
each member's own gradient rows), the one-pass / policy-iteration logic of
``Trainer._encoder_generator_step``, its feature cache and its NaN guard.

Mechanism, chosen by measurement (CPU, 2 threads, MNIST preset, K = 4, one critic step: G and E
forwards, both critic losses with gradient penalty, their backward; best of 3; load average
about 3 on the 2 cores; script ``notes/issue13-scratch/mech.py``): K solo steps in a loop
14.5 s; ``torch.func`` (stacked parameters, ``functional_call`` + ``vmap``, whose batching rules
also end in grouped convolutions) 13.9 s; explicit grouped convolutions in the fused layout
8.0 s (channels_last activations) and 8.4 s (NCHW). ``vmap`` moves the model dimension in and
out of the channel dimension around every op (copies) and keeps no channels_last layout, so
the explicit layout of :mod:`piad.training.fused_nets` is used. The VGG-19 pass over the K*B
reconstructions runs as ONE batch: forward + input-gradient backward of 128 MNIST
reconstructions took 3.9 s at once vs 5.1 s in chunks of 64 and 7.3 s in chunks of 32
(``vgg.py``, load about 8). Tried and dropped: conv weights stacked so that the grouped weight
is channels_last (no measurable difference, ``ab.py``).

Exactness: a member of a fused group computes the same function as the solo trainer; only the
summation order inside the grouped kernels differs (float rounding, about 1e-6 relative per
forward), so a fused member equals its solo run to float tolerance, and a fused group resumed
from its checkpoints continues bit for bit on CPU (same members, same iteration).

Groups re-form: members that are done are left out; members at different iterations (a group
killed between two members' checkpoint writes, or a job that ran solo before) catch up in
sub-groups: the members at the lowest iteration train fused until they reach the next member's
iteration, then train together with it (each member's numbers are those of its own solo run to
float tolerance, whatever group it trained in). A member whose loss or gamma becomes NaN/inf is
reported as :class:`~piad.errors.TrainingDivergedError` (its last good checkpoint kept, as solo)
and the group re-forms without it; the others go on unaffected (no arithmetic mixes members).

>>> nets = fit_fused(configs, images_list, workdirs)    # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from piad.config import PERCEPTUAL_DISTANCES, PIADConfig
from piad.errors import PIADError, TrainingDivergedError
from piad.io import stage_bytes, torch_bytes
from piad.networks import Networks
from piad.training.checkpoint import Interrupted, enter_boundary, leave_boundary, stop_requested
from piad.training.feature_cache import cache_budget
from piad.training.fused_step import FusedGroup
from piad.training.runtime import network_layout, resolve_device
from piad.training.trainer import Trainer

# config fields that may differ inside one group (per-member bookkeeping); the rest must agree
PER_MEMBER_FIELDS = frozenset(
    {"seed", "iterations", "checkpoint_every", "log_every", "sample_every", "device"}
)


def fusable_key(config: PIADConfig) -> tuple[tuple[str, Any], ...]:
    """Configs with equal keys can train in one fused group (all fields but seed/bookkeeping)."""
    out: list[tuple[str, Any]] = []
    for name, value in sorted(config.to_dict().items()):
        if name not in PER_MEMBER_FIELDS:
            out.append((name, tuple(value) if isinstance(value, list) else value))
    out.append(("device", str(resolve_device(config.device))))
    return tuple(out)


def group_fusable(configs: Sequence[PIADConfig], max_size: int | None = None) -> list[list[int]]:
    """Indices of ``configs`` grouped by :func:`fusable_key` (first-seen order), at most
    ``max_size`` per group."""
    groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(fusable_key(c), []).append(i)
    size = max_size or max(len(configs), 1)
    if size < 1:
        raise PIADError(f"max_size must be >= 1, got {max_size}")
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]


class _Member(Trainer):
    """A solo trainer whose arithmetic the fused group does; everything else is the Trainer's."""

    def state_dict(self) -> dict[str, Any]:
        """The Trainer's checkpoint, networks copied out of the group's stacked storage."""
        state = super().state_dict()
        layout = network_layout(self.device)
        state["networks"] = {
            k: v.clone(memory_format=layout) if v.dim() == 4 else v.clone()
            for k, v in state["networks"].items()
        }
        return state


def _save_together(members: list[_Member]) -> None:
    """Write the members' checkpoints: all files first, then all renames (a kill leaves either
    all old or all new checkpoints, except in the microseconds between the renames)."""
    staged: list[tuple[_Member, str]] = []
    try:
        for m in members:
            path = m.checkpoint_path
            if path is None:
                continue
            staged.append((m, stage_bytes(path, torch_bytes(m.state_dict()))))
        for m, tmp in staged:
            os.replace(tmp, m.checkpoint_path)  # type: ignore[arg-type]
            m._last_checkpoint = m.iteration
    finally:
        for _, tmp in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _release(m: _Member) -> Networks:
    """The member's networks as a solo run returns them: own storage, ``network_layout``."""
    for p in m.networks.parameters():
        p.data = p.data.clone()
    return m.networks.to(memory_format=network_layout(m.device))


class FusedTrainer:
    """Trains K PIAD models of one :func:`fusable_key` as one fused computation.

    ``configs[k]``, ``images_list[k]`` and ``workdirs[k]`` are member k's, exactly what
    ``Trainer(configs[k], images_list[k], workdir=workdirs[k])`` would get: with a workdir it
    resumes from and writes ``checkpoint.pt`` and ``log.csv`` there, in the Trainer's format
    (a job started solo finishes fused and vice versa). ``features`` (the frozen VGG-19) is
    loaded once when omitted and shared. ``feature_cache`` ("auto", "on", "off") as in Trainer;
    "auto" caches the members' features while their sum fits :func:`cache_budget` (members
    with the same image tensor share one cache). ``hooks[k]`` are member k's
    :mod:`piad.training.tracking` hooks, called as a solo Trainer calls them.
    """

    def __init__(
        self,
        configs: Sequence[PIADConfig],
        images_list: Sequence[Tensor],
        *,
        features: torch.nn.Module | None = None,
        workdirs: Sequence[str | Path | None] | None = None,
        progress: bool = True,
        autocast: str = "none",
        feature_cache: str = "auto",
        hooks: Sequence[Sequence[Any]] | None = None,
    ) -> None:
        configs = list(configs)
        if not configs:
            raise PIADError("FusedTrainer needs at least one config")
        workdirs = list(workdirs) if workdirs is not None else [None] * len(configs)
        if not len(configs) == len(images_list) == len(workdirs):
            raise PIADError(
                f"got {len(configs)} configs, {len(images_list)} image sets and "
                f"{len(workdirs)} workdirs; give one of each per member"
            )
        keys = {fusable_key(c) for c in configs}
        if len(keys) != 1:
            raise PIADError(
                "these configs cannot train fused (they differ beyond seed and bookkeeping); "
                "group them with piad.training.fused.group_fusable"
            )
        dirs = [str(Path(w).resolve()) for w in workdirs if w is not None]
        if len(set(dirs)) != len(dirs):
            raise PIADError("two fused members share a workdir; give each job its own folder")
        c = configs[0]
        self.device = resolve_device(c.device)
        if c.reconstruction in PERCEPTUAL_DISTANCES and features is None:
            from piad.perceptual import load_perceptual

            features = load_perceptual(c.perceptual_weights, c.perceptual_stats, self.device)
        self.features = features.to(self.device) if features is not None else None
        self.progress = progress
        self.feature_cache = feature_cache
        self.members: list[_Member] = []
        self.errors: dict[int, TrainingDivergedError] = {}
        member_hooks = list(hooks) if hooks is not None else [()] * len(configs)
        if len(member_hooks) != len(configs):
            raise PIADError(f"got {len(member_hooks)} hook lists for {len(configs)} members")
        for cfg, images, wd, mh in zip(configs, images_list, workdirs, member_hooks):
            member = _Member(
                cfg,
                images,
                features=self.features,
                workdir=wd,
                progress=False,
                autocast=autocast,
                feature_cache="off",  # decided for the whole group in prepare_feature_caches
                hooks=mh,
            )
            self.members.append(member)
        self._images = list(images_list)
        self._caches_ready = False

    # ------------------------------------------------------------------ state
    @property
    def k(self) -> int:
        return len(self.members)

    @property
    def iterations(self) -> list[int]:
        return [m.iteration for m in self.members]

    @property
    def iteration(self) -> int:
        """The lowest iteration of the members still training (all, when none failed)."""
        live = [m.iteration for k, m in enumerate(self.members) if k not in self.errors]
        return min(live) if live else 0

    @property
    def gammas(self) -> list[dict[str, float]]:
        return [m.gammas for m in self.members]

    # ------------------------------------------------------------------ feature caches
    def prepare_feature_caches(self) -> int:
        """Build the members' feature caches (once); returns their total bytes."""
        if self._caches_ready or self.features is None:
            self._caches_ready = True
            return 0
        self._caches_ready = True
        mode = self.feature_cache
        budget = cache_budget(self.device) if mode == "auto" else None
        used, total = 0, 0
        for k, m in enumerate(self.members):
            m._cache_decided = True
            twin = next((j for j in range(k) if self._images[j] is self._images[k]), None)
            if twin is not None and self.members[twin]._fx_cache is not None:
                m._fx_cache = self.members[twin]._fx_cache  # same images, same features
                continue
            if mode == "off":
                continue
            if mode == "auto":
                cfg = m.config
                reused = cfg.iterations * cfg.batch_size >= len(m.data)
                size = m.feature_cache_bytes()
                if not reused or budget is None or used + size > budget:
                    continue
                used += size
            m.progress = self.progress
            cache = m.build_feature_cache()
            m.progress = False
            total += cache.nbytes if cache is not None else 0
        return total

    # ------------------------------------------------------------------ loop
    def run(self, until: int | None = None) -> list[Networks | TrainingDivergedError]:
        """Train every member up to ``until`` (default: its ``config.iterations``).

        Returns one entry per member, in order: its networks, or the
        :class:`TrainingDivergedError` (or other :class:`PIADError`) that stopped it.
        """
        self.prepare_feature_caches()
        targets = [until if until is not None else m.config.iterations for m in self.members]
        todo = sum(
            max(0, t - m.iteration)
            for k, (t, m) in enumerate(zip(targets, self.members))
            if k not in self.errors
        )
        bar = tqdm(
            total=todo, disable=not self.progress, desc=f"PIAD x{self.k}", unit="model-it",
            dynamic_ncols=True,
        )  # fmt: skip
        enter_boundary()  # a stop signal: checkpoints at the end of this iteration (_stop_here)
        try:
            for m in self.members:
                m.notify("start")
            while True:
                live = [
                    k
                    for k, m in enumerate(self.members)
                    if k not in self.errors and m.iteration < targets[k]
                ]
                if not live:
                    break
                level = min(self.members[k].iteration for k in live)
                cohort = [k for k in live if self.members[k].iteration == level]
                ahead = [self.members[k].iteration for k in live if k not in cohort]
                stop = min([*ahead, *(targets[k] for k in cohort)])
                self._run_cohort(cohort, stop, bar)
            finishing = [k for k in range(self.k) if k not in self.errors]
            for k in finishing:
                try:
                    self.members[k].check_finite()
                    self.members[k].notify("end")
                except TrainingDivergedError as e:
                    self.errors[k] = e
            pending = [
                self.members[k]
                for k in range(self.k)
                if k not in self.errors
                and self.members[k]._last_checkpoint != self.members[k].iteration
            ]
            _save_together(pending)
        finally:
            leave_boundary()
            bar.close()
            for m in self.members:
                m.notify("close")
        return [
            self.errors[k] if k in self.errors else _release(m)  # type: ignore[misc]
            for k, m in enumerate(self.members)
        ]

    def _run_cohort(self, cohort: list[int], stop: int, bar: Any) -> None:
        """Train the members ``cohort`` (same iteration) fused up to ``stop``."""
        group = FusedGroup([self.members[k] for k in cohort], self.features)
        index = list(cohort)  # group position -> member index
        ticks = {k: time.perf_counter() for k in index}
        try:
            while group.iteration < stop:
                t = group.step()
                bar.update(group.k)
                failed = {index[j]: e for j, e in group.failures.items()}
                save: list[_Member] = []
                for k in index:
                    m = self.members[k]
                    if k in failed:
                        continue
                    c = m.config
                    try:
                        if t % c.log_every == 0:
                            row = m._log_row(time.perf_counter() - ticks[k])
                            ticks[k] = time.perf_counter()
                            m.notify("on_log", row)
                        if m.workdir is not None and t % c.sample_every == 0:
                            m.check_finite()
                            m.save_samples()
                        m.notify("after_step")
                        if t % c.checkpoint_every == 0:
                            m.check_finite()
                            save.append(m)
                    except TrainingDivergedError as e:
                        failed[k] = e
                if save:
                    group.export()
                    _save_together(save)
                if failed:
                    self.errors.update(failed)
                    keep = [k for k in index if k not in failed]
                    group.export()
                    if not keep:
                        return
                    group = FusedGroup([self.members[k] for k in keep], self.features)
                    index = keep
                if stop_requested() is not None:
                    group.export()
                    self._stop_here()
        finally:
            group.export()

    def _stop_here(self) -> None:
        """A stop signal: every live member's checkpoint written, then :class:`Interrupted`."""
        pending = []
        for k, m in enumerate(self.members):
            if k in self.errors or m._last_checkpoint == m.iteration:
                continue
            try:
                m.check_finite()
                pending.append(m)
            except TrainingDivergedError as e:
                self.errors[k] = e
        _save_together(pending)
        live = [m.iteration for k, m in enumerate(self.members) if k not in self.errors]
        raise Interrupted(stop_requested() or 15, min(live) if live else None)


def fit_fused(
    configs: Sequence[PIADConfig],
    images_list: Sequence[Tensor],
    workdirs: Sequence[str | Path | None] | None = None,
    features: torch.nn.Module | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> list[Networks | Exception]:
    """Train K jobs of one :func:`fusable_key` fused; one entry per job: networks or its error.

    ``kwargs`` go to :class:`FusedTrainer` (``autocast``, ``feature_cache``) and ``until`` to
    :meth:`FusedTrainer.run`.
    """
    until = kwargs.pop("until", None)
    trainer = FusedTrainer(
        configs, images_list, features=features, workdirs=workdirs, progress=progress, **kwargs
    )
    return list(trainer.run(until))


__all__ = ["PER_MEMBER_FIELDS", "FusedTrainer", "fit_fused", "fusable_key", "group_fusable"]
