"""What every figure shares: output folder and formats, atomic saving, image grids, labels."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from benchmarks.reporting.plots import pyplot
from piad.errors import PIADError
from piad.io import atomic_write_bytes

DEFAULT_OUT = Path("results") / "figures"
FORMATS = ("png", "pdf")
DISTANCE_LABELS = {"mse": "MSE", "perc": "perc", "perc_l1": "perc-L1", "rel_perc_l1": "rel-perc-L1"}
FIGURE5_DISTANCES = ("mse", "perc", "rel_perc_l1")  # Figure 5 (a), (b), (c)
PANEL_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def save_figure(
    fig: Any, out: str | os.PathLike[str], name: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``fig`` as ``<out>/<name>.<fmt>`` per format (atomic), close it, list the paths."""
    plt = pyplot()
    paths = []
    try:
        for fmt in formats:
            if fmt not in ("png", "pdf", "svg"):
                raise PIADError(f"unknown figure format {fmt!r}; known: pdf, png, svg")
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight")
            paths.append(atomic_write_bytes(Path(out) / f"{name}.{fmt}", buf.getvalue()))
    finally:
        plt.close(fig)
    return paths


def as_image(grid: Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) for ``imshow``."""
    return grid.permute(1, 2, 0).numpy()


def grid(images: Tensor, nrow: int) -> np.ndarray:
    """A make_grid tiling (piad.grids) of [-1, 1] images, as (H, W, 3) in [0, 1]."""
    from piad.grids import grid_image

    return as_image(grid_image(images, nrow=nrow))


def show(ax: Any, image: np.ndarray, title: str = "", fontsize: float = 9) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=fontsize)


def value_text(v: float) -> str:
    """A loss value as the paper prints it ("4.29"); large raw-feature values without decimals."""
    return f"{v:.0f}" if abs(round(v, 2)) >= 100 else f"{v:.2f}"  # 99.996 prints "100"


__all__ = [
    "DEFAULT_OUT",
    "DISTANCE_LABELS",
    "FIGURE5_DISTANCES",
    "FORMATS",
    "PANEL_LETTERS",
    "as_image",
    "grid",
    "pyplot",
    "save_figure",
    "show",
    "value_text",
]
