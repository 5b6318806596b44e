"""Where and how training runs: device, bf16 autocast, memory layout, seeds, heap trimming.

>>> resolve_device("cpu").type
'cpu'
>>> len(derived_seeds(0, 3)), derived_seeds(0, 3) == derived_seeds(0, 3)
(3, True)
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Any

import numpy as np
import torch

from piad.errors import PIADError, unknown_name

# E, G, D_X and the training batches in channels_last on CPU: measured 10-20% faster critic and
# E+G steps (MNIST and CIFAR-10 presets, 2 threads; benchmarks/perf/speed.py), and E+G 10% faster
# when scoring (PIAD keeps this layout too). Not applied on CUDA (unmeasured there).
CPU_CHANNELS_LAST = True
# Trainer(autocast=...): "bf16" runs each iteration under torch.autocast(bfloat16). It changes the
# numerics, so it is off by default; measured 2.7-2.8x faster on a 2-core AVX-512-BF16 CPU (MNIST
# and CIFAR-10 presets, benchmarks/perf/speed.py --autocast bf16); its effect on scores and AUC is
# measured by benchmarks/perf/bf16_effect.py (README, Speed).
AUTOCAST_MODES = ("none", "bf16")


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


__all__ = [
    "AUTOCAST_MODES",
    "CPU_CHANNELS_LAST",
    "autocast_context",
    "derived_seeds",
    "network_layout",
    "release_free_heap",
    "resolve_device",
]
