"""Algorithm 1: training of E, G, D_X and D_Z, with checkpoints, exact resume and logs.

One iteration (1-based ``t``):

1. ``n_dis`` critic steps, each on a fresh batch x and prior sample z: D_X learns real x vs
   G(z), D_Z learns prior z ("real") vs E(x) ("fake"); WGAN-GP with drift (eq. 5).
2. One E+G step on a fresh batch: L_adv(G) = -E[D_X(G(z))], L_adv(E) = -E[D_Z(E(x))] (eq. 6),
   L_rec = E[d(x, G(E(x)))] (eq. 7). Backpropagate L_rec, multiply G's gradients by gamma_G
   and E's by gamma_E, backpropagate both adversarial losses, one Adam step (Alg. 1, l. 15-17).
   When ``t % n_weight == 0`` the weight policy first records each loss's gradients (Alg. 2)
   and selects new gammas (Alg. 3). Because L_adv(G) reaches only G and L_adv(E) only E, one
   backward pass of their sum gives both "alone" gradients, one of L_rec the third, and the
   E+G gradient is rebuilt from them as gamma * grad(L_rec) + grad(L_adv): no extra passes.
   On the other iterations ONE backward pass of gamma_G * L_rec + L_adv(G) + L_adv(E) gives
   the same gradients, with the reconstruction path into E rescaled by gamma_E / gamma_G at
   E(x). The real images' VGG features are computed once per step.

Everything random draws from two seeded ``torch.Generator`` objects (data order; latent
samples and gradient-penalty mixing), saved in every checkpoint with the networks, optimisers,
weight-policy histories and the iteration: a resumed run continues bit-for-bit on CPU.

>>> trainer = Trainer(config, images, workdir="runs/mnist-0")   # doctest: +SKIP
>>> networks = trainer.run()                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from piad.config import PERCEPTUAL_DISTANCES, PIADConfig
from piad.errors import PIADError, TrainingDivergedError, unknown_name
from piad.feature_cache import FeatureCache
from piad.grids import samples_and_reconstructions, save_grid
from piad.io import atomic_torch_save, atomic_write_text, read_torch_file
from piad.networks import Networks, build_networks
from piad.optim import Adam
from piad.weighting import make_weight_policies

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.csv"
SAMPLES_DIR = "samples"
CHECKPOINT_FORMAT = "piad-checkpoint/1"
LOSS_NAMES = ("loss_dx", "loss_dz", "adv_g", "adv_e", "rec")
LOG_COLUMNS = ("iteration", *LOSS_NAMES, "gamma_g", "gamma_e", "seconds_per_iteration")
# fields that may change between a checkpoint and the run that resumes it
RESUMABLE_FIELDS = frozenset(
    {"iterations", "checkpoint_every", "log_every", "sample_every", "device"}
)
N_VIEW = 8  # images per row of the sample grids
# E, G, D_X and the training batches in channels_last on CPU: measured 10-20% faster critic and
# E+G steps (MNIST and CIFAR-10 presets, 2 threads; benchmarks/speed.py), and E+G 10% faster when
# scoring (PIAD keeps this layout too). Not applied on CUDA (unmeasured there).
CPU_CHANNELS_LAST = True
# Trainer(autocast=...): "bf16" runs each iteration under torch.autocast(bfloat16). It changes the
# numerics, so it is off by default; measured 2.7-2.8x faster on a 2-core AVX-512-BF16 CPU (MNIST
# and CIFAR-10 presets, benchmarks/speed.py --autocast bf16); its effect on scores and AUC is
# measured by benchmarks/bf16_effect.py (README, Speed).
AUTOCAST_MODES = ("none", "bf16")
# Trainer(feature_cache=...): the real images' VGG-19 features f(x) are a fixed function of the
# fixed training set (the network is frozen, there is no augmentation), so they can be computed
# once before training instead of once per E+G step. Same algorithm, same values (bit-identical
# training, tested); measured 0.088 s less per MNIST E+G step (2 threads). "auto"
# caches when the features fit the budget below and training draws each image at least once on
# average; "on" always, "off" never.
FEATURE_CACHE_MODES = ("auto", "on", "off")
CPU_CACHE_FRACTION = 1 / 16  # of physical memory (24 GiB -> 1.5 GiB)
CUDA_CACHE_FRACTION = 1 / 4  # of free device memory
CACHE_BATCH = {"cpu": 64, "cuda": 512}


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other names as torch spells them."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PIADError(f"device {name!r} asked for, but CUDA is not available; use device='cpu'")
    return device


def autocast_context(device: torch.device, mode: str) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast(device.type, bfloat16)`` for ``mode="bf16"``, a no-op for ``"none"``."""
    if mode not in AUTOCAST_MODES:
        raise unknown_name("autocast mode", mode, AUTOCAST_MODES)
    if mode == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def release_free_heap() -> bool:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``); False where unavailable.

    Called once after the feature cache is built: the freed activations of the build sit between
    the cache's blocks and would otherwise stay resident (measured -15 to -25 MiB training peak on
    the MNIST preset; one call takes about 20 ms).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False


