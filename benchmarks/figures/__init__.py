"""The paper's figures, redrawn from the suite's own code and results: one module per figure.

``python -m benchmarks.figures FIGURE`` is the command line (:mod:`benchmarks.figures.__main__`).
"""

from benchmarks.figures.common import DEFAULT_OUT, FORMATS, save_figure
from benchmarks.figures.contrast import (
    DEFAULT_LEVELS,
    ContrastResult,
    contrast_curves,
    plot_contrast,
    read_photo,
    reduce_contrast,
    sample_photo,
    shifted_pair,
)
from benchmarks.figures.extremes import Ranking, plot_extremes, rank_by_distances
from benchmarks.figures.filters import filter_stds, plot_filter_stds
from benchmarks.figures.samples import pick_examples, plot_samples
from benchmarks.figures.suite import SeedCurve, plot_suite_roc, suite_curves, suite_figures
from benchmarks.figures.testsets import (
    EvalImages,
    SplitImages,
    job_eval_images,
    load_model,
    split_eval_images,
)

__all__ = [
    "DEFAULT_LEVELS",
    "DEFAULT_OUT",
    "FORMATS",
    "ContrastResult",
    "EvalImages",
    "Ranking",
    "SeedCurve",
    "SplitImages",
    "contrast_curves",
    "filter_stds",
    "job_eval_images",
    "load_model",
    "pick_examples",
    "plot_contrast",
    "plot_extremes",
    "plot_filter_stds",
    "plot_samples",
    "plot_suite_roc",
    "rank_by_distances",
    "read_photo",
    "reduce_contrast",
    "sample_photo",
    "save_figure",
    "shifted_pair",
    "split_eval_images",
    "suite_curves",
    "suite_figures",
]
