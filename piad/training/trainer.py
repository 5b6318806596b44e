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
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor
from tqdm.auto import tqdm

from piad.config import PERCEPTUAL_DISTANCES, PIADConfig
from piad.errors import PIADError, TrainingDivergedError, unknown_name
from piad.grids import samples_and_reconstructions, save_grid
from piad.io import atomic_torch_save
from piad.losses import adversarial_loss, bind_distance, critic_loss
from piad.networks import Networks, build_networks
from piad.optim import Adam
from piad.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    LOG_NAME,
    LOSS_NAMES,
    SAMPLES_DIR,
    append_log_row,
    check_resumable,
    enter_boundary,
    honour_stop,
    leave_boundary,
    read_checkpoint,
    truncate_log,
)
from piad.training.data import BatchSource
from piad.training.feature_cache import (
    CACHE_BATCH,
    FEATURE_CACHE_MODES,
    FeatureCache,
    build_feature_cache,
    cache_budget,
)
from piad.training.runtime import (
    AUTOCAST_MODES,
    accelerator_rng_state,
    autocast_context,
    derived_seeds,
    network_layout,
    resolve_device,
    set_accelerator_rng_state,
)
from piad.weighting import make_weight_policies

if TYPE_CHECKING:
    from piad.training.tracking import TrainingHook

N_VIEW = 8  # images per row of the sample grids


class _GradScale(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by ``factor`` on the way back."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.factor, None


class Trainer:
    """Runs Algorithm 1 for ``config`` on ``images`` (tensor (N, C, S, S), uint8 or [-1, 1]).

    With a ``workdir``, it checkpoints there every ``config.checkpoint_every`` iterations and
    at the end (``checkpoint.pt``, atomic), appends losses and gammas to ``log.csv`` every
    ``config.log_every`` iterations, writes sample grids to ``samples/`` every
    ``config.sample_every`` iterations, and resumes from ``checkpoint.pt`` when present.
    ``autocast="bf16"`` trains under bfloat16 autocast (faster, other numerics; off by default).
    ``feature_cache`` ("auto", "on", "off") computes the real images' VGG-19 features once
    before training instead of once per step (same values; see :data:`FEATURE_CACHE_MODES`).
    ``hooks`` watch the run without changing it (:mod:`piad.training.tracking`: evaluation
    every N iterations, TensorBoard).
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
        hooks: Sequence[TrainingHook] = (),
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
        self.data = BatchSource(
            images, config.batch_size, self.device, data_seed, layout, data_order=config.data_order
        )
        self.noise = torch.Generator(device=self.device).manual_seed(noise_seed)
        self._view_seed = view_seed

        n = self.networks
        betas, decay = (config.betas[0], config.betas[1]), config.weight_decay
        self.d_params = [*n.DX.parameters(), *n.DZ.parameters()]
        self.eg_params = [*n.E.parameters(), *n.G.parameters()]
        self.opt_d = Adam(self.d_params, lr=config.lr_d, betas=betas, weight_decay=decay)
        self.opt_eg = Adam(self.eg_params, lr=config.lr_ge, betas=betas, weight_decay=decay)
        self.policies = make_weight_policies(config)

        self.iteration = 0
        self.hooks = list(hooks)
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

    def _want_cache(self) -> bool:
        if self.feature_cache != "auto":
            return self.feature_cache == "on"
        c = self.config
        reused = c.iterations * c.batch_size >= len(self.data)  # each image drawn >= once
        return reused and self.feature_cache_bytes() <= cache_budget(self.device)

    def build_feature_cache(self) -> FeatureCache | None:
        """Compute f(x) of every training image once (Alg. 1 then reads them per batch)."""
        if self.features is None:
            return None
        size = CACHE_BATCH.get(self.device.type, CACHE_BATCH["cuda"])
        with torch.no_grad(), self.autocast_context():
            self._fx_cache = build_feature_cache(
                self.features, self.data.chunks(size), len(self.data), self.device, self.progress
            )
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
            steps = [self._critic_step() for _ in range(self.config.n_dis)]
            critic = cast(Tensor, sum(steps)) / self.config.n_dis
            values = torch.cat([critic, self._encoder_generator_step(t)]).float()
        self.record_iteration(t, values)

    def record_iteration(self, t: int, values: Tensor) -> None:
        """Count iteration ``t``'s losses (``LOSS_NAMES`` order) into the running sums, with the
        divergence guard: the first non-finite iteration per loss, kept without a host sync."""
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
        enter_boundary()  # a stop signal: checkpoint at the end of this iteration (honour_stop)
        try:
            self.notify("start")
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
                    self.notify("on_log", row)
                if self.workdir is not None and t % c.sample_every == 0:
                    self.check_finite()
                    self.save_samples()
                self.notify("after_step")
                if t % c.checkpoint_every == 0:
                    self.check_finite()
                    self.save_checkpoint()
                honour_stop(self)
            self.check_finite()
            self.notify("end")
            if self._last_checkpoint != self.iteration:
                self.save_checkpoint()
        finally:
            leave_boundary()
            bar.close()
            self.notify("close")
        return self.networks

    def notify(self, event: str, *args: Any) -> None:
        """Call ``event`` ("start", "on_log", "after_step", "end", "close") on every hook."""
        for hook in self.hooks:
            if event == "close":
                hook.close()
            else:
                getattr(hook, event)(self, *args)

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
            append_log_row(self.workdir / LOG_NAME, row)
        return row

    @torch.no_grad()
    def sample_grid(self) -> Tensor:
        """Samples G(z) (fixed z, own generator), real images x and G(E(x)): 3 rows of n."""
        n = self.networks
        gen = torch.Generator().manual_seed(self._view_seed)
        z = torch.randn((N_VIEW, *self.config.latent_shape), generator=gen).to(self.device)
        x = self.data.first(min(N_VIEW, len(self.data)))
        return samples_and_reconstructions(n.G(z), x, n.G(n.E(x)))

    def save_samples(self) -> Path | None:
        """Grid of samples G(z) (fixed z), real images and reconstructions G(E(x))."""
        if self.workdir is None:
            return None
        grid = self.sample_grid()
        path = self.workdir / SAMPLES_DIR / f"iter_{self.iteration:07d}.png"
        return save_grid(grid, path, nrow=grid.shape[0] // 3)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit (on CPU)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "noise": self.noise.get_state()}
        cuda_rng = accelerator_rng_state()
        if cuda_rng is not None:
            rng["cuda"] = cuda_rng
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
        state = read_checkpoint(path)
        check_resumable(state, self.config, self.data.fingerprint(), path)
        self.networks.load_state_dict(state["networks"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.opt_eg.load_state_dict(state["opt_eg"])
        for name, policy in self.policies.items():
            policy.load_state_dict(state["policies"][name])
        self.data.load_state_dict(state["data"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.noise.set_state(rng["noise"])
        set_accelerator_rng_state(rng.get("cuda"))
        self._sums = state["log"]["sums"].to(self.device)
        self._count = int(state["log"]["count"])
        self.iteration = int(state["iteration"])
        self._last_checkpoint = self.iteration
        if self.workdir is not None:
            truncate_log(self.workdir / LOG_NAME, self.iteration)


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


__all__ = ["Trainer"]
