"""The stages of ``gpu_check`` that measure: the machine, speed and its bound, a real column.

Each function runs inside one stage process (see :mod:`benchmarks.perf.gpu_check`) and appends
what it measured, one JSON record a line, to its stage file as soon as it has it: a stage cut at
its time limit still leaves every record it finished.

- :func:`machine_info`: GPU, driver, clocks (``nvidia-smi``), torch / CUDA / numpy versions.
- :func:`run_speed`: the arithmetic peaks (large matmuls, fp32 / TF32 / bf16), the FLOP of one
  model-iteration (counted by ``torch.utils.flop_counter``), fused training at K = 1, 2, 4 ...
  per precision (``benchmarks.perf.fused_speed.measure_fused``), scoring images/s.
- :func:`run_column`: Table 2's MNIST PIAD jobs (seed 0) as one fused group through the suite's
  runner, at the iterations the measured rate allows, scored on the full test set.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

#: precisions of the speed stage: how TF32 and autocast are set. "default" is what a run of
#: the suite gets (torch's flags as they are: cuDNN TF32 on, matmul TF32 off, no autocast)
PRECISIONS: dict[str, dict[str, Any]] = {
    "default": {"tf32": None, "autocast": "none"},
    "fp32": {"tf32": False, "autocast": "none"},
    "tf32": {"tf32": True, "autocast": "none"},
    "bf16": {"tf32": False, "autocast": "bf16"},
}
#: the peak each precision's fraction of the bound is taken against (convolutions dominate)
PEAK_OF = {"default": "tf32", "fp32": "fp32", "tf32": "tf32", "bf16": "bf16"}
GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64)
SPEED_PRESETS = ("mnist", "cifar10", "celeba")


def append_record(path: Path, record: dict[str, Any]) -> None:
    """One JSON line, flushed at once (a stage may be killed the next moment)."""
    with path.open("a") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a stage file; a line cut by a kill is dropped."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


# --------------------------------------------------------------------------------------------
# the machine
# --------------------------------------------------------------------------------------------
NVIDIA_SMI_FIELDS = ("name", "driver_version", "memory.total", "clocks.sm", "clocks.max.sm",
                     "clocks.mem", "power.limit", "temperature.gpu")  # fmt: skip


def nvidia_smi() -> dict[str, str]:
    """The first GPU's fields from ``nvidia-smi`` (empty where there is none)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}
    query = [exe, f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}", "--format=csv,noheader"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    first = out.strip().splitlines()[:1]
    if not first:
        return {}
    return dict(zip(NVIDIA_SMI_FIELDS, (v.strip() for v in first[0].split(","))))


