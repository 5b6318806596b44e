"""What the speed benchmarks share (``speed``, ``fused_speed``): one measurement per fresh
process, its peak memory, the machine line under every table, the common argument checks.

A benchmark's worker is the benchmark's own module run with ``--worker JSON`` (its settings);
it prints one JSON line of figures last. :func:`run_worker` starts it with the thread count in
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` and turns a failure into one line naming it.

Example:
    >>> check_run_args(iters=0, threads=2, device="cpu")
    Traceback (most recent call last):
    ...
    piad.errors.PIADError: --iters and --threads must be >= 1
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from typing import Any

from piad.errors import PIADError


def check_run_args(*, iters: int, threads: int, device: str) -> None:
    """``--iters`` / ``--threads`` >= 1 and a CUDA device only where there is one."""
    if iters < 1 or threads < 1:
        raise PIADError("--iters and --threads must be >= 1")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PIADError("--device cuda asked for, but CUDA is not available; use --device cpu")


def int_list(text: str, option: str) -> list[int]:
    """A comma-separated list of integers from a command-line option (empty parts skipped).

    >>> int_list("1,2,,8", "--pack")
    [1, 2, 8]
    """
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise PIADError(f"{option}: expected comma-separated integers, got {text!r}") from None


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 30) if sys.platform == "darwin" else peak / (1 << 20)


def load_average() -> float:
    """The 1-minute load average (nan where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine_description(device: str, threads: int) -> str:
    """CPU, cores, torch threads, GPU, torch version and the load: the line under each table."""
    import torch

    cpu = platform.processor() or platform.machine()
    gpu = ""
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu = f", GPU {torch.cuda.get_device_name(0)}"
    return (
        f"{cpu}, {os.cpu_count()} CPU cores, {threads} torch threads{gpu}; torch "
        f"{torch.__version__}; load average {load_average():.2f} at the end"
    )


def worker_command(module: str, settings: dict[str, Any]) -> list[str]:
    """``python -m MODULE --worker JSON``."""
    return [sys.executable, "-m", module, "--worker", json.dumps(settings)]


def worker_env(threads: int) -> dict[str, str]:
    """This environment with the BLAS / OpenMP thread counts set to ``threads``."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def parse_worker(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    """The worker's last stdout line as figures; a failed worker is one line naming ``what``."""
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise PIADError(f"benchmark worker for {what} failed: {tail[0]}")
    lines = (proc.stdout or "").strip().splitlines()
    try:
        figures: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise PIADError(f"benchmark worker for {what} printed no figures (last line: "
                        f"{(lines or ['none'])[-1][:200]!r})") from None  # fmt: skip
    return figures


def run_worker(module: str, settings: dict[str, Any], threads: int, what: str) -> dict[str, Any]:
    """One measurement in a fresh Python process (so its peak RSS is its own)."""
    proc = subprocess.run(
        worker_command(module, settings), capture_output=True, text=True, env=worker_env(threads)
    )
    return parse_worker(proc, what)


__all__ = [
    "check_run_args",
    "int_list",
    "load_average",
    "machine_description",
    "parse_worker",
    "peak_rss_gb",
    "run_worker",
    "worker_command",
    "worker_env",
]
