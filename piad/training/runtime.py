"""Where and how training runs: device, bf16 autocast, memory layout, seeds, heap trimming.

It also holds every CUDA call the suite makes (synchronize, memory statistics, TF32 flags,
the CUDA random state), each with a CPU stand-in, so the code that uses them has one path with
the device as a parameter and is tested on a CPU:

>>> resolve_device("cpu").type
'cpu'
>>> len(derived_seeds(0, 3)), derived_seeds(0, 3) == derived_seeds(0, 3)
(3, True)
>>> synchronize("cpu"), peak_memory_bytes("cpu"), free_memory_bytes("cpu") > 0
(None, None, True)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
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


# --------------------------------------------------------------------------------------------
# The accelerator calls: CUDA's, with what stands in for them on a CPU
# --------------------------------------------------------------------------------------------
def _is_cuda(device: str | torch.device) -> bool:
    return torch.device(device).type == "cuda"


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (CUDA); a CPU runs synchronously, so a no-op."""
    if _is_cuda(device):
        torch.cuda.synchronize(torch.device(device))


def reset_peak_memory(device: str | torch.device) -> None:
    """Start a new peak of :func:`peak_memory_bytes` (CUDA: frees the allocator's cache too)."""
    if _is_cuda(device):
        dev = torch.device(device)
        torch.cuda.synchronize(dev)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def allocated_bytes(device: str | torch.device) -> int:
    """Bytes of tensors allocated on the device now (CUDA); 0 on a CPU (not tracked)."""
    return int(torch.cuda.memory_allocated(torch.device(device))) if _is_cuda(device) else 0


def peak_memory_bytes(device: str | torch.device) -> int | None:
    """Peak bytes allocated on the device since :func:`reset_peak_memory` (CUDA); ``None`` on a
    CPU, where the suite measures the process's peak RSS instead
    (``benchmarks.perf.measurement``)."""
    if _is_cuda(device):
        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    return None


def free_memory_bytes(device: str | torch.device) -> int:
    """Free memory of the device: CUDA's ``mem_get_info``; on a CPU the available RAM."""
    if _is_cuda(device):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def total_memory_bytes(device: str | torch.device) -> int:
    """Total memory of the device (CUDA) or the machine's physical RAM (CPU)."""
    if _is_cuda(device):
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow (or forbid) TF32 in CUDA matmuls and convolutions inside; restored after.

    The flags exist on every build and only act on NVIDIA GPUs, so this is safe on a CPU.
    """
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def accelerator_rng_state() -> list[torch.Tensor] | None:
    """CUDA's random states (one per GPU) for a checkpoint; ``None`` without CUDA."""
    return torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def set_accelerator_rng_state(states: list[torch.Tensor] | None) -> None:
    """Restore :func:`accelerator_rng_state`'s states where CUDA is here (else nothing to do)."""
    if states is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states)


def device_description(device: str | torch.device) -> str:
    """``"NVIDIA H200 (139.8 GiB, CUDA 13.0)"`` or ``"cpu"``."""
    if not _is_cuda(device):
        return "cpu"
    dev = torch.device(device)
    props = torch.cuda.get_device_properties(dev)
    return f"{props.name} ({props.total_memory / (1 << 30):.1f} GiB, CUDA {torch.version.cuda})"


__all__ = [
    "AUTOCAST_MODES",
    "CPU_CHANNELS_LAST",
    "accelerator_rng_state",
    "allocated_bytes",
    "autocast_context",
    "derived_seeds",
    "device_description",
    "free_memory_bytes",
    "network_layout",
    "peak_memory_bytes",
    "release_free_heap",
    "reset_peak_memory",
    "resolve_device",
    "set_accelerator_rng_state",
    "synchronize",
    "tf32",
    "total_memory_bytes",
]
