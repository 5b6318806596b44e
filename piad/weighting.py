"""Weights of the reconstruction loss in eq. 8-9: gradient-normalizing policy or fixed values.

:class:`GradientNormalizingWeights` (Alg. 2-3) keeps, for ONE network, a history of one
number per layer and loss (the std (code) or L2 norm (paper) of the layer's weight gradient),
and turns it into ``gamma`` such that ``gamma * |d rec / dw| ~ |d adv / dw|`` (eq. 12):

>>> policy = GradientNormalizingWeights()
>>> policy.record_values("adv", [2.0, 4.0]); policy.record_values("rec", [1.0, 1.0])
>>> policy.update()
3.0

Use one instance for G and one for E (:func:`make_weight_policies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from piad.config import PIADConfig
from piad.errors import PIADError, unknown_name

LOSSES = ("adv", "rec")


class WeightPolicy(Protocol):
    gamma: float

    def due(self, iteration: int) -> bool: ...
    def record(self, loss: str, network: nn.Module) -> None: ...
    def update(self) -> float: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def ewm(values: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential smoothing along axis 0, started at the first value.

    Same as pandas ``DataFrame(values).ewm(alpha=alpha, adjust=False).mean()``:
    s_0 = x_0, s_t = (1 - alpha) * s_{t-1} + alpha * x_t.
    """
    out = np.empty_like(values, dtype=np.float64)
    if len(values):
        out[0] = values[0]
    for t in range(1, len(values)):
        out[t] = (1.0 - alpha) * out[t - 1] + alpha * values[t]
    return out


