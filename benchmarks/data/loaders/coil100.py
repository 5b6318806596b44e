"""COIL-100: 100 objects x 72 poses, 128 -> 32, object 100 relabelled 0."""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import dataset_info
from benchmarks.data.loaders.common import fetch_files, missing_error
from piad.errors import PIADError
from piad.image_arrays import resize_uint8

# --------------------------------------------------------------------------- COIL-100

_COIL_NAME = re.compile(r"(?:^|/)obj(\d+)__(\d+)\.png$")
COIL100_ANGLES = tuple(range(0, 360, 5))  # 72 poses, 5 degrees apart


def _coil_members(names: Sequence[str]) -> dict[tuple[int, int], str]:
    """Map (object, angle) -> file name, for the names that follow COIL-100's pattern."""
    found = {}
    for name in names:
        m = _COIL_NAME.search(name)
        if m:
            found[int(m[1]), int(m[2])] = name
    return found


def _decode_coil(data: bytes, name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.size != (128, 128):
            raise PIADError(f"COIL-100 image {name} is {image.size}, expected (128, 128)")
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def coil_resize(images: np.ndarray, scale: float = 0.25) -> np.ndarray:
    """128 -> 32 as the authors' code does it: scikit-image's ``rescale`` (Gaussian anti-aliasing,
    then bilinear, on [0, 1] floats), then ``* 255`` truncated to uint8.

    The suite used PIL-style bilinear with rounding before (on average +0.5 grey levels, up to
    12 apart on COIL-100).
    """
    from skimage.transform import rescale

    out = [(rescale(im, (scale, scale, 1)) * 255).astype(np.uint8) for im in images]
    return np.stack(out) if out else np.zeros((0, 0, 0, images.shape[-1]), np.uint8)


def load_coil100_bilinear(root: Path, download: bool = True) -> ImageSet:
    """COIL-100 resized by PIL-style bilinear with rounding (the suite's choice before it
    followed the authors): the fidelity switch ``coil100_bilinear``."""
    return load_coil100(root, download, resize="bilinear")


def load_coil100(root: Path, download: bool = True, resize: str = "skimage") -> ImageSet:
    """COIL-100: 100 objects x 72 poses, 128 -> 32; object 100 relabelled 0 (label = obj % 100).

    Images are ordered by label (object 100 first), then by pose angle.
    """
    root = Path(root)
    folder, archive = root / "coil-100", root / "coil-100.zip"
    if not folder.is_dir() and not archive.is_file():
        if not download:
            raise missing_error(
                "coil100", root, "neither coil-100/ nor coil-100.zip exists; download is off"
            )
        fetch_files("coil100", root)  # coil-100.zip from the Columbia CAVE archive
    wanted = sorted(
        ((obj, angle) for obj in range(1, 101) for angle in COIL100_ANGLES),
        key=lambda oa: (oa[0] % 100, oa[1]),
    )
    try:
        with contextlib.ExitStack() as stack:
            if folder.is_dir():
                found = _coil_members([p.name for p in folder.iterdir()])
                read: Callable[[str], bytes] = lambda name: (folder / name).read_bytes()  # noqa: E731
            else:
                zf = stack.enter_context(zipfile.ZipFile(archive))
                found, read = _coil_members(zf.namelist()), zf.read
            missing = [f"obj{o}__{a}.png" for o, a in wanted if (o, a) not in found]
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise missing_error(
                    "coil100", root, f"{len(missing)} of 7200 images missing: {shown}"
                )
            raw = np.stack([_decode_coil(read(found[key]), found[key]) for key in wanted])
    except (OSError, zipfile.BadZipFile) as err:
        raise missing_error("coil100", root, f"cannot read it: {err}") from err
    name = "coil100" if resize == "skimage" else "coil100_bilinear"
    images = coil_resize(raw) if resize == "skimage" else resize_uint8(raw, 32)
    labels = np.array([obj % 100 for obj, _ in wanted], dtype=np.int64)
    partition = np.full(len(labels), "all")  # no official split: the protocols split it
    return ImageSet(dataset_info(name), images, labels, partition)


__all__ = ["COIL100_ANGLES", "coil_resize", "load_coil100", "load_coil100_bilinear"]
