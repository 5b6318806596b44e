"""Reader (and a small writer) for IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is: two zero bytes, a type code, the number of dimensions ``d``, ``d``
big-endian uint32 sizes, then the values in big-endian order. Files may be gzipped
(detected from their first bytes, not their name).

>>> import tempfile, numpy as np
>>> path = Path(tempfile.mkdtemp()) / "t10k-labels-idx1-ubyte"
>>> _ = write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
>>> read_idx(path).tolist()
[7, 2, 1]
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from piad.errors import MissingInputError, PIADError

# type code -> big-endian dtype (the IDX specification's table)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=").kind + str(dt.itemsize): code for code, dt in IDX_DTYPES.items()}

# role -> standard file stem; each may end in .gz (the names of the MNIST distribution)
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_LAYOUT = "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip magic
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise PIADError(f"{path} is a damaged gzip file ({err}); fetch it again") from err
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array stored in an IDX file (plain or gzipped), in native byte order."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"IDX file {path} does not exist")
    data = _raw_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise PIADError(
            f"{path} is not an IDX file (magic bytes {data[:4].hex() or 'none'}, expected "
            "0000<type><ndim>); give the MNIST-format files, plain or .gz"
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise PIADError(f"{path} is truncated inside its IDX header; fetch it again")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) != header + count * dtype.itemsize:
        raise PIADError(
            f"{path} holds {len(data) - header} data bytes but its header {shape} needs "
            f"{count * dtype.itemsize}; the file is truncated or damaged, fetch it again"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> Path:
    """Write ``array`` as IDX (gzipped when ``compress`` or when the name ends in ``.gz``)."""
    from piad.io import atomic_write_bytes

    path = Path(path)
    array = np.asarray(array)
    key = array.dtype.kind + str(array.dtype.itemsize)
    if key not in _CODES or array.ndim > 255:
        raise PIADError(f"IDX cannot store dtype {array.dtype} with {array.ndim} dimensions")
    code = _CODES[key]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)


def find_idx_file(folder: str | os.PathLike[str], stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz`` (the plain file first), or ``None``."""
    for name in (stem, stem + ".gz"):
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def has_idx_set(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds the four standard files (plain or gzipped)."""
    return all(find_idx_file(folder, stem) is not None for stem in IDX_FILES.values())


def read_idx_set(
    folder: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)`` from the standard four files.

    Images are uint8 ``(N, H, W)``, labels int64 ``(N,)``.
    """
    folder = Path(folder)
    paths = {role: find_idx_file(folder, stem) for role, stem in IDX_FILES.items()}
    missing = [IDX_FILES[role] for role, p in paths.items() if p is None]
    if missing:
        raise MissingInputError(
            f"{folder} lacks the IDX files {', '.join(missing)} (plain or .gz); "
            f"expected {folder}/{IDX_LAYOUT}"
        )
    arrays = {role: read_idx(p) for role, p in paths.items() if p is not None}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise PIADError(
                f"{folder}: {part} images {images.shape} and labels {labels.shape} do not "
                "match (expected (N, H, W) and (N,)); the files are mixed up or damaged"
            )
        if images.dtype != np.uint8:
            raise PIADError(f"{folder}: {part} images are {images.dtype}, expected uint8")
    return (
        arrays["train_images"],
        arrays["train_labels"].astype(np.int64),
        arrays["test_images"],
        arrays["test_labels"].astype(np.int64),
    )


#: where the MNIST-family loaders look for the four IDX files under ``--data-root``, in order
IDX_FOLDERS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fmnist": ("fmnist", "fashion-mnist", "FashionMNIST/raw"),
}
_SYSTEM_IDX_FOLDERS = {"mnist": (), "fmnist": ("/usr/share/datasets/fashion-mnist",)}


def idx_folder_candidates(name: str, root: Path) -> list[Path]:
    """The folders the loader of ``name`` (mnist, fmnist) looks in, in its order."""
    candidates = [Path(root) / sub for sub in IDX_FOLDERS[name]]
    return candidates + [Path(p) for p in _SYSTEM_IDX_FOLDERS[name]]
