"""The PIAD estimator: fit on normal images, score new ones (eq. 1), save and load.

>>> model = PIAD(PIADConfig.preset("mnist")).fit(train_uint8)           # doctest: +SKIP
>>> scores = model.score(test_uint8)  # higher = more anomalous   # doctest: +SKIP
>>> model.save("mnist.pt"); PIAD.load("mnist.pt").score(test_uint8)     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import piad
from piad.config import PERCEPTUAL_DISTANCES, PIADConfig
from piad.errors import MissingInputError, PIADError
from piad.image_arrays import as_batch, to_float
from piad.io import atomic_torch_save, read_torch_file
from piad.losses import bind_distance
from piad.networks import Networks, build_networks
from piad.training.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_NAME
from piad.training.runtime import autocast_context, network_layout, resolve_device
from piad.training.trainer import Trainer

MODEL_FORMAT = "piad-model/1"
# Default scoring batch per device. On CPU the VGG-19 activations of a large batch leave the
# cache: 1,000 MNIST images scored at 2 threads ran at ~147 img/s at batch 32 vs ~104 at 256
# (benchmarks/speed.py); the GPU wants large batches.
SCORE_BATCH = {"cpu": 32, "cuda": 256}


def prepare_images(images: Any, config: PIADConfig) -> Tensor:
    """Images as a CPU tensor (N, C, S, S) for ``config`` (:func:`piad.image_arrays.as_batch`)."""
    return as_batch(images, config.in_channels, config.image_size)


class PIAD:
    """Perceptual Image Anomaly Detection (Tuluptceva et al., 2019).

    ``features`` injects a perceptual network (tests use a tiny one); otherwise
    ``piad.perceptual.load_perceptual(config.perceptual_weights, config.perceptual_stats)``
    is loaded on first need, and never when both distances are "mse".
    """

    def __init__(
        self, config: PIADConfig | None = None, *, features: torch.nn.Module | None = None
    ) -> None:
        self.config = config if config is not None else PIADConfig()
        self.device = resolve_device(self.config.device)
        self.networks: Networks = build_networks(self.config).to(self.device)
        self.networks.to(memory_format=network_layout(self.device))  # channels_last on CPU
        self._features = features
        self.iterations_run = 0
        self.fitted = False
        self.eval_history: list[dict[str, float]] = []  # fit(eval_every=...)'s rows
        self._saved_perceptual: dict[str, Any] | None = None

    # ------------------------------------------------------------------ perceptual network
    def _needs_features(self, distance: str) -> bool:
        return distance in PERCEPTUAL_DISTANCES

    def features(self) -> torch.nn.Module:
        """The perceptual network, loaded once on first use."""
        if self._features is None:
            from piad.perceptual import load_perceptual

            self._features = load_perceptual(
                self.config.perceptual_weights, self.config.perceptual_stats, self.device
            )
            self._check_same_perceptual()
        return self._features.to(self.device)

    def _check_same_perceptual(self) -> None:
        saved, now = self._saved_perceptual, getattr(self._features, "provenance", None)
        if saved and now and saved.get("stats_sha256") != now.get("stats_sha256"):
            warnings.warn(
                "the perceptual statistics differ from the ones the model was trained with "
                f"({saved.get('stats')} vs {now.get('stats')}); scores are not comparable",
                stacklevel=3,
            )

    def _distance(self, name: str):  # type: ignore[no-untyped-def]
        return bind_distance(name, self.features() if self._needs_features(name) else None)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        images: Any,
        *,
        workdir: str | Path | None = None,
        progress: bool = True,
        autocast: str = "none",
        feature_cache: str = "auto",
        eval_every: int | None = None,
        eval_data: tuple[Any, Any] | None = None,
        tensorboard: str | Path | None = None,
    ) -> PIAD:
        """Train on normal images (Alg. 1); resumes from ``workdir``'s checkpoint if present.

        ``autocast="bf16"`` trains under bfloat16 autocast: about 2x faster on CPUs with bf16
        units (benchmarks/speed.py) but other numerics (scores moved by up to 1.5%), so off
        by default. ``feature_cache`` ("auto", "on", "off") computes the training images'
        VGG-19 features once instead of at every step: same values, about 0.1 s less per
        iteration on a 2-core CPU; "auto" caches when they fit in memory.

        ``eval_every=N`` with ``eval_data=(images, labels)`` (labels 1 = anomaly) scores those
        images every N iterations and at the end, as :meth:`score` would, and keeps every
        metric of :func:`piad.metrics.detection_metrics` in :attr:`eval_history` (and
        ``workdir/eval.csv``); ``tensorboard=DIR`` writes TensorBoard event files there
        (:mod:`piad.training.tracking`). Neither changes training: the same seed gives the
        same weights with and without them.
        """
        x = prepare_images(images, self.config)
        needs = self._needs_features(self.config.reconstruction)
        hooks = self._hooks(eval_every, eval_data, workdir, tensorboard)
        trainer = Trainer(  # fresh seeded networks, or the workdir's checkpoint
            self.config,
            x,
            features=self.features() if needs else None,
            workdir=workdir,
            progress=progress,
            autocast=autocast,
            feature_cache=feature_cache,
            hooks=hooks,
        )
        trainer.run()
        self._keep_history(hooks)
        # the trainer keeps them in network_layout(device), the layout a loaded model gets too:
        # a fitted model and the same model loaded from disk then score bit-for-bit alike
        self.networks = trainer.networks
        self.iterations_run = trainer.iteration
        self.fitted = True
        return self

    @classmethod
    def fit_fused(
        cls,
        models: Sequence[PIAD],
        images: Sequence[Any],
        *,
        workdirs: Sequence[str | Path | None] | None = None,
        progress: bool = True,
        autocast: str = "none",
        feature_cache: str = "auto",
        eval_every: int | None = None,
        eval_data: Sequence[tuple[Any, Any] | None] | None = None,
        tensorboard: Sequence[str | Path | None] | None = None,
    ) -> list[PIADError | None]:
        """Train several models as ONE fused computation (:mod:`piad.training.fused`).

        ``models[k]`` is trained on ``images[k]`` exactly as ``models[k].fit(images[k],
        workdir=workdirs[k])`` would train it alone (same seed -> same weights to float
        tolerance); their configs may differ only in seed and bookkeeping
        (:func:`piad.training.fused.fusable_key`). Returns one entry per model: ``None`` when
        it trained (it is then fitted), else the error that stopped it (a diverged member fails
        alone; the others go on). ``eval_data[k]`` and ``tensorboard[k]`` are member k's, as
        :meth:`fit` takes them (every member evaluated every ``eval_every`` iterations).

        >>> errors = PIAD.fit_fused([PIAD(c) for c in configs], image_sets)   # doctest: +SKIP
        """
        from piad.training.fused import FusedTrainer

        models = list(models)
        if not models:
            raise PIADError("fit_fused needs at least one model")
        prepared = [prepare_images(x, m.config) for m, x in zip(models, images, strict=True)]
        first = models[0]
        needs = first._needs_features(first.config.reconstruction)
        features = first.features() if needs else None
        n = len(models)
        dirs = list(workdirs) if workdirs is not None else [None] * n
        evals = list(eval_data) if eval_data is not None else [None] * n
        boards = list(tensorboard) if tensorboard is not None else [None] * n
        hooks = []
        for model, wd, ev, tb in zip(models, dirs, evals, boards, strict=True):
            if needs and model is not first:
                model._features = first._features  # one frozen VGG-19 for the whole group
            hooks.append(model._hooks(eval_every if ev is not None else None, ev, wd, tb))
        trainer = FusedTrainer(
            [m.config for m in models],
            prepared,
            features=features,
            workdirs=workdirs,
            progress=progress,
            autocast=autocast,
            feature_cache=feature_cache,
            hooks=hooks,
        )
        outcome = trainer.run()
        for model, member_hooks in zip(models, hooks):
            model._keep_history(member_hooks)
        errors: list[PIADError | None] = []
        for model, member, got in zip(models, trainer.members, outcome, strict=True):
            if isinstance(got, Exception):
                errors.append(got if isinstance(got, PIADError) else PIADError(str(got)))
                continue
            model.networks = got
            model.iterations_run = member.iteration
            model.fitted = True
            if needs and model is not first:
                model._features = first._features  # one frozen VGG-19 for the whole group
            errors.append(None)
        return errors

    def _hooks(
        self,
        eval_every: int | None,
        eval_data: tuple[Any, Any] | None,
        workdir: str | Path | None,
        tensorboard: str | Path | None,
    ) -> list[Any]:
        """The :mod:`piad.training.tracking` hooks of one fit (none when nothing is asked)."""
        if not eval_every and tensorboard is None:
            return []
        from piad.training.tracking import make_hooks

        scorer, labels = None, None
        if eval_every:
            if eval_data is None:
                raise PIADError("eval_every needs eval_data=(images, labels), labels 1 = anomaly")
            images, labels = eval_data
            prepare_images(images, self.config)  # bad images fail now, not at the first eval

            def scorer(networks: Networks) -> np.ndarray:
                return self._score_networks(networks, images)

        return make_hooks(
            scorer=scorer,
            eval_every=eval_every,
            eval_labels=labels,
            workdir=workdir,
            tensorboard=tensorboard,
            what=f"seed {self.config.seed}",
        )

    def _keep_history(self, hooks: Sequence[Any]) -> None:
        self.eval_history = next((list(h.rows) for h in hooks if hasattr(h, "rows")), [])

    # ------------------------------------------------------------------ inference
    def _require_fitted(self) -> None:
        if not self.fitted:
            raise PIADError("the model is not trained: call fit(images) or PIAD.load(path) first")

    def _batches(self, images: Any, batch_size: int):  # type: ignore[no-untyped-def]
        if batch_size < 1:
            raise PIADError(f"batch_size must be >= 1, got {batch_size}")
        x = prepare_images(images, self.config)
        for i in range(0, x.shape[0], batch_size):
            yield to_float(x[i : i + batch_size].to(self.device))

    @torch.inference_mode()
    def score(
        self, images: Any, batch_size: int | None = None, autocast: str = "none"
    ) -> np.ndarray:
        """A(x) = d(x, G(E(x))) per image (eq. 1); higher = more anomalous. Shape (N,).

        ``batch_size`` None: :data:`SCORE_BATCH` for the device (32 on CPU, 256 on GPU).
        ``autocast="bf16"`` scores under bfloat16 autocast: 2-2.8x faster on a 2-core CPU with
        bf16 units; on one trained MNIST model the scores moved by 0.17% (median, 1.1% at most)
        and the AUC by -0.0015 (``python -m benchmarks.bf16_effect``). Off by default.
        """
        self._require_fitted()
        return self._score_networks(self.networks, images, batch_size, autocast)

    @torch.inference_mode()
    def _score_networks(
        self,
        networks: Networks,
        images: Any,
        batch_size: int | None = None,
        autocast: str = "none",
    ) -> np.ndarray:
        """:meth:`score` with ``networks`` (a model in training: the evaluation hook)."""
        if batch_size is None:
            batch_size = SCORE_BATCH.get(self.device.type, SCORE_BATCH["cuda"])
        distance = self._distance(self.config.score_distance_name)
        E, G = networks.E, networks.G
        with autocast_context(self.device, autocast):
            out = [distance(x, G(E(x))).float().cpu() for x in self._batches(images, batch_size)]
        return torch.cat(out).numpy().astype(np.float64)

    @torch.no_grad()
    def reconstruct(self, images: Any, batch_size: int = 256) -> Tensor:
        """G(E(x)) for each image, float (N, C, S, S) on CPU (linear output, about [-1, 1])."""
        self._require_fitted()
        E, G = self.networks.E, self.networks.G
        return torch.cat([G(E(x)).cpu() for x in self._batches(images, batch_size)])

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> Tensor:
        """G(z) for n latent codes z ~ N(0, I) drawn from ``seed``; float on CPU."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn((n, *self.config.latent_shape), generator=gen)
        return self.networks.G(z.to(self.device)).cpu()

    # ------------------------------------------------------------------ persistence
    def provenance(self) -> dict[str, Any]:
        """What made this model: config, perceptual weights/stats, iterations, device, versions."""
        perceptual = None
        if self.config.needs_perceptual:  # an injected but unused extractor is not recorded
            perceptual = getattr(self._features, "provenance", None) or self._saved_perceptual
        return _plain(
            {
                "config": self.config.to_dict(),
                "perceptual": perceptual,
                "reconstruction": self.config.reconstruction,
                "score_distance": self.config.score_distance_name,
                "iterations": self.iterations_run,
                **({"eval_history": self.eval_history} if self.eval_history else {}),
                "device": str(self.device),
                "torch": torch.__version__,
                "piad": piad.__version__,
                "python": platform.python_version(),
            }
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write config, networks and provenance to ``path`` (atomic; torch.load-able)."""
        self._require_fitted()
        state = {k: v.detach().cpu() for k, v in self.networks.state_dict().items()}
        return atomic_torch_save(
            {
                "format": MODEL_FORMAT,
                "config": self.config.to_dict(),
                "networks": state,
                "provenance": self.provenance(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | None = None) -> PIAD:
        """A model written by :meth:`save`, or the networks of a training checkpoint.

        ``device`` overrides the saved config's. A checkpoint (``checkpoint.pt``, or a training
        workdir holding one) is read by :meth:`from_checkpoint`.
        """
        path = Path(path)
        if path.is_dir():
            return cls.from_checkpoint(path, device)
        if not path.is_file():
            raise MissingInputError(
                f"no model file at {path}; train one with PIAD(config).fit(images)"
            )
        blob = read_torch_file(path, "model file")
        if isinstance(blob, dict) and blob.get("format") == CHECKPOINT_FORMAT:
            return cls._from_checkpoint_state(blob, device)
        if not isinstance(blob, dict) or blob.get("format") != MODEL_FORMAT:
            raise PIADError(
                f"{path} is neither a PIAD model ({MODEL_FORMAT}) nor a training checkpoint "
                f"({CHECKPOINT_FORMAT}); give a file written by PIAD.save or a checkpoint.pt"
            )
        provenance = blob.get("provenance") or {}
        return cls._restore(blob["config"], blob["networks"], device, provenance)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], device: str | None = None) -> PIAD:
        """The model at the last checkpoint of a training run (``fit(workdir=...)``).

        ``path`` is a ``checkpoint.pt`` or the workdir holding it. The model is scored as a
        fitted one; training continues only through ``fit`` with the same workdir.

        >>> model = PIAD.from_checkpoint("runs/mnist-0")               # doctest: +SKIP
        >>> model.iterations_run                                       # doctest: +SKIP
        5000
        """
        from piad.training.checkpoint import read_checkpoint

        path = Path(path)
        if path.is_dir():
            path = path / CHECKPOINT_NAME
        if not path.is_file():
            raise MissingInputError(
                f"no training checkpoint at {path}; give a checkpoint.pt or the workdir of a "
                "PIAD training run"
            )
        model = cls._from_checkpoint_state(read_checkpoint(path), device)
        from piad.training.tracking import EVAL_NAME, read_eval_csv

        rows = read_eval_csv(path.parent / EVAL_NAME)  # fit(eval_every=...) beside it
        model.eval_history = [r for r in rows if r["iteration"] <= model.iterations_run]
        return model

    @classmethod
    def _from_checkpoint_state(cls, state: dict[str, Any], device: str | None) -> PIAD:
        provenance = {"iterations": int(state.get("iteration", 0))}
        return cls._restore(state["config"], state["networks"], device, provenance)

    @classmethod
    def _restore(
        cls,
        config_dict: dict[str, Any],
        networks: dict[str, Any],
        device: str | None,
        provenance: dict[str, Any],
    ) -> PIAD:
        config = PIADConfig.from_saved(config_dict)  # a field added later: the old behaviour
        if device is not None:
            config = config.replace(device=device)
        model = cls(config)
        model.networks.load_state_dict(networks)
        model.iterations_run = int(provenance.get("iterations", 0))
        model.eval_history = list(provenance.get("eval_history") or [])
        model._saved_perceptual = provenance.get("perceptual")
        model.fitted = True
        return model


def _plain(obj: Any) -> Any:
    """JSON-able copy (str for anything exotic), loadable with ``weights_only=True``."""
    return json.loads(json.dumps(obj, default=str))


__all__ = ["MODEL_FORMAT", "PIAD", "SCORE_BATCH", "prepare_images"]