def network_layout(device: torch.device) -> torch.memory_format:
    """Memory format of E, G, D_X and their inputs: channels_last on CPU, the default elsewhere."""
    if device.type == "cpu" and CPU_CHANNELS_LAST:
        return torch.channels_last
    return torch.contiguous_format


def derived_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds from one seed (numpy SeedSequence)."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]


def to_float_images(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]; float images pass through as float32."""
    if x.dtype == torch.uint8:
        return x.float().div_(127.5).sub_(1.0)
    return x.float()


def bind_distance(name: str, features: torch.nn.Module | None) -> Callable[..., Tensor]:
    """Per-sample distance ``d(x, y, fx=None) -> (N,)`` with the feature extractor bound.

    ``fx`` (raw features of the real images) is reused by the perceptual distances.
    """
    from piad.losses import get_distance

    fn = get_distance(name)
    if name in PERCEPTUAL_DISTANCES:
        if features is None:
            raise PIADError(f"distance {name!r} needs the perceptual network, none was loaded")
        return lambda x, y, fx=None: fn(x, y, features, fx=fx)
    return lambda x, y, fx=None: fn(x, y)


class _GradScale(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by ``factor`` on the way back."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.factor, None


class BatchSource:
    """Training images kept as one tensor (on ``device`` when it fits) and batches drawn there.

    The order is an endless stream of seeded random permutations (epochs), cut into batches;
    a batch may span two epochs, so no image is skipped and sets smaller than a batch work.
    """

    def __init__(
        self,
        images: Tensor,
        batch_size: int,
        device: torch.device,
        seed: int,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        if images.shape[0] < 1:
            raise PIADError("no training images: pass at least one image")
        try:
            self.images = images.to(device)
        except torch.OutOfMemoryError:  # keep them on the host; batches travel each step
            self.images = images.pin_memory() if device.type == "cuda" else images
        self.device = device
        self.batch_size = batch_size
        self.memory_format = memory_format
        self.generator = torch.Generator(device=self.images.device).manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long, device=self.images.device)
        self._pos = 0
        self.last_index: Tensor | None = None  # indices of the last batch (feature cache)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def next(self) -> Tensor:
        """The next batch as float32 [-1, 1] on ``device``."""
        b = self.batch_size
        if self._pos + b > self._order.numel():
            parts, have = [self._order[self._pos :]], self._order.numel() - self._pos
            while have < b:
                parts.append(
                    torch.randperm(len(self), generator=self.generator, device=self.images.device)
                )
                have += len(self)
            self._order, self._pos = torch.cat(parts), 0
        idx = self._order[self._pos : self._pos + b]
        self._pos += b
        self.last_index = idx
        x = to_float_images(self.images[idx].to(self.device, non_blocking=True))
        return x.contiguous(memory_format=self.memory_format)

    def first(self, n: int) -> Tensor:
        return to_float_images(self.images[:n].to(self.device))

    def chunks(self, size: int) -> Iterator[Tensor]:
        """All images in order, ``size`` at a time, as float32 [-1, 1] on ``device``."""
        for i in range(0, len(self), size):
            x = to_float_images(self.images[i : i + size].to(self.device))
            yield x.contiguous(memory_format=self.memory_format)

    def fingerprint(self) -> list[float]:
        """Shape and a cheap checksum (strided subsample) to recognise the data on resume."""
        step = max(1, len(self) // 1024)
        sub = self.images[::step].double()
        sums = (float(sub.sum()), float(sub.square().sum()))  # exact for uint8 images
        return [*map(float, self.images.shape), *(float(f"{v:.9g}") for v in sums)]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": self._order.cpu(),
            "pos": self._pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.images.device)
        self._pos = int(state["pos"])


class Trainer:
    """Runs Algorithm 1 for ``config`` on ``images`` (tensor (N, C, S, S), uint8 or [-1, 1]).

    With a ``workdir``, it checkpoints there every ``config.checkpoint_every`` iterations and
    at the end (``checkpoint.pt``, atomic), appends losses and gammas to ``log.csv`` every
    ``config.log_every`` iterations, writes sample grids to ``samples/`` every
    ``config.sample_every`` iterations, and resumes from ``checkpoint.pt`` when present.
    ``autocast="bf16"`` trains under bfloat16 autocast (faster, other numerics; off by default).
    ``feature_cache`` ("auto", "on", "off") computes the real images' VGG-19 features once
    before training instead of once per step (same values; see :data:`FEATURE_CACHE_MODES`).
    """

    def __init__(
        self,
        config: PIADConfig,
        images: Tensor,
        *,
        networks: Networks | None = None,
        features: torch.nn.Module | None = None,
        workdir: str | Path | None = None,
        progress: bool = True,
        autocast: str = "none",
        feature_cache: str = "auto",
    ) -> None:
        if autocast not in AUTOCAST_MODES:
            raise unknown_name("autocast mode", autocast, AUTOCAST_MODES)
        if feature_cache not in FEATURE_CACHE_MODES:
            raise unknown_name("feature_cache mode", feature_cache, FEATURE_CACHE_MODES)
        self.config = config
        self.autocast = autocast
        self.feature_cache = feature_cache
        self._fx_cache: FeatureCache | None = None
        self._cache_decided = False
        self.device = resolve_device(config.device)
        _check_images(images, config)
        data_seed, noise_seed, view_seed = derived_seeds(config.seed, 3)
        self.networks = (networks if networks is not None else build_networks(config)).to(
            self.device
        )
        needs_features = config.reconstruction in PERCEPTUAL_DISTANCES
        if needs_features and features is None:
            from piad.perceptual import load_perceptual

            features = load_perceptual(
                config.perceptual_weights, config.perceptual_stats, self.device
            )
        self.features = features.to(self.device) if needs_features and features else None
        self.distance = bind_distance(config.reconstruction, self.features)
        layout = network_layout(self.device)
        self.networks.to(memory_format=layout)  # in place, like .to(device) above
        self.data = BatchSource(images, config.batch_size, self.device, data_seed, layout)
        self.noise = torch.Generator(device=self.device).manual_seed(noise_seed)
        self._view_seed = view_seed

        n = self.networks
        adam = {"betas": tuple(config.betas), "weight_decay": config.weight_decay}
        self.d_params = [*n.DX.parameters(), *n.DZ.parameters()]
        self.eg_params = [*n.E.parameters(), *n.G.parameters()]
        self.opt_d = Adam(self.d_params, lr=config.lr_d, **adam)
        self.opt_eg = Adam(self.eg_params, lr=config.lr_ge, **adam)
        self.policies = make_weight_policies(config)

        self.iteration = 0
        self.progress = progress
        self.workdir = Path(workdir) if workdir is not None else None
        self._sums = torch.zeros(len(LOSS_NAMES), device=self.device)
        self._count = 0
        self._first_bad = torch.full((len(LOSS_NAMES),), -1, dtype=torch.long, device=self.device)
        self._last_checkpoint = 0
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_checkpoint(self.checkpoint_path)

    # ------------------------------------------------------------------ paths
    @property
    def checkpoint_path(self) -> Path | None:
        return self.workdir / CHECKPOINT_NAME if self.workdir is not None else None

    @property
    def gammas(self) -> dict[str, float]:
        return {name: policy.gamma for name, policy in self.policies.items()}

    # ------------------------------------------------------------------ steps
    def _prior(self, n: int) -> Tensor:
        """z ~ N(0, I) of shape (n, latent_dim, r, r)."""
        shape = (n, *self.config.latent_shape)
        return torch.randn(shape, generator=self.noise, device=self.device)

    def _critic_step(self) -> Tensor:
        """Alg. 1 lines 2-5: one update of D_X and D_Z on a fresh batch; returns both losses."""
        from piad.losses import critic_loss

        c, n = self.config, self.networks
        x, z = self.data.next(), self._prior(c.batch_size)
        with torch.no_grad():
            fake_x, fake_z = n.G(z), n.E(x)
        loss_dx = critic_loss(n.DX, x, fake_x, c.gp_weight, c.drift, generator=self.noise)
        loss_dz = critic_loss(n.DZ, z, fake_z, c.gp_weight, c.drift, generator=self.noise)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_dx + loss_dz).backward()
        self.opt_d.step()
        return torch.stack([loss_dx.detach(), loss_dz.detach()])

    def _scale_rec_grads(self) -> None:
        """Alg. 1 line 15: multiply G's gradients by gamma_G and E's by gamma_E."""
        for name in ("G", "E"):
            net = getattr(self.networks, name)
            grads = [p.grad for p in net.parameters() if p.grad is not None]
            torch._foreach_mul_(grads, self.policies[name].gamma)

    def _encoder_generator_step(self, t: int) -> Tensor:
        """Alg. 1 lines 6-17; returns (L_adv(G), L_adv(E), L_rec)."""
        from piad.losses import adversarial_loss

        c, n = self.config, self.networks
        b = c.batch_size
        pol_g, pol_e = self.policies["G"], self.policies["E"]
        due = pol_g.due(t) or pol_e.due(t)
        one_pass = not due and pol_g.gamma > 0
        x, z = self.data.next(), self._prior(b)
        fx = self._real_features(x)  # computed once per step (or cached), reused below
        for p in self.d_params:
            p.requires_grad_(False)  # the critics are fixed here; skip their weight gradients
        try:
            ez = n.E(x)
            if due:  # separate G passes, so each loss's backward pass covers only its half
                fake_x, rec_x = n.G(z), n.G(ez)
            else:  # one G pass for G(z) and G(E(x)); see _GradScale for the weighting
                ez_rec = _GradScale.apply(ez, pol_e.gamma / pol_g.gamma) if one_pass else ez
                fake_x, rec_x = n.G(torch.cat([z, ez_rec])).split(b)
            adv_g = adversarial_loss(n.DX(fake_x))  # eq. 6
            adv_e = adversarial_loss(n.DZ(ez))
            rec = self.distance(x, rec_x, fx=fx).mean()  # eq. 7
            adv = adv_g + adv_e
            self.opt_eg.zero_grad(set_to_none=True)
            if one_pass:
                # gamma_G * grad(L_rec) reaches G; the rec path into E is rescaled at E(x) to
                # gamma_E / gamma_G, so E gets gamma_E * grad(L_rec): eq. 8-9 in one pass
                (pol_g.gamma * rec + adv).backward()
            elif due:
                self._policy_backward(t, adv, rec)
            else:  # gamma_G == 0: Alg. 1 lines 15-16 literally
                rec.backward(retain_graph=True)
                self._scale_rec_grads()
                adv.backward()
            self.opt_eg.step()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        return torch.stack([adv_g.detach(), adv_e.detach(), rec.detach()])

    # ------------------------------------------------------------------ feature cache
    def _real_features(self, x: Tensor) -> Tensor | None:
        """f(x) of the batch just drawn: from the cache when there is one, else computed."""
        if self.features is None:
            return None
        self.prepare_feature_cache()
        if self._fx_cache is not None and self.data.last_index is not None:
            return self._fx_cache[self.data.last_index]
        with torch.no_grad():
            return self.features(x)

    def prepare_feature_cache(self) -> FeatureCache | None:
        """Decide (once) whether to cache, per ``feature_cache``, and build the cache if so."""
        if not self._cache_decided:
            self._cache_decided = True
            if self.features is not None and self._want_cache():
                self.build_feature_cache()
        return self._fx_cache

    def feature_cache_bytes(self) -> int:
        """Size of the cache of every training image's features (one forward pass to learn it)."""
        if self.features is None:
            return 0
        with torch.no_grad(), self.autocast_context():
            f = self.features(self.data.first(1))
        return len(self.data) * f[0].numel() * f.element_size()

    def _cache_budget(self) -> int:
        if self.device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(self.device)
            return int(free * CUDA_CACHE_FRACTION)
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            physical = 8 << 30
        return int(physical * CPU_CACHE_FRACTION)

    def _want_cache(self) -> bool:
        if self.feature_cache != "auto":
            return self.feature_cache == "on"
        c = self.config
        reused = c.iterations * c.batch_size >= len(self.data)  # each image drawn >= once
        return reused and self.feature_cache_bytes() <= self._cache_budget()

    def build_feature_cache(self) -> FeatureCache | None:
        """Compute f(x) of every training image once (Alg. 1 then reads them per batch)."""
        if self.features is None:
            return None
        size = CACHE_BATCH.get(self.device.type, CACHE_BATCH["cuda"])
        cache: FeatureCache | None = None
        bar = tqdm(
            total=len(self.data),
            disable=not self.progress,
            desc="VGG features",
            unit="img",
            dynamic_ncols=True,
            leave=False,
        )
        try:
            with torch.no_grad(), self.autocast_context():
                for x in self.data.chunks(size):
                    f = self.features(x)
                    if cache is None:  # packed on CPU (memory), dense on CUDA (speed)
                        packed = f.device.type == "cpu"
                        cache = FeatureCache(len(self.data), f.shape[1:], f.dtype, f.device, packed)
                    cache.put(cache.filled, f)
                    bar.update(x.shape[0])
            self._fx_cache = cache
            if self.device.type == "cpu":
                release_free_heap()  # the build's freed activations, interleaved with the cache
        except torch.OutOfMemoryError:
            warnings.warn(
                "the training images' VGG features do not fit in memory; computing them per "
                "step instead (pass feature_cache='off' to skip this attempt)",
                stacklevel=2,
            )
            self._fx_cache = None
        finally:
            bar.close()
        self._cache_decided = True
        return self._fx_cache

    def _policy_backward(self, t: int, adv: Tensor, rec: Tensor) -> None:
        """Alg. 1 lines 9-16 at an update iteration: record, select gammas, combine."""
        n = self.networks
        pol_g, pol_e = self.policies["G"], self.policies["E"]
        # Alg. 2: gradients of each loss alone (L_adv(G) reaches only G, L_adv(E) only E)
        adv.backward(retain_graph=True)  # E(x) is shared with L_rec
        pol_g.record("adv", n.G)
        pol_e.record("adv", n.E)
        adv_grads = [p.grad for p in self.eg_params]
        for p in self.eg_params:
            p.grad = None
        rec.backward()
        pol_g.record("rec", n.G)
        pol_e.record("rec", n.E)
        for name, policy in self.policies.items():  # Alg. 3
            gamma = policy.update()
            if not math.isfinite(gamma):
                self.check_finite()  # a NaN loss is the likelier cause: name it
                raise TrainingDivergedError(
                    f"gamma_{name} became {gamma} at iteration {t}: the gradients are "
                    f"not finite; {self._kept_checkpoint_hint()}"
                )
        self._scale_rec_grads()  # line 15
        for p, g in zip(self.eg_params, adv_grads):  # line 16: add the adversarial gradients
            if g is not None:
                p.grad = g if p.grad is None else p.grad.add_(g)

    def autocast_context(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast(device, bfloat16)`` when ``autocast="bf16"``, else a no-op."""
        return autocast_context(self.device, self.autocast)

    def step(self) -> None:
        """One iteration of Algorithm 1."""
        t = self.iteration + 1
        with self.autocast_context():
            critic = sum(self._critic_step() for _ in range(self.config.n_dis)) / self.config.n_dis
            values = torch.cat([critic, self._encoder_generator_step(t)]).float()
        # divergence guard without a host sync: remember the first bad iteration per loss
        bad = ~torch.isfinite(values)
        self._first_bad = torch.where(bad & (self._first_bad < 0), t, self._first_bad)
        self._sums += values
        self._count += 1
        self.iteration = t

    # ------------------------------------------------------------------ loop
    def run(self, until: int | None = None) -> Networks:
        """Train up to iteration ``until`` (default ``config.iterations``); returns the networks."""
        c = self.config
        until = c.iterations if until is None else until
        bar = tqdm(
            total=until,
            initial=self.iteration,
            disable=not self.progress,
            desc="PIAD",
            unit="it",
            dynamic_ncols=True,
        )
        tick = time.perf_counter()
        try:
            while self.iteration < until:
                self.step()
                t = self.iteration
                bar.update(1)
                if t % c.log_every == 0:
                    row = self._log_row(time.perf_counter() - tick)
                    tick = time.perf_counter()
                    bar.set_postfix(
                        {k: f"{row[k]:.3g}" for k in ("loss_dx", "loss_dz", "rec")}
                        | {"gG": f"{row['gamma_g']:.3g}", "gE": f"{row['gamma_e']:.3g}"}
                    )
                if self.workdir is not None and t % c.sample_every == 0:
                    self.check_finite()
                    self.save_samples()
                if t % c.checkpoint_every == 0:
                    self.check_finite()
                    self.save_checkpoint()
            self.check_finite()
            if self._last_checkpoint != self.iteration:
                self.save_checkpoint()
        finally:
            bar.close()
        return self.networks

    # ------------------------------------------------------------------ guard and logs
    def _kept_checkpoint_hint(self) -> str:
        if self.checkpoint_path is None:
            return "no workdir, so no checkpoint was written"
        if not self._last_checkpoint:
            return "no checkpoint was written yet; lower the learning rates or check the data"
        return (
            f"the last good checkpoint ({self.checkpoint_path}, iteration "
            f"{self._last_checkpoint}) is kept; lower the learning rates or check the data"
        )

    def check_finite(self) -> None:
        """Raise :class:`TrainingDivergedError` if any loss was NaN/inf (one host sync)."""
        first_bad = self._first_bad.tolist()
        hits = [(it, name) for it, name in zip(first_bad, LOSS_NAMES) if it >= 0]
        if hits:
            it, name = min(hits)
            raise TrainingDivergedError(
                f"loss {name} became NaN or inf at iteration {it}; {self._kept_checkpoint_hint()}"
            )

    def _log_row(self, seconds: float) -> dict[str, float]:
        """Mean losses since the last row, current gammas; appended to log.csv (one sync)."""
        self.check_finite()
        means = (self._sums / max(self._count, 1)).tolist()
        row: dict[str, float] = {"iteration": self.iteration}
        row.update(zip(LOSS_NAMES, means))
        row["gamma_g"] = self.policies["G"].gamma
        row["gamma_e"] = self.policies["E"].gamma
        row["seconds_per_iteration"] = seconds / max(self._count, 1)
        self._sums.zero_()
        self._count = 0
        if self.workdir is not None:
            path = self.workdir / LOG_NAME
            new = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", newline="") as f:  # one whole line per write: append-safe
                writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
        return row

    def _truncate_log(self) -> None:
        """Drop log rows written after the checkpoint we resume from (a killed run's tail)."""
        path = self.workdir / LOG_NAME if self.workdir is not None else None
        if path is None or not path.exists():
            return
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        keep = [r for r in rows if r.get("iteration") and int(r["iteration"]) <= self.iteration]
        if len(keep) != len(rows):
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(keep)
            atomic_write_text(path, buf.getvalue())

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        """Grid of samples G(z) (fixed z), real images and reconstructions G(E(x))."""
        if self.workdir is None:
            return None
        n = self.networks
        gen = torch.Generator().manual_seed(self._view_seed)
        z = torch.randn((N_VIEW, *self.config.latent_shape), generator=gen).to(self.device)
        x = self.data.first(min(N_VIEW, len(self.data)))
        grid = samples_and_reconstructions(n.G(z), x, n.G(n.E(x)))
        path = self.workdir / SAMPLES_DIR / f"iter_{self.iteration:07d}.png"
        return save_grid(grid, path, nrow=x.shape[0])

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit (on CPU)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "noise": self.noise.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration,
            "config": self.config.to_dict(),
            "data_fingerprint": self.data.fingerprint(),
            "networks": self.networks.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "opt_eg": self.opt_eg.state_dict(),
            "policies": {k: p.state_dict() for k, p in self.policies.items()},
            "data": self.data.state_dict(),
            "rng": rng,
            "log": {"sums": self._sums.cpu(), "count": self._count},
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoint.pt`` atomically (no-op without a workdir)."""
        if self.checkpoint_path is None:
            return None
        atomic_torch_save(self.state_dict(), self.checkpoint_path)
        self._last_checkpoint = self.iteration
        return self.checkpoint_path

    def load_checkpoint(self, path: str | Path) -> None:
        """Resume from a checkpoint of the same config and data."""
        state = read_torch_file(path, "checkpoint", hint="; delete it to start over")
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise PIADError(f"{path} is not a PIAD training checkpoint; use another workdir")
        saved = PIADConfig.from_dict(state["config"]).to_dict()
        mine = self.config.to_dict()
        differ = sorted(k for k in mine if k not in RESUMABLE_FIELDS and saved[k] != mine[k])
        if differ:
            detail = ", ".join(f"{k}: {saved[k]!r} -> {mine[k]!r}" for k in differ)
            raise PIADError(
                f"checkpoint {path} was made with another config ({detail}); use another "
                "workdir or delete the checkpoint"
            )
        if state["data_fingerprint"] != self.data.fingerprint():
            raise PIADError(
                f"checkpoint {path} was trained on other images (shape or checksum differ); "
                "use another workdir or delete the checkpoint"
            )
        self.networks.load_state_dict(state["networks"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.opt_eg.load_state_dict(state["opt_eg"])
        for name, policy in self.policies.items():
            policy.load_state_dict(state["policies"][name])
        self.data.load_state_dict(state["data"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.noise.set_state(rng["noise"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._sums = state["log"]["sums"].to(self.device)
        self._count = int(state["log"]["count"])
        self.iteration = int(state["iteration"])
        self._last_checkpoint = self.iteration
        self._truncate_log()


def _check_images(images: Tensor, config: PIADConfig) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise PIADError(
            "Trainer needs a tensor (N, C, H, W) of uint8 or [-1, 1] float images; "
            "PIAD.fit converts numpy arrays"
        )
    _n, ch, h, w = images.shape
    size = config.image_size
    if ch != config.in_channels or (h, w) != (size, size):
        raise PIADError(
            f"images are {ch}x{h}x{w} but the config expects {config.in_channels}x{size}x{size}; "
            "PIAD.fit resizes, or pick the matching preset"
        )
    if not (images.dtype == torch.uint8 or images.is_floating_point()):
        raise PIADError(f"images must be uint8 or floating point, got {images.dtype}")


__all__ = [
    "AUTOCAST_MODES",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "FEATURE_CACHE_MODES",
    "LOG_COLUMNS",
    "LOG_NAME",
    "BatchSource",
    "Trainer",
    "autocast_context",
    "bind_distance",
    "derived_seeds",
    "network_layout",
    "resolve_device",
    "to_float_images",
]
