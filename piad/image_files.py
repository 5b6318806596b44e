"""Image files on disk: find them, decode any common format, crop and resize them to a square.

- :func:`find_images` / :func:`collect_images`: PNG, JPEG, BMP and TIFF files under folders
  (recursively, sorted), with one-line errors for a missing or empty folder or one without images.
- :func:`open_image`: decode one file fully (a truncated file fails here, not later) into PIL
  mode ``"L"`` or ``"RGB"``: 16-bit and 32-bit grey values are scaled to 8 bits (value / 257),
  palette images become grey when their palette is grey, else RGB; alpha is dropped; the
  first frame of a multi-page TIFF is used; the EXIF orientation is applied.
- :class:`ImageRecipe` + :func:`load_images`: every image cropped and resized the way a PIAD
  preset's dataset was (paper section 4): the central square (side ``min(w, h)``, LSUN's
  "center-crop 256 -> 64") or, for CelebA, the central ``140/178`` of the shorter side (the
  140 x 140 crop of the 178 x 218 aligned faces), then a PIL bilinear resize to ``size``;
  unreadable files skipped with one warning each (or refused with ``strict``); mixed grey and
  colour images refused unless a channel count is given.
- :func:`read_image`: one file by the same recipe (the statistics tool reads folders with it).

>>> import tempfile
>>> from PIL import Image
>>> root = Path(tempfile.mkdtemp())
>>> Image.new("L", (40, 20)).save(root / "a.png")
>>> [p.name for p in find_images(root)], read_image(root / "a.png", ImageRecipe(16, 3)).shape
(['a.png'], (16, 16, 3))
>>> load_images([root], ImageRecipe(size=8)).images.shape
(1, 8, 8, 1)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from piad.errors import PIADError, one_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FORMATS = "PNG, JPEG, BMP, TIFF"
CROPS = ("square", "celeba")
# CelebA (aligned & cropped, 178 x 218): the central 140 x 140 square (paper section 4); for
# other sizes the same fraction of the shorter side, so a 178-wide face gives exactly 140
CELEBA_CROP_FRACTION = 140 / 178
_GREY_MODES = ("1", "L", "LA", "La", "I", "F")  # and "I;16", "I;16B", "I;16L", ...
_PALETTE_MODES = ("P", "PA")


class UnreadableImageError(PIADError):
    """A file with an image suffix that cannot be decoded (corrupt, truncated, empty)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path, self.reason = path, reason


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _above_bar(warn: Callable[[str], None]) -> Callable[[str], None]:
    """``warn`` printed above a running tqdm bar (the default one only)."""
    if warn is not _warn:
        return warn
    from tqdm.auto import tqdm

    return lambda message: tqdm.write(f"warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------- finding files
def find_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden files skipped), sorted.

    One-line :class:`PIADError` for a folder that does not exist, is empty, or holds no images.
    """
    root = Path(folder)
    if not root.exists():
        raise PIADError(f"image folder {root} does not exist; give a folder of images")
    if not root.is_dir():
        raise PIADError(f"{root} is not a folder; give a folder of images ({FORMATS})")
    everything = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not everything:
        raise PIADError(f"image folder {root} is empty; put images ({FORMATS}) in it")
    files = [p for p in everything if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        example = everything[0].relative_to(root)
        raise PIADError(
            f"no images ({FORMATS}) under {root}: {len(everything)} other file(s), e.g. "
            f"{example}; give a folder of images with one of the suffixes "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    return files


def collect_images(sources: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Image files named by ``sources``: folders (searched recursively) and single files.

    Files keep the order given; each folder's files are sorted. A file is listed once.
    """
    if not sources:
        raise PIADError("no images given; name a folder or image files")
    out: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            out.extend(find_images(path))
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise PIADError(
                    f"{path} is not an image file ({FORMATS}); give images or a folder of them"
                )
            out.append(path)
        else:
            raise PIADError(f"{path} does not exist; give a folder of images or image files")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


