"""Deep SVDD as an estimator of the suite: ``fit(train_images)``, ``score(images)``.

    from baselines.deep_svdd import DeepSVDD
    scores = DeepSVDD(family="mnist", seed=0).fit(train_images).score(test_images)

Higher scores are more anomalous: ||phi(x) - c||^2 for one-class Deep SVDD and
||phi(x) - c||^2 - R^2 for soft-boundary Deep SVDD (Ruff et al. 2018, eq. 5).
``epochs=None`` and ``pretrain_epochs=None`` mean the published budget (``RECIPES``);
anything smaller is recorded in ``info()["budget"]`` so reports can flag a reduced budget.
With ``workdir`` the fit writes a checkpoint after every epoch and resumes from it; a later
fit with more training ``epochs`` (all else equal) continues the same run, which is exactly the
longer run because the learning rate depends on the epoch index only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.deep_svdd import training as T
from baselines.deep_svdd.data import DeepSVDDPreprocessor
from baselines.deep_svdd.networks import FAMILIES, LeNetAutoencoder, LeNetEncoder
from piad.errors import PIADError, lookup
from piad.io import atomic_torch_save


@dataclass(frozen=True)
class Recipe:
    """One family's published schedule (the authors' README and scripts; facts note)."""

    pretrain_epochs: int
    pretrain_lr: float
    pretrain_milestones: tuple[int, ...]
    pretrain_weight_decay: float
    epochs: int
    lr: float
    milestones: tuple[int, ...]
    weight_decay: float
    batch_size: int = 200
    nu: float = 0.1


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(150, 1e-4, (50,), 0.5e-3, 150, 1e-4, (50,), 0.5e-6),
    "cifar10": Recipe(350, 1e-4, (250,), 0.5e-6, 150, 1e-4, (50,), 0.5e-6),
}
OBJECTIVES = {"one-class": "deep-svdd", "soft-boundary": "deep-svdd-soft"}
CHECKPOINT = "deep_svdd_checkpoint.pt"


class DeepSVDD:
    """Deep SVDD with autoencoder pre-training, on one normal class's images."""

    def __init__(
        self,
        objective: str = "one-class",
        family: str = "mnist",
        seed: int = 0,
        device: str = "cpu",
        epochs: int | None = None,
        pretrain_epochs: int | None = None,
        workdir: str | Path | None = None,
        progress: bool = False,
        nu: float | None = None,
    ) -> None:
        self.name = lookup(OBJECTIVES, "Deep SVDD objective", objective)
        self.recipe = lookup(RECIPES, "Deep SVDD network family", family)
        for what, value in (("epochs", epochs), ("pretrain_epochs", pretrain_epochs)):
            if value is not None and value < 0:
                raise PIADError(f"Deep SVDD {what} must be >= 0, got {value}")
        self.nu = self.recipe.nu if nu is None else float(nu)
        if not 0.0 < self.nu <= 1.0:
            raise PIADError(f"Deep SVDD nu must be in (0, 1], got {self.nu}")
        self.objective, self.family, self.seed, self.device = objective, family, seed, device
        self.epochs = self.recipe.epochs if epochs is None else epochs
        self.pretrain_epochs = (
            self.recipe.pretrain_epochs if pretrain_epochs is None else pretrain_epochs
        )
        self.workdir = None if workdir is None else Path(workdir)
        self.progress = progress
        self.net_: LeNetEncoder | None = None
        self.c_: torch.Tensor | None = None
        self.radius_: float = 0.0
        self.pre_ = DeepSVDDPreprocessor(family)
        self.history_: dict[str, list[float]] = {"pretrain": [], "train": []}
        self.n_train_ = 0
        self.seconds_ = 0.0
        self.resumed_from_: str | None = None

    @property
    def needs_holdout(self) -> bool:
        """Deep SVDD uses no labels."""
        return False

    # -- fitting ------------------------------------------------------------------------
    def _key(self) -> dict[str, Any]:
        return {
            "objective": self.objective, "family": self.family, "seed": self.seed,
            "pretrain_epochs": self.pretrain_epochs, "nu": self.nu,
            "recipe": asdict(self.recipe), "n_train": self.n_train_,
            "range": [self.pre_.min_, self.pre_.max_],
        }  # fmt: skip

    def _log(self, text: str) -> None:
        if self.progress:
            print(f"[{self.name}] {text}", flush=True)

    def fit(self, images: Any, holdout: None = None) -> DeepSVDD:
        """Pre-train the autoencoder, fix c, train Deep SVDD; ``holdout`` must be None."""
        if holdout is not None:
            raise PIADError("Deep SVDD uses no labelled hold-out (needs_holdout is False); drop it")
        start = time.time()
        self.net_ = None
        x = self.pre_.fit(images).to(self.device)
        if len(x) < 2:
            raise PIADError(f"Deep SVDD needs at least 2 training images, got {len(x)}")
        self.n_train_ = len(x)
        r = self.recipe
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            ae = LeNetAutoencoder(self.family).to(self.device)
            net = LeNetEncoder(self.family).to(self.device)
        gen = torch.Generator().manual_seed(self.seed)
        state = self._load_checkpoint()
        phase, epoch = "pretrain", 0
        c, radius = None, 0.0
        ae_opt = torch.optim.Adam(
            ae.parameters(), lr=r.pretrain_lr, weight_decay=r.pretrain_weight_decay
        )
        opt = torch.optim.Adam(net.parameters(), lr=r.lr, weight_decay=r.weight_decay)
        if state is not None:
            phase, epoch = state["phase"], state["epoch"]
            ae.load_state_dict(state["ae"])
            net.load_state_dict(state["net"])
            (ae_opt if phase == "pretrain" else opt).load_state_dict(state["opt"])
            gen.set_state(state["gen"])
            c = None if state["c"] is None else state["c"].to(self.device)
            radius, self.history_ = state["radius"], state["history"]
            self.resumed_from_ = f"{phase} epoch {epoch}"
        else:
            self.history_ = {"pretrain": [], "train": []}

        if phase == "pretrain":
            for e in range(epoch, self.pretrain_epochs):
                T.set_learning_rate(
                    ae_opt, T.learning_rate(e, r.pretrain_lr, r.pretrain_milestones)
                )
                loss = T.train_autoencoder_epoch(ae, x, ae_opt, e, r.batch_size, gen)
                self.history_["pretrain"].append(loss)
                self._log(f"pretrain epoch {e + 1}/{self.pretrain_epochs} loss {loss:.6g}")
                self._save_checkpoint("pretrain", e + 1, ae, net, ae_opt, gen, None, 0.0)
            if self.pretrain_epochs > 0:
                net.load_state_dict(ae.encoder.state_dict())  # weights and BN statistics
            c = T.init_center(net, x, r.batch_size)
            phase, epoch = "train", 0
            self._save_checkpoint(phase, epoch, ae, net, opt, gen, c, radius)
        assert c is not None
        for e in range(epoch, self.epochs):
            T.set_learning_rate(opt, T.learning_rate(e, r.lr, r.milestones))
            loss, radius = T.train_svdd_epoch(
                net, x, c, opt, e, r.batch_size, gen, self.objective, self.nu, radius
            )
            self.history_["train"].append(loss)
            self._log(f"train epoch {e + 1}/{self.epochs} loss {loss:.6g} R {radius:.4g}")
            self._save_checkpoint("train", e + 1, ae, net, opt, gen, c, radius)
        net.eval()
        self.net_, self.c_, self.radius_ = net, c, radius
        self.seconds_ = time.time() - start
        return self

    def _checkpoint_path(self) -> Path | None:
        return None if self.workdir is None else self.workdir / CHECKPOINT

    def _load_checkpoint(self) -> dict[str, Any] | None:
        path = self._checkpoint_path()
        if path is None or not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state.get("key") != self._key():
            raise PIADError(
                f"{path} was written by a Deep SVDD fit with other settings or data; "
                "delete it or use another workdir"
            )
        if state["phase"] == "train" and state["epoch"] > self.epochs:
            raise PIADError(
                f"{path} is already {state['epoch']} training epochs in, past the {self.epochs} "
                "asked for; ask for at least that many or use another workdir"
            )
        return state

    def _save_checkpoint(
        self,
        phase: str,
        epoch: int,
        ae: torch.nn.Module,
        net: torch.nn.Module,
        opt: torch.optim.Optimizer,
        gen: torch.Generator,
        c: torch.Tensor | None,
        radius: float,
    ) -> None:
        path = self._checkpoint_path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(
            {
                "key": self._key(), "phase": phase, "epoch": epoch, "ae": ae.state_dict(),
                "net": net.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                "c": None if c is None else c.cpu(), "radius": radius, "history": self.history_,
            },
            path,
        )  # fmt: skip

    # -- scoring ------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, images: Any, batch_size: int = 1024) -> np.ndarray:
        """Anomaly score per image (float64, higher = more anomalous)."""
        if self.net_ is None or self.c_ is None:
            raise PIADError(f"{self.name} is not fitted; call fit(train_images) before score()")
        x = self.pre_.transform(images)
        self.net_.eval()
        parts = []
        for s in range(0, len(x), batch_size):
            z = self.net_(x[s : s + batch_size].to(self.device))
            parts.append(torch.sum((z - self.c_) ** 2, dim=1).double().cpu())
        dist = torch.cat(parts).numpy()
        if self.objective == "soft-boundary":
            dist = dist - self.radius_**2
        return dist.astype(np.float64)

    def info(self) -> dict[str, Any]:
        """JSON-able record: objective, network, schedule, budget (epochs run vs published)."""
        if self.net_ is None or self.c_ is None:
            raise PIADError(f"{self.name} is not fitted; call fit(train_images) before info()")
        r = self.recipe
        channels, size, rep_dim = FAMILIES[self.family]
        hist = self.history_
        return {
            "method": self.name,
            "objective": self.objective,
            "network": f"{self.family}_LeNet (rep_dim {rep_dim}, input {channels}x{size}x{size})",
            "epochs": {"pretrain": self.pretrain_epochs, "train": self.epochs},
            "budget": {
                "unit": "epochs",
                "run": self.pretrain_epochs + self.epochs,
                "paper": r.pretrain_epochs + r.epochs,
            },
            "recipe": asdict(r),
            "nu": self.nu,
            "radius": self.radius_,
            "center_norm": float(self.c_.norm()),
            "minmax_range": [self.pre_.min_, self.pre_.max_],
            "final_loss": {k: (v[-1] if v else None) for k, v in hist.items()},
            "n_train": self.n_train_,
            "seed": self.seed,
            "device": self.device,
            "seconds": self.seconds_,
            "resumed_from": self.resumed_from_,
            "uses_test_labels": False,
        }