def weight_parameters(network: nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """Parameters named ``*weight`` (every conv / dense layer, skip convs included; no biases)."""
    return [(n, p) for n, p in network.named_parameters() if n.endswith("weight")]


def gradient_statistic(grad: torch.Tensor, statistic: str) -> torch.Tensor:
    """Alg. 2's per-layer number of one gradient: its std (the code) or L2 norm (the paper).

    float64 gradients stay float64 (the authors' numpy std does too: a float32 cast here made
    the lockstep check part at the first weight-policy iteration), others are taken in float32.
    """
    g = grad.detach()
    g = g if g.dtype == torch.float64 else g.float()
    return g.std(correction=0) if statistic == "std" else torch.linalg.vector_norm(g)


class GradientNormalizingWeights:
    """Alg. 2 (record gradient history) and Alg. 3 (select gamma) for one network.

    Args:
        statistic: "std" (authors' code; population std) or "l2" (paper, Alg. 2).
        pooling: "median" of all layers' last ratios pooled (code) or "mean" of per-layer
            means (paper, Alg. 3).
        history: values kept per layer and loss, and ratios used per layer (200).
        alpha: exponential smoothing factor (0.05).
        every: update period in iterations (n_weight = 100); iterations count from 1, so the
            first update happens at iteration 100 and gamma is 1 before.
    """

    def __init__(
        self,
        statistic: str = "std",
        pooling: str = "median",
        history: int = 200,
        alpha: float = 0.05,
        every: int = 100,
    ) -> None:
        if statistic not in ("std", "l2"):
            raise unknown_name("gradient statistic", statistic, ("std", "l2"))
        if pooling not in ("median", "mean"):
            raise unknown_name("gamma pooling", pooling, ("median", "mean"))
        self.statistic = statistic
        self.pooling = pooling
        self.history = history
        self.alpha = alpha
        self.every = every
        self.gamma = 1.0
        self.layers: list[str] | None = None
        self._values: dict[str, list[np.ndarray]] = {loss: [] for loss in LOSSES}

    def due(self, iteration: int) -> bool:
        """True at the iterations where Alg. 1 updates the history and gamma."""
        return iteration > 0 and iteration % self.every == 0

    # ------------------------------------------------------------------ Alg. 2
    def record(self, loss: str, network: nn.Module) -> None:
        """Store one number per weight layer from the gradients now in ``network``'s ``.grad``."""
        grads = [(n, p.grad) for n, p in weight_parameters(network) if p.grad is not None]
        if not grads:
            raise PIADError(f"no gradients to record for loss {loss!r}: backpropagate it first")
        stats = torch.stack([gradient_statistic(g, self.statistic) for _, g in grads])
        self._append(loss, [n for n, _ in grads], stats.cpu().double().numpy())

    def record_values(
        self, loss: str, values: Sequence[float], layers: Sequence[str] | None = None
    ):
        """Store given per-layer numbers (tests, or gradients gathered elsewhere)."""
        names = list(layers) if layers is not None else [str(i) for i in range(len(values))]
        self._append(loss, names, np.asarray(values, dtype=np.float64))

    def _append(self, loss: str, names: list[str], values: np.ndarray) -> None:
        if loss not in LOSSES:
            raise unknown_name("loss", loss, LOSSES)
        if self.layers is None:
            self.layers = names
        elif names != self.layers:
            raise PIADError(
                f"loss {loss!r} reported layers {names[:3]}... but the history holds "
                f"{self.layers[:3]}...: record the same network every time"
            )
        hist = self._values[loss]
        hist.append(values)
        del hist[: -self.history]  # keep the last `history` values

    # ------------------------------------------------------------------ Alg. 3
    def ratios(self) -> np.ndarray:
        """Smoothed adv / rec ratio per time step and layer, shape (T, layers)."""
        if not self._values["adv"] or not self._values["rec"]:
            return np.zeros((0, 0))
        adv, rec = (np.stack(self._values[k]) for k in LOSSES)
        if adv.shape != rec.shape:
            raise PIADError(
                f"gradient histories differ in length (adv {len(adv)}, rec {len(rec)}): "
                "record both losses at every update"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            return (ewm(adv, self.alpha) / ewm(rec, self.alpha))[-self.history :]

    def update(self) -> float:
        """Recompute gamma from the history (Alg. 3); keeps the old gamma if there is none."""
        ratios = self.ratios()
        if ratios.size == 0:
            return self.gamma
        finite = np.isfinite(ratios)
        if not finite.any():
            return self.gamma
        if self.pooling == "median":  # authors' code: all layers' ratios pooled
            gamma = float(np.median(ratios[finite]))
        else:  # Alg. 3 lines 5-7: mean over layers of the mean over time
            per_layer = [col[np.isfinite(col)].mean() for col in ratios.T if np.isfinite(col).any()]
            gamma = float(np.mean(per_layer))
        self.gamma = gamma
        return gamma

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        def stack(k: str) -> torch.Tensor:
            rows = self._values[k]
            return (
                torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, 0, dtype=torch.float64)
            )

        return {
            "kind": "gradnorm",
            "gamma": self.gamma,
            "layers": list(self.layers or []),
            "adv": stack("adv"),
            "rec": stack("rec"),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "gradnorm":
            raise PIADError("checkpoint holds fixed weights, config asks for weights='gradnorm'")
        self.gamma = float(state["gamma"])
        self.layers = list(state["layers"]) or None
        self._values = {k: [row.numpy() for row in state[k].double()] for k in LOSSES}


class FixedWeights:
    """Hand-set gamma (ablation "baseline": gamma_E = 10, gamma_G = 100)."""

    def __init__(self, gamma: float) -> None:
        self.gamma = float(gamma)

    def due(self, iteration: int) -> bool:
        return False

    def record(self, loss: str, network: nn.Module) -> None:
        pass

    def update(self) -> float:
        return self.gamma

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "fixed", "gamma": self.gamma}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "fixed":
            raise PIADError("checkpoint holds gradnorm weights, config asks for weights='fixed'")
        self.gamma = float(state["gamma"])


def make_weight_policies(config: PIADConfig) -> dict[str, WeightPolicy]:
    """Separate policies for G and E, as chosen by ``config.weights``."""
    if config.weights == "fixed":
        return {"G": FixedWeights(config.gamma_g), "E": FixedWeights(config.gamma_e)}
    return {
        name: GradientNormalizingWeights(
            statistic=config.grad_statistic,
            pooling=config.grad_pooling,
            history=config.history,
            alpha=config.alpha,
            every=config.n_weight,
        )
        for name in ("G", "E")
    }


__all__ = [
    "FixedWeights",
    "GradientNormalizingWeights",
    "WeightPolicy",
    "ewm",
    "gradient_statistic",
    "make_weight_policies",
    "weight_parameters",
]
