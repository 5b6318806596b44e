"""The batch source of Algorithm 1 (lines 2 and 7: "Sample {x} ~ p_X"): seeded, resumable.

>>> src = BatchSource(torch.zeros(5, 1, 4, 4, dtype=torch.uint8), 2, torch.device("cpu"), seed=0)
>>> src.next().shape, float(src.next().min())
(torch.Size([2, 1, 4, 4]), -1.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from piad.errors import PIADError
from piad.images import to_float


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
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.images.device)
        self._pos = int(state["pos"])


__all__ = ["BatchSource"]
