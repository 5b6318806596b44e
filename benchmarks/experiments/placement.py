"""Where jobs may run: the backends' names, devices, device slots and CPU threads per job.

Light to import (torch only inside :func:`visible_devices`), so the command line checks its
options before anything heavy loads; :mod:`benchmarks.experiments.backends` runs the jobs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from piad.errors import PIADError

BACKENDS = ("local", "ray", "inline")


def visible_devices() -> list[str]:
    """All visible CUDA devices (``cuda:0``...), or ``["cpu"]`` when there is none."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] or ["cpu"]


def parse_devices(spec: str | Sequence[str] | None, backend: str = "local") -> list[str]:
    """Device list from ``--devices`` (``"cuda:0,cuda:1"``, ``"cuda"`` = all GPUs, ``"cpu"``).

    ``None`` means every visible GPU, else the CPU. For the Ray backend the devices are
    the cluster's: only ``cpu`` or ``cuda`` (GPU tasks) can be asked for.
    """
    tokens = spec.split(",") if isinstance(spec, str) else list(spec or [])
    tokens = [t.strip().lower() for t in tokens if t.strip()]
    if backend == "ray":
        if not tokens:
            return []  # decided from the cluster's resources
        kinds = {"cuda" if t.startswith(("cuda", "gpu")) else t for t in tokens}
        if not kinds <= {"cpu", "cuda"} or len(kinds) > 1:
            raise PIADError(
                f"--devices {','.join(tokens)!r}: with --backend ray give 'cpu' or 'cuda' "
                "(Ray places GPU tasks on the cluster's GPUs)"
            )
        return sorted(kinds)
    if not tokens:
        return visible_devices()
    visible = None
    devices: list[str] = []
    for token in tokens:
        if token == "cpu":
            names = ["cpu"]
        elif token == "cuda" or token.startswith("cuda:"):
            if visible is None:
                visible = [d for d in visible_devices() if d != "cpu"]
            if token == "cuda":
                names = visible
            else:
                names = [token]
            if not names or any(n not in visible for n in names):
                shown = ", ".join(visible) if visible else "none"
                raise PIADError(
                    f"device {token!r} is not available (visible CUDA devices: {shown}); "
                    "use --devices cpu or one of the visible ones"
                )
        else:
            raise PIADError(
                f"unknown device {token!r}; use cpu, cuda (all GPUs) or cuda:N, "
                "comma-separated (e.g. cuda:0,cuda:1)"
            )
        devices.extend(n for n in names if n not in devices)
    return devices


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads(n_slots: int) -> int:
    """CPU threads per job: the cores this process may use, shared by the slots.

    Fixed by the slots and the cores only, never by the machine's load: a thread count changes
    how a job's sums are rounded, and a short GAN run turns rounding into AUC (the quick suite's
    PIAD AUCs moved by up to 0.14 between a 1- and a 2-thread run of the same seed), so a seeded
    CPU run must use the same count on an idle and on a busy machine of the same kind. On a busy
    machine this is slower, not different.
    """
    return max(1, _cpu_count() // max(1, n_slots))


def device_slots(backend: str, devices: Sequence[str], jobs_per_device: int) -> list[str]:
    """The device slots: each device ``jobs_per_device`` times, the CPU when none is given.

    The one check of the backend name and of ``--jobs-per-device``.

    >>> device_slots("local", ["cuda:0", "cuda:1"], 2)
    ['cuda:0', 'cuda:0', 'cuda:1', 'cuda:1']
    >>> device_slots("local", [], 1)
    ['cpu']
    """
    if backend not in BACKENDS:
        raise PIADError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if jobs_per_device < 1:
        raise PIADError(f"--jobs-per-device must be >= 1, got {jobs_per_device}")
    return [d for d in devices for _ in range(jobs_per_device)] or ["cpu"]


__all__ = ["BACKENDS", "default_threads", "device_slots", "parse_devices", "visible_devices"]
