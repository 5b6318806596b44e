"""Deep SVDD's objectives and training loops (Ruff et al. 2018, sections 3.1-3.3).

- One-class Deep SVDD (eq. 4): mean_i ||phi(x_i) - c||^2 (+ weight decay, here Adam's).
- Soft-boundary Deep SVDD (eq. 3): R^2 + 1/(nu n) sum_i max(0, ||phi(x_i) - c||^2 - R^2); R is
  not a network weight: after a warm-up of 10 epochs it is set after every mini-batch step to
  the (1 - nu)-quantile of that batch's distances (the authors' PyTorch code, lukasruff/
  Deep-SVDD-PyTorch ``src/optim/deepSVDD_trainer.py``).
- The centre c is fixed before training: the mean network output over the training images in
  one forward pass (evaluation mode), with coordinates closer than eps = 0.1 to zero pushed to
  +-eps (a zero coordinate can be matched by zero weights).
- Adam with weight decay; the learning rate drops x0.1 at each milestone epoch.
- Pre-training: an autoencoder with the same encoder, loss mean_i ||x_i - x^_i||^2.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from piad.errors import TrainingDivergedError

CENTER_EPS = 0.1
WARM_UP_EPOCHS = 10  # soft-boundary: epochs before R is first updated


def one_class_loss(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Eq. 4 without the weight-decay term: the mean squared distance to c.

    >>> float(one_class_loss(torch.tensor([[1.0, 0.0], [0.0, 3.0]]), torch.zeros(2)))
    5.0
    """
    return torch.sum((z - c) ** 2, dim=1).mean()


def soft_boundary_loss(z: torch.Tensor, c: torch.Tensor, radius: float, nu: float) -> torch.Tensor:
    """Eq. 3 without weight decay: R^2 + (1/nu) mean_i max(0, ||z_i - c||^2 - R^2)."""
    dist = torch.sum((z - c) ** 2, dim=1)
    return radius**2 + torch.clamp(dist - radius**2, min=0).mean() / nu


def radius_from_distances(dist: torch.Tensor, nu: float) -> float:
    """R = the (1 - nu)-quantile of the distances' square roots (numpy's linear rule)."""
    return float(np.quantile(np.sqrt(dist.detach().cpu().double().numpy()), 1 - nu))


def fix_center(mean: torch.Tensor, eps: float = CENTER_EPS) -> torch.Tensor:
    """Push coordinates in (-eps, 0) to -eps and in (0, eps) to eps (exact zeros stay 0).

    >>> fix_center(torch.tensor([0.05, -0.02, 0.3, 0.0])).tolist()
    [0.10000000149011612, -0.10000000149011612, 0.30000001192092896, 0.0]
    """
    c = mean.clone()
    small = c.abs() < eps
    c[small & (c < 0)] = -eps
    c[small & (c > 0)] = eps
    return c


@torch.no_grad()
def init_center(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The centre c: the mean output of ``net`` (evaluation mode) over ``x``, then fixed."""
    was_training = net.training
    net.eval()
    total = sum(net(x[s : s + batch_size]).sum(0) for s in range(0, len(x), batch_size))
    net.train(was_training)
    return fix_center(total / len(x))


def learning_rate(epoch: int, lr: float, milestones: Sequence[int]) -> float:
    """lr x 0.1 per milestone reached: epochs 0..m-1 run at ``lr`` (0-based epochs).

    This is what the authors' MultiStepLR stepped at each epoch's start gave under their
    PyTorch 0.4.1 (50 epochs at 1e-4, then 1e-5, for milestone 50).

    >>> [learning_rate(e, 1e-4, (50,)) for e in (0, 49, 50)]
    [0.0001, 0.0001, 1e-05]
    """
    return lr * 0.1 ** sum(epoch >= m for m in milestones)


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches of one epoch (a last batch of 1 is dropped: batch norm)."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if len(idx) > 1 or n == 1:
            yield idx


def _check(loss: torch.Tensor, what: str, epoch: int) -> float:
    value = float(loss.detach())
    if not np.isfinite(value):
        raise TrainingDivergedError(
            f"Deep SVDD {what} loss became {value} in epoch {epoch + 1}; lower the learning rate"
        )
    return value


def train_autoencoder_epoch(
    ae: nn.Module,
    x: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pre-training epoch; returns the mean batch loss (sum of squared errors per image)."""
    ae.train()
    losses = []
    for idx in batches(len(x), batch_size, generator):
        inputs = x[idx]
        optimizer.zero_grad()
        loss = torch.sum((ae(inputs) - inputs) ** 2, dim=tuple(range(1, inputs.dim()))).mean()
        loss.backward()
        optimizer.step()
        losses.append(_check(loss, "pre-training", epoch))
    return float(np.mean(losses))


def train_svdd_epoch(
    net: nn.Module,
    x: torch.Tensor,
    c: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    batch_size: int,
    generator: torch.Generator,
    objective: str,
    nu: float,
    radius: float,
) -> tuple[float, float]:
    """One Deep SVDD epoch; returns (mean batch loss, radius R after the epoch)."""
    net.train()
    losses = []
    for idx in batches(len(x), batch_size, generator):
        optimizer.zero_grad()
        z = net(x[idx])
        if objective == "soft-boundary":
            loss = soft_boundary_loss(z, c, radius, nu)
        else:
            loss = one_class_loss(z, c)
        loss.backward()
        optimizer.step()
        if objective == "soft-boundary" and epoch >= WARM_UP_EPOCHS:
            radius = radius_from_distances(torch.sum((z - c) ** 2, dim=1), nu)
        losses.append(_check(loss, objective, epoch))
    return float(np.mean(losses)), radius


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