# ---------------------------------------------------------------------------- decoding
def _grey_palette(im: Any) -> bool:
    palette = im.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def _to_8bit_grey(im: Any) -> Any:
    """Modes I;16*, I, F -> L: 16-bit ranges (max > 255) / 257, floats in [0, 1] * 255."""
    from PIL import Image

    arr = np.asarray(im).astype(np.float64)
    top = float(arr.max()) if arr.size else 0.0
    if im.mode == "F" and top <= 1.0:
        arr = arr * 255.0
    elif im.mode.startswith("I;16") or top > 255.0:
        arr = arr / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")


def normalise_mode(im: Any) -> tuple[Any, int]:
    """A decoded PIL image in mode ``"L"`` (1 channel) or ``"RGB"`` (3), and that count."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _to_8bit_grey(im), 1
    if mode in _GREY_MODES:
        return im.convert("L"), 1
    if mode in _PALETTE_MODES:
        return (im.convert("L"), 1) if _grey_palette(im) else (im.convert("RGB"), 3)
    return im.convert("RGB"), 3  # RGB, RGBA, RGBX, CMYK, YCbCr, LAB, HSV


def open_image(path: str | os.PathLike[str]) -> tuple[Any, int]:
    """Decode ``path`` fully into mode "L" or "RGB"; returns (image, native channel count).

    Raises :class:`UnreadableImageError` (one line, naming the file) for an empty, corrupt or
    truncated file.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise UnreadableImageError(path, "the file is empty")
        with Image.open(path) as im:
            im.seek(0)  # first frame of a multi-page file
            im.load()  # decode everything now: a truncated file fails here
            return normalise_mode(ImageOps.exif_transpose(im))
    except UnreadableImageError:
        raise
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, struct.error ...
        raise UnreadableImageError(path, one_line(e)) from e


# ---------------------------------------------------------------------------- crop and resize
@dataclass(frozen=True)
class ImageRecipe:
    """How files become network inputs: a central square crop, resized to ``size``.

    ``channels`` None keeps the images' own channel count (all must agree); 1 or 3 converts
    (RGB -> grey with PIL's ITU-R 601-2 luma, grey -> RGB by repeating the channel).
    ``crop``: ``"square"`` (the largest central square) or ``"celeba"`` (the central
    :data:`CELEBA_CROP_FRACTION` of the shorter side).
    """

    size: int
    channels: int | None = None
    crop: str = "square"

    def __post_init__(self) -> None:
        if self.size < 1:
            raise PIADError(f"image size must be a positive number of pixels, got {self.size}")
        if self.channels not in (None, 1, 3):
            raise PIADError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.crop not in CROPS:
            raise PIADError(f"unknown crop {self.crop!r}; known: {', '.join(CROPS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "channels": self.channels, "crop": self.crop}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRecipe:
        return cls(int(data["size"]), data.get("channels"), str(data.get("crop", "square")))


def crop_box(width: int, height: int, crop: str) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the central square; offsets round like torchvision's
    ``CenterCrop``.

    >>> crop_box(178, 218, "celeba"), crop_box(40, 20, "square")
    ((19, 39, 159, 179), (10, 0, 30, 20))
    """
    short = min(width, height)
    side = max(1, round(short * CELEBA_CROP_FRACTION)) if crop == "celeba" else short
    left, top = round((width - side) / 2.0), round((height - side) / 2.0)
    return left, top, left + side, top + side


def crop_and_resize(im: Any, recipe: ImageRecipe) -> np.ndarray:
    """PIL image (mode L or RGB) -> uint8 (S, S) or (S, S, 3): central crop, bilinear resize."""
    from PIL import Image

    square = im.crop(crop_box(im.width, im.height, recipe.crop))
    if square.size != (recipe.size, recipe.size):
        square = square.resize((recipe.size, recipe.size), Image.Resampling.BILINEAR)
    return np.asarray(square, dtype=np.uint8)


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (S, S) grey or (S, S, 3) RGB -> (S, S, channels)."""
    from PIL import Image

    grey = pixels.ndim == 2
    if channels == 1:
        out = pixels if grey else np.asarray(Image.fromarray(pixels, "RGB").convert("L"))
        return out[..., None]
    return np.repeat(pixels[..., None], 3, axis=2) if grey else pixels


# ---------------------------------------------------------------------------- whole folders
@dataclass
class LoadedImages:
    """Images read by :func:`load_images`, one entry per readable file, in file order."""

    images: np.ndarray  # uint8 (N, S, S, C)
    paths: list[Path]
    source_sizes: list[tuple[int, int]]  # (width, height) of each file
    source_channels: list[int]  # 1 (grey) or 3 (colour) of each file
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])