def machine_info(device: str) -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy as np
    import torch
    import torchvision

    from piad.training.runtime import device_description

    info: dict[str, Any] = {
        "device": device,
        "device_description": device_description(device),
        "cpu": platform.processor() or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }
    info.update({f"gpu_{k.replace('.', '_')}": v for k, v in nvidia_smi().items()})
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line: GPU, driver, clocks, versions."""
    gpu = info.get("gpu_name") or info.get("device_description", info["device"])
    parts = [str(gpu)]
    if info.get("gpu_driver_version"):
        parts.append(f"driver {info['gpu_driver_version']}")
    if info.get("gpu_clocks_max_sm"):
        parts.append(f"SM clock {info.get('gpu_clocks_sm')} (max {info['gpu_clocks_max_sm']})")
    if info.get("gpu_power_limit"):
        parts.append(f"power limit {info['gpu_power_limit']}")
    parts.append(f"{info['cpu_cores']} CPU cores")
    parts.append(
        f"torch {info['torch']} (CUDA {info['cuda']}), torchvision {info['torchvision']}, "
        f"numpy {info['numpy']}, Python {info['python']}"
    )
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# speed and the bound
# --------------------------------------------------------------------------------------------
def matmul_peak(device: str, precision: str, n: int, reps: int) -> float:
    """FLOP/s of ``reps`` n x n matmuls in ``precision`` ("fp32", "tf32", "bf16"), measured."""
    import torch

    from piad.training.runtime import synchronize, tf32

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    with tf32(precision == "tf32"):
        for _ in range(2):
            a @ b
        synchronize(device)
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        synchronize(device)
        seconds = time.perf_counter() - start
    return 2.0 * n**3 * reps / seconds


def flop_per_model_iteration(preset: str, device: str, weights: str, tiny: bool) -> float:
    """FLOP of one plain training iteration of one model (critic and E+G steps, the gradient
    penalty's double backward included), counted by ``torch.utils.flop_counter``."""
    import torch

    from benchmarks.perf.fused_speed import TRAIN_IMAGES, _tiny_parts
    from piad.config import PIADConfig
    from piad.perceptual import load_perceptual
    from piad.training import Trainer

    changes: dict[str, Any] = {"device": device, "perceptual_weights": weights}
    if tiny:
        tiny_changes, features = _tiny_parts()
        changes.update(tiny_changes)
        features = features.to(device)
    else:
        features = load_perceptual(weights, None, device)
    config = PIADConfig.preset(preset, **changes)
    n = 256 if tiny else TRAIN_IMAGES.get(preset, 5000)
    shape = (n, config.in_channels, config.image_size, config.image_size)
    images = torch.randint(0, 256, shape, dtype=torch.uint8)
    trainer = Trainer(config, images, features=features, progress=False)
    trainer.prepare_feature_cache()
    trainer.step()  # iteration 1: no weight-policy update before n_weight
    with _flop_count_mode()() as counter:
        trainer.step()
    return float(counter.total)


def _flop_count_mode() -> type:
    """A dispatch mode summing ``torch.utils.flop_counter``'s per-op formulas.

    ``FlopCounterMode`` itself tracks modules with backward hooks, which ``autograd.grad``
    inside the gradient penalty refuses ("A leaf node was passed to _will_engine_execute_node");
    the op formulas are the same, without the module tracking.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class FlopCount(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **kwargs, out_val=out)
            return out

    return FlopCount


def _FlopCount() -> Any:
    return _flop_count_mode()()


def speed_plan(presets: Iterable[str], max_k: int) -> list[tuple[str, str, int]]:
    """(preset, precision, K) in the order they are measured: what the projection and the
    summary need first, the rest of the curve after, so a cut stage keeps the important ones."""
    presets = list(presets)
    sizes = [k for k in GROUP_SIZES if k <= max_k]
    first = [(p, "default", k) for p in presets[:2] for k in (1, 16) if k in sizes]
    second = [(p, prec, k) for p in presets[:1] for prec in ("fp32", "tf32", "bf16")
              for k in (1, 16) if k in sizes]  # fmt: skip
    curve = [(p, "default", k) for p in presets[:2] for k in sizes]
    others = [(p, prec, k) for p in presets[:2] for prec in ("fp32", "tf32", "bf16")
              for k in sizes]  # fmt: skip
    last = [(p, "default", k) for p in presets[2:] for k in (1, 16) if k in sizes]
    plan: list[tuple[str, str, int]] = []
    for item in (*first, *second, *curve, *others, *last):
        if item not in plan:
            plan.append(item)
    return plan


def run_speed(settings: dict[str, Any], out: Path) -> None:
    """The speed stage: peaks, FLOP counts, scoring, then the fused measurements in order."""
    import torch

    from benchmarks.perf.fused_speed import measure_fused

    device, tiny, weights = settings["device"], settings["tiny"], settings["weights"]
    n, reps = (256, 3) if tiny else (8192, 20)
    for precision in ("fp32", "tf32", "bf16"):
        flops = matmul_peak(device, precision, n, reps)
        append_record(out, {"kind": "peak", "precision": precision, "flop_per_s": flops, "n": n})
    presets = settings.get("presets") or list(SPEED_PRESETS)
    for preset in presets[:2]:
        with _reported(out, {"kind": "flop", "preset": preset}) as record:
            record["flop_per_model_it"] = flop_per_model_iteration(preset, device, weights, tiny)
    for precision in ("default", "bf16"):
        with _reported(out, {"kind": "score", "precision": precision}) as record:
            record.update(measure_scoring(device, weights, tiny, precision))
    too_big: set[tuple[str, str]] = set()
    for preset, precision, k in speed_plan(presets, settings.get("max_k", GROUP_SIZES[-1])):
        if (preset, precision) in too_big:
            continue
        flags = PRECISIONS[precision]
        options: dict[str, Any] = {"mode": "fused", "warmup": 2, "paired": False,
                                   "autocast": flags["autocast"], "weights": weights,
                                   "tiny": tiny}  # fmt: skip
        if tiny:
            options["n_images"] = 256
        row: dict[str, Any] = {"kind": "fused", "preset": preset, "precision": precision, "k": k}
        with _reported(out, row), _flags(flags["tf32"]):
            try:
                row.update(measure_fused(preset, k, 2 if tiny else 10, 1, device, **options))
            except torch.cuda.OutOfMemoryError:
                too_big.add((preset, precision))  # no larger group of this setting
                row["error"] = "out of device memory"
                torch.cuda.empty_cache()


@contextlib.contextmanager
def _reported(out: Path, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Fill ``record`` inside; it is written either way, with the error when one was raised
    (one measurement that fails does not end the stage)."""
    try:
        yield record
    except Exception as e:
        record["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    append_record(out, record)


def _flags(tf32_on: bool | None) -> Any:
    from piad.training.runtime import tf32

    return contextlib.nullcontext() if tf32_on is None else tf32(tf32_on)


def measure_scoring(device: str, weights: str, tiny: bool, precision: str) -> dict[str, Any]:
    """Images/s of PIAD.score (MNIST preset, untrained networks: the cost does not depend on the
    weights), fp32 or bf16 autocast, at the device's default scoring batch."""
    import numpy as np

    from benchmarks.perf.fused_speed import _tiny_parts
    from piad.config import PIADConfig
    from piad.model import PIAD
    from piad.perceptual import load_perceptual
    from piad.training.runtime import synchronize

    changes: dict[str, Any] = {"device": device, "perceptual_weights": weights}
    if tiny:
        tiny_changes, features = _tiny_parts()
        changes.update(tiny_changes)
    else:
        features = load_perceptual(weights, None, device)
    model = PIAD(PIADConfig.preset("mnist", **changes), features=features.to(device))
    model.fitted = True
    n = 512 if tiny else 20_000
    images = np.random.default_rng(0).integers(0, 256, (n, 32, 32), dtype=np.uint8)
    autocast = "bf16" if precision == "bf16" else "none"
    model.score(images[:256], autocast=autocast)  # warm-up: kernels chosen, memory pooled
    synchronize(device)
    start = time.perf_counter()
    model.score(images, autocast=autocast)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"preset": "mnist", "precision": precision, "images": n, "img_per_s": n / seconds}


def bound_fraction(records: list[dict[str, Any]]) -> None:
    """Add ``flop_per_s`` and ``bound_fraction`` to the fused records (in place)."""
    peaks = {r["precision"]: r["flop_per_s"] for r in records if r["kind"] == "peak"}
    counts = {r["preset"]: r["flop_per_model_it"] for r in records if r["kind"] == "flop"}
    for r in records:
        if r["kind"] != "fused" or "model_it_per_s" not in r or r["preset"] not in counts:
            continue
        r["flop_per_s"] = counts[r["preset"]] * r["model_it_per_s"]
        peak = peaks.get(PEAK_OF[r["precision"]])
        if peak:
            r["bound_fraction"] = r["flop_per_s"] / peak


# --------------------------------------------------------------------------------------------
# a real column of Table 2
# --------------------------------------------------------------------------------------------
#: one fused group holds the ten MNIST jobs of seed 0
COLUMN_K = 10
#: round the budget down to this (the CPU budget curves are sampled every 250 iterations)
BUDGET_STEP = 250


def group_seconds_per_iteration(rows: list[dict[str, Any]], k: int, preset: str = "mnist",
                                precision: str = "default") -> float | None:  # fmt: skip
    """Seconds per group iteration at K = ``k``, interpolated linearly between the measured
    group sizes around it (extrapolated from the largest below when none is above)."""
    pts = sorted((r["k"], r["s_per_group_iter"]) for r in rows
                 if r.get("kind") == "fused" and r.get("preset") == preset
                 and r.get("precision") == precision and r.get("s_per_group_iter"))  # fmt: skip
    if not pts:
        return None
    below = [p for p in pts if p[0] <= k]
    above = [p for p in pts if p[0] >= k]
    if below and above:
        (k0, s0), (k1, s1) = below[-1], above[0]
        return s0 if k1 == k0 else s0 + (s1 - s0) * (k - k0) / (k1 - k0)
    k0, s0 = (below or above)[-1 if below else 0]
    return s0 * k / k0  # proportional: a conservative guess past the measured range


def column_budget(seconds: float, s_per_iter: float | None, img_per_s: float | None,
                  n_models: int, n_test: int = 10_000, overhead_s: float = 45.0,
                  step: int = BUDGET_STEP, fallback: int = 500) -> tuple[int, str]:  # fmt: skip
    """(iterations, how they were chosen) for a fused group in ``seconds``: the time left after
    the fixed costs and the scoring, at the measured rate, with 20% held back.

    >>> column_budget(300, 0.02, 20000, 10)   # (300 - 45 - 5) * 0.8 / 0.02 = 10,000
    (10000, 'measured: 0.02 s per group iteration, 20000 img/s scoring')
    """
    if s_per_iter is None:
        return fallback, "no measured rate (speed stage cut or failed): the fallback budget"
    scoring = n_models * n_test / img_per_s if img_per_s else 0.0
    usable = (seconds - overhead_s - scoring) * 0.8
    iters = int(usable / s_per_iter) // step * step
    how = f"measured: {s_per_iter:.3g} s per group iteration"
    how += f", {img_per_s:.0f} img/s scoring" if img_per_s else ""
    return max(iters, step if usable > 0 else 0), how


def run_column(settings: dict[str, Any], out: Path) -> None:
    """Table 2's MNIST PIAD jobs (seed 0) fused through the runner; one record per job."""
    import dataclasses

    from benchmarks.experiments.jobs import JobFolder, freeze_overrides
    from benchmarks.experiments.runner import run_jobs
    from benchmarks.experiments.suites import make_jobs

    iters, digits = int(settings["iterations"]), settings["digits"]
    jobs = make_jobs("table2", datasets=["mnist"], methods=["piad"], seeds=[0], iters=iters,
                     classes=digits)  # fmt: skip
    carried = {"perceptual_weights": settings["weights"], "perceptual_stats": "sample-photos"}
    jobs = [dataclasses.replace(j, overrides=freeze_overrides({**j.overrides_dict, **carried}))
            for j in jobs]  # fmt: skip
    folder = Path(settings["work"]) / "table2-mnist"
    start = time.perf_counter()
    summary = run_jobs(jobs, data_root=settings["data_root"], out=folder,
                       devices=[settings["device"]], backend="inline", progress=False,
                       fetch=False, fuse=len(jobs), echo=print)  # fmt: skip
    wall = time.perf_counter() - start
    for result in summary.results:
        record = {"kind": "job", "digit": result.job.normal, "iterations": iters,
                  "status": result.status, "auc": result.auc, "error": result.error,
                  "folder": str(JobFolder.of(result.job, folder).path)}  # fmt: skip
        append_record(out, record)
    append_record(out, {"kind": "group", "jobs": len(jobs), "wall_s": wall, "iterations": iters})


def cpu_runs_at(budget: int, digits: Iterable[str], measured: Path) -> dict[str, list[dict]]:
    """CPU runs of the suite at ``budget`` iterations, seed 0, per digit, from the CSVs under
    ``results/measured`` that have (digit or normal, iteration, auc) columns."""
    import pandas as pd

    wanted = set(map(str, digits))
    out: dict[str, list[dict]] = {}
    for path in sorted(measured.rglob("*.csv")):
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError):
            continue
        digit = next((c for c in ("digit", "normal") if c in frame.columns), None)
        it = next((c for c in ("iteration", "iterations") if c in frame.columns), None)
        auc = next((c for c in ("auc", "roc_auc") if c in frame.columns), None)
        if not (digit and it and auc):
            continue
        rows = frame[(frame[it] == budget) & frame[digit].astype(str).isin(wanted)]
        if "seed" in rows.columns:
            rows = rows[rows["seed"] == 0]
        if "code" in rows.columns:
            rows = rows[rows["code"] == "ours"]
        for r in rows.to_dict("records"):
            out.setdefault(str(r[digit]), []).append({"auc": r[auc], "file": path.name})
    return out


def run_stage(name: str, settings: dict[str, Any], out: Path) -> None:
    stages: dict[str, Callable[[dict[str, Any], Path], None]] = {
        "speed": run_speed,
        "column": run_column,
    }
    import torch

    torch.set_num_threads(int(settings.get("threads") or torch.get_num_threads()))
    stages[name](settings, out)


__all__ = [
    "PRECISIONS",
    "append_record",
    "bound_fraction",
    "column_budget",
    "cpu_runs_at",
    "group_seconds_per_iteration",
    "machine_info",
    "machine_line",
    "read_records",
    "run_stage",
    "speed_plan",
]
