"""Image files on disk: find them under a folder, decode, resize and centre-crop to a square.

>>> import tempfile
>>> from PIL import Image
>>> root = Path(tempfile.mkdtemp())
>>> Image.new("L", (40, 20)).save(root / "a.png")
>>> [p.name for p in find_images(root)], load_image(root / "a.png", 16).shape
(['a.png'], (16, 16, 3))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from piad.errors import PIADError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


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


__all__ = ["IMAGE_SUFFIXES", "find_images", "load_image"]
