"""The batch source of Algorithm 1 (lines 2 and 7: "Sample {x} ~ p_X"): seeded, resumable.

The paper does not say how batches are drawn; two orders are offered (``PIADConfig.data_order``,
listed in the FIDELITY table):

- ``"code"`` (the authors' code, the default): an epoch holds the training set repeated to at
  least :data:`MIN_EPOCH_IMAGES` images (``ceil(10,000 / N)`` copies when N < 10,000), shuffled
  as one set, cut into batches, the last partial batch dropped. A small set's batch may hold the
  same image twice (COIL-100's 57 images: about 25 distinct images per batch of 32).
- ``"permutations"`` (the suite before issue 17): an endless stream of seeded random permutations
  of the N images, cut into batches; a batch may span two epochs, nothing is dropped.

>>> src = BatchSource(torch.zeros(5, 1, 4, 4, dtype=torch.uint8), 2, torch.device("cpu"), seed=0)
>>> src.next().shape, float(src.next().min())
(torch.Size([2, 1, 4, 4]), -1.0)
>>> coil = BatchSource(torch.zeros(57, 1, 4, 4), 32, torch.device("cpu"), 0, data_order="code")
>>> coil.epoch_length, coil.batches_per_epoch
(10032, 313)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from piad.config import DATA_ORDERS
from piad.errors import PIADError, unknown_name
from piad.image_arrays import to_float

#: The authors' training sets are at least this long per epoch (smaller ones are repeated).
MIN_EPOCH_IMAGES = 10_000
_LEGACY_ORDER = "permutations"  # a state_dict without "data_order" predates the option


class BatchSource:
    """Training images kept as one tensor (on ``device`` when it fits) and batches drawn there.

    ``data_order`` is one of :data:`DATA_ORDERS` (module docstring); the Trainer passes
    ``config.data_order``. Both orders are seeded by ``seed`` and resume exactly from
    :meth:`state_dict`.
    """

    def __init__(
        self,
        images: Tensor,
        batch_size: int,
        device: torch.device,
        seed: int,
        memory_format: torch.memory_format = torch.contiguous_format,
        *,
        data_order: str = "permutations",
    ) -> None:
        if images.shape[0] < 1:
            raise PIADError("no training images: pass at least one image")
        if data_order not in DATA_ORDERS:
            raise unknown_name("data order", data_order, DATA_ORDERS)
        try:
            self.images = images.to(device)
        except torch.OutOfMemoryError:  # keep them on the host; batches travel each step
            self.images = images.pin_memory() if device.type == "cuda" else images
        self.device = device
        self.batch_size = batch_size
        self.memory_format = memory_format
        self.data_order = data_order
        if data_order == "code" and self.epoch_length < batch_size:
            raise PIADError(
                f"batch_size {batch_size} is larger than an epoch of {self.epoch_length} images; "
                "lower the batch size or use data_order='permutations'"
            )
        self.generator = torch.Generator(device=self.images.device).manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long, device=self.images.device)
        self._pos = 0
        self.last_index: Tensor | None = None  # indices of the last batch (feature cache)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def epoch_length(self) -> int:
        """Images per epoch: N ("permutations"), N repeated to >= 10,000 ("code")."""
        n = len(self)
        if self.data_order == "permutations" or n >= MIN_EPOCH_IMAGES:
            return n
        return math.ceil(MIN_EPOCH_IMAGES / n) * n

    @property
    def batches_per_epoch(self) -> int:
        """Whole batches per epoch ("code" drops the last partial one)."""
        return self.epoch_length // self.batch_size

    def _permutation(self, n: int) -> Tensor:
        return torch.randperm(n, generator=self.generator, device=self.images.device)

    def _refill(self) -> None:
        """Make the order hold at least one more batch from ``self._pos`` on."""
        b = self.batch_size
        if self.data_order == "code":  # a fresh epoch: repeated set shuffled, partial batch dropped
            order = self._permutation(self.epoch_length) % len(self)
            self._order, self._pos = order[: self.batches_per_epoch * b], 0
            return
        parts, have = [self._order[self._pos :]], self._order.numel() - self._pos
        while have < b:  # permutations: the remainder carries over into the next batch
            parts.append(self._permutation(len(self)))
            have += len(self)
        self._order, self._pos = torch.cat(parts), 0

    def next(self) -> Tensor:
        """The next batch as float32 [-1, 1] on ``device``."""
        b = self.batch_size
        if self._pos + b > self._order.numel():
            self._refill()
        idx = self._order[self._pos : self._pos + b]
        self._pos += b
        self.last_index = idx
        x = to_float(self.images[idx].to(self.device, non_blocking=True))
        return x.contiguous(memory_format=self.memory_format)

    def first(self, n: int) -> Tensor:
        return to_float(self.images[:n].to(self.device))

    def chunks(self, size: int) -> Iterator[Tensor]:
        """All images in order, ``size`` at a time, as float32 [-1, 1] on ``device``."""
        for i in range(0, len(self), size):
            x = to_float(self.images[i : i + size].to(self.device))
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
            "data_order": self.data_order,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("data_order", _LEGACY_ORDER)
        if saved != self.data_order:
            raise PIADError(
                f"the checkpoint drew batches with data_order={saved!r}, this run asks for "
                f"{self.data_order!r}; resume with data_order={saved!r} or start a new workdir"
            )
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.images.device)
        self._pos = int(state["pos"])


__all__ = ["DATA_ORDERS", "MIN_EPOCH_IMAGES", "BatchSource"]