def channel_name(channels: int) -> str:
    return "grayscale" if channels == 1 else "RGB"


def read_image(path: str | os.PathLike[str], recipe: ImageRecipe) -> np.ndarray:
    """One file as ``recipe`` says: uint8 (S, S, channels); the channels are the file's own
    without ``recipe.channels``. An undecodable file raises :class:`UnreadableImageError`.
    """
    im, native = open_image(path)
    return convert_channels(crop_and_resize(im, recipe), recipe.channels or native)


def load_images(
    sources: Sequence[str | os.PathLike[str]],
    recipe: ImageRecipe,
    *,
    strict: bool = False,
    warn: Callable[[str], None] = _warn,
    progress: bool = False,
) -> LoadedImages:
    """Read every image named by ``sources`` (folders and files) as ``recipe`` says.

    Unreadable files are skipped with one ``warn`` line each and a count at the end, or raise
    :class:`UnreadableImageError` with ``strict``. Without ``recipe.channels``, grey and colour
    images together raise one :class:`PIADError` naming an example of each.
    """
    files = collect_images(sources)
    iterator: Any = files
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc="reading images", unit="img", leave=False)
        warn = _above_bar(warn)
    pixels: list[np.ndarray] = []
    kept: list[Path] = []
    sizes: list[tuple[int, int]] = []
    native: list[int] = []
    skipped: list[tuple[Path, str]] = []
    for path in iterator:
        try:
            im, channels = open_image(path)
        except UnreadableImageError as e:
            if strict:
                raise PIADError(
                    f"{e}; fix or remove it, or drop --strict to skip unreadable files"
                ) from e
            warn(f"skipped {path}: {e.reason}")
            skipped.append((path, e.reason))
            continue
        sizes.append((im.width, im.height))
        pixels.append(crop_and_resize(im, recipe))
        kept.append(path)
        native.append(channels)
    if skipped:
        warn(
            f"skipped {len(skipped)} of {len(files)} image files (unreadable); "
            "pass --strict to refuse them"
        )
    if not kept:
        raise PIADError(
            f"none of the {len(files)} image files could be read (e.g. {skipped[0][0]}); "
            "give readable images"
        )
    target = recipe.channels
    if target is None:
        if len(set(native)) > 1:
            grey = kept[native.index(1)]
            colour = kept[native.index(3)]
            raise PIADError(
                f"mixed grayscale and RGB images: {grey} is grayscale, {colour} is RGB; pass "
                "--channels 1 or --channels 3 to convert them all"
            )
        target = native[0]
    images = np.stack([convert_channels(p, target) for p in pixels])
    return LoadedImages(images, kept, sizes, native, skipped)


__all__ = [
    "CELEBA_CROP_FRACTION",
    "CROPS",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "ImageRecipe",
    "LoadedImages",
    "UnreadableImageError",
    "channel_name",
    "collect_images",
    "convert_channels",
    "crop_and_resize",
    "crop_box",
    "find_images",
    "load_images",
    "normalise_mode",
    "open_image",
    "read_image",
]
