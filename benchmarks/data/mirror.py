"""CelebA from a Hugging Face Hub mirror, converted once into the suite's own layout.

Used only when the official Google Drive files cannot be fetched. The mirror is loaded
through the ``datasets`` library at a pinned revision and checked before anything is placed:

- the official number of images (202,599) and partition sizes (162,770 / 19,867 / 19,962);
- the 40 attribute columns, named as in ``list_attr_celeba.txt``;
- every image a 178x218 JPEG (the aligned & cropped set);
- where the mirror names its images, the official file names and partition ranges;
- where the mirror keeps the original annotation files, their official md5; where the
  official tables are already in ``<root>/celeba/`` (downloaded and md5-checked), the
  mirror's attributes and partition must equal them.

A mirror that fails a check is refused with one line and nothing is placed. What passes is
written as ``celeba/img_align_celeba/*.jpg`` (the mirror's JPEG bytes, unchanged) plus
``list_attr_celeba.txt`` and ``list_eval_partition.txt`` in the official text format.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from benchmarks.data import sources
from benchmarks.data.source_types import HubMirror
from piad.errors import MissingInputError, PIADError, one_line

PARTITIONS = ("train", "valid", "test")  # codes 0, 1, 2 of list_eval_partition.txt
ATTR_FILE, PARTITION_FILE = "list_attr_celeba.txt", "list_eval_partition.txt"
_NAME = re.compile(r"\d{6}\.jpg")


class MirrorRefused(PIADError):
    """The mirror failed a check; nothing of it was placed."""


def _refuse(mirror: HubMirror, why: str) -> MirrorRefused:
    return MirrorRefused(f"CelebA mirror {mirror.label} refused: {why}; nothing was placed")


def official_names() -> dict[str, list[str]]:
    """The official file names per partition: CelebA's partition is contiguous by number."""
    names: dict[str, list[str]] = {}
    start = 1
    for part in PARTITIONS:
        n = sources.CELEBA_PARTITION_SIZES[part]
        names[part] = [f"{k:06d}.jpg" for k in range(start, start + n)]
        start += n
    return names


# --------------------------------------------------------------------------- tables


def format_tables(names: list[str], attributes: np.ndarray, codes: np.ndarray) -> tuple[str, str]:
    """``list_attr_celeba.txt`` and ``list_eval_partition.txt`` in the official format.

    ``attributes`` is ``(N, 40)`` of -1/1 in the order of :data:`sources.CELEBA_ATTRIBUTES`.
    """
    attr_lines = [str(len(names)), " ".join(sources.CELEBA_ATTRIBUTES)]
    attr_lines += [
        name + "".join(f" {int(v):2d}" for v in row) for name, row in zip(names, attributes)
    ]
    part_lines = [f"{name} {int(code)}" for name, code in zip(names, codes)]
    return "\n".join(attr_lines) + "\n", "\n".join(part_lines) + "\n"


def parse_tables(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, attributes ``(N, 40)`` of -1/1 and partition codes from the two text tables."""
    try:
        attr_lines = (folder / ATTR_FILE).read_text().splitlines()
        part_lines = (folder / PARTITION_FILE).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise PIADError(f"cannot read the CelebA tables in {folder} ({one_line(err)})") from err
    header = attr_lines[1].split() if len(attr_lines) > 1 else []
    if tuple(header) != sources.CELEBA_ATTRIBUTES:
        raise PIADError(f"{folder / ATTR_FILE} does not list the 40 CelebA attributes")
    rows = [line.split() for line in attr_lines[2:] if line.strip()]
    names = [r[0] for r in rows]
    attributes = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int8).reshape(
        len(rows), len(sources.CELEBA_ATTRIBUTES)
    )
    parts = dict(line.split() for line in part_lines if line.strip())
    codes = np.array([int(parts.get(n, -1)) for n in names], dtype=np.int8)
    return names, attributes, codes


# --------------------------------------------------------------------------- loading


def _load_split(mirror: HubMirror, split: str, cache: Path) -> Any:
    import datasets

    kwargs: dict[str, Any] = {"split": split, "cache_dir": str(cache)}
    if mirror.name is not None:
        kwargs["name"] = mirror.name
    if mirror.revision is not None:
        kwargs["revision"] = mirror.revision
    if mirror.data_files is not None:
        kwargs["data_files"] = {split: list(mirror.data_files[split])}
    try:
        return datasets.load_dataset(mirror.path, **kwargs)
    except Exception as err:  # the library raises many types (network, hub, missing split)
        raise MissingInputError(
            f"cannot load the CelebA mirror {mirror.label} split {split!r} ({one_line(err)}); "
            f"check the connection, or get CelebA by hand from {sources.LICENCES['celeba'].url}"
        ) from err


def _annotation_file(mirror: HubMirror, repo_path: str, cache: Path) -> Path:
    if mirror.data_files is not None or Path(repo_path).is_absolute():
        return Path(repo_path)  # a local mirror (tests) names its files directly
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(
                repo_id=mirror.path,
                filename=repo_path,
                repo_type="dataset",
                revision=mirror.revision,
                cache_dir=str(cache),
            )
        )
    except Exception as err:  # network and hub errors
        raise MissingInputError(
            f"cannot download {repo_path} from the CelebA mirror {mirror.label} ({one_line(err)})"
        ) from err


def _attribute_array(mirror: HubMirror, split_data: Any, part: str) -> np.ndarray:
    table = split_data.select_columns(list(sources.CELEBA_ATTRIBUTES)).to_pandas()
    values = table.to_numpy()
    if values.dtype == bool:
        return np.where(values, 1, -1).astype(np.int8)
    try:
        ints = values.astype(np.int64)
    except (TypeError, ValueError) as err:
        raise _refuse(mirror, f"its {part} attributes are not 0/1, -1/1 or booleans") from err
    if not set(np.unique(ints).tolist()) <= {-1, 0, 1}:
        raise _refuse(mirror, f"its {part} attributes hold values other than 0/1 or -1/1")
    return np.where(ints > 0, 1, -1).astype(np.int8)


def _images(mirror: HubMirror, split_data: Any) -> Iterator[tuple[bytes | None, str | None]]:
    """(JPEG bytes, stored path) per row, streamed; the column is cast before iterating."""
    import datasets

    column = mirror.image_column
    try:
        raw = split_data.select_columns([column]).cast_column(column, datasets.Image(decode=False))
    except (ValueError, TypeError) as err:
        raise _refuse(mirror, f"its {column!r} column is not an image column ({err})") from err
    return ((cell.get("bytes"), cell.get("path")) for cell in (row[column] or {} for row in raw))


def _check_image(mirror: HubMirror, data: bytes | None, name: str) -> None:
    from PIL import Image, UnidentifiedImageError

    if not data or data[:3] != b"\xff\xd8\xff":
        raise _refuse(mirror, f"image {name} is not stored as JPEG bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
    except (OSError, UnidentifiedImageError) as err:
        raise _refuse(mirror, f"image {name} cannot be read ({one_line(err)})") from err
    if size != sources.CELEBA_IMAGE_SIZE:
        w, h = sources.CELEBA_IMAGE_SIZE
        raise _refuse(mirror, f"image {name} is {size[0]}x{size[1]}, not the aligned {w}x{h}")


# --------------------------------------------------------------------------- conversion


def _compare(
    mirror: HubMirror,
    official: tuple[list[str], np.ndarray, np.ndarray],
    ours: tuple[list[str], np.ndarray, np.ndarray],
    what: str,
) -> None:
    names, attrs, codes = official
    my_names, my_attrs, my_codes = ours
    if names != my_names:
        raise _refuse(mirror, f"its image names differ from {what}")
    rows = np.flatnonzero((attrs != my_attrs).any(axis=1))
    if len(rows):
        col = sources.CELEBA_ATTRIBUTES[int(np.flatnonzero(attrs[rows[0]] != my_attrs[rows[0]])[0])]
        raise _refuse(
            mirror,
            f"its attributes differ from {what} on {len(rows)} images "
            f"(first: {names[rows[0]]} {col})",
        )
    if (codes != my_codes).any():
        first = names[int(np.flatnonzero(codes != my_codes)[0])]
        raise _refuse(mirror, f"its partition differs from {what} (first: {first})")


def convert_celeba(mirror: HubMirror, root: Path, progress: bool = True) -> list[Path]:
    """Load, check and place CelebA from ``mirror`` under ``root/celeba``; the placed paths."""
    from tqdm import tqdm

    try:
        import datasets  # noqa: F401
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise MissingInputError(
            "the CelebA mirror needs the datasets package: pip install datasets"
        ) from err
    folder = root / "celeba"
    cache = root / ".piad-hf-cache" / "celeba"
    missing = [part for part in PARTITIONS if mirror.splits.get(part) is None]
    if missing:  # refused before anything is downloaded
        raise _refuse(mirror, f"it has no split for the official {missing[0]} partition")
    try:
        loaded = {part: _load_split(mirror, mirror.splits[part], cache) for part in PARTITIONS}
        return _check_and_place(mirror, loaded, folder, cache, progress, tqdm)
    finally:  # placed, or refused for good: the parquet copy is not needed any more
        shutil.rmtree(cache, ignore_errors=True)
        with contextlib.suppress(OSError):
            cache.parent.rmdir()


def _check_and_place(
    mirror: HubMirror,
    loaded: Mapping[str, Any],
    folder: Path,
    cache: Path,
    progress: bool,
    tqdm: Any,
) -> list[Path]:
    """Check the loaded splits, convert them in a staging folder and place what passes."""
    _check_columns(mirror, loaded)
    counts = _check_counts(mirror, loaded)
    reference: tuple[list[str], np.ndarray, np.ndarray] | None = None
    reference_what = ""
    kept = _checked_annotations(mirror, cache)
    if (folder / ATTR_FILE).is_file() and (folder / PARTITION_FILE).is_file():
        reference, reference_what = parse_tables(folder), f"the official tables in {folder}"
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".piad-mirror-", dir=folder))
    try:
        images = staging / "img_align_celeba"
        images.mkdir()
        bar = tqdm(
            total=sum(counts.values()), desc="celeba (mirror)", unit="img", disable=not progress
        )
        ours = _write_images(mirror, loaded, images, bar)
        attr_text, part_text = format_tables(*ours)
        if kept:
            for official_name, path in kept.items():
                shutil.copyfile(path, staging / official_name)
            if {ATTR_FILE, PARTITION_FILE} <= set(kept):
                _compare(mirror, parse_tables(staging), ours, "the mirror's own annotation files")
        if reference is not None:
            _compare(mirror, reference, ours, reference_what)
        else:
            for file_name, text in ((ATTR_FILE, attr_text), (PARTITION_FILE, part_text)):
                if not (staging / file_name).exists():
                    (staging / file_name).write_text(text)
        return _place(staging, folder, with_tables=reference is None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_columns(mirror: HubMirror, loaded: Mapping[str, Any]) -> None:
    """Refuse a split without the image column or any of the 40 attribute columns."""
    for part in PARTITIONS:
        columns = set(loaded[part].column_names)
        if mirror.image_column not in columns:
            raise _refuse(mirror, f"its {part} split has no image column {mirror.image_column!r}")
        lacking = [a for a in sources.CELEBA_ATTRIBUTES if a not in columns]
        if lacking:
            raise _refuse(
                mirror,
                f"its {part} split lacks {len(lacking)} of the 40 attribute columns "
                f"({', '.join(lacking[:3])}{' ...' if len(lacking) > 3 else ''})",
            )


def _check_counts(mirror: HubMirror, loaded: Mapping[str, Any]) -> dict[str, int]:
    """The images per partition; refused unless they are the official partition sizes."""
    counts = {part: len(loaded[part]) for part in PARTITIONS}
    expected = dict(sources.CELEBA_PARTITION_SIZES)
    if counts != expected:
        got = " / ".join(f"{counts[p]:,}" for p in PARTITIONS)
        want = " / ".join(f"{expected[p]:,}" for p in PARTITIONS)
        raise _refuse(
            mirror,
            f"its train/valid/test splits hold {got} images ({sum(counts.values()):,}), "
            f"the official partition {want} ({sum(expected.values()):,})",
        )
    return counts


def _checked_annotations(mirror: HubMirror, cache: Path) -> dict[str, Path]:
    """The mirror's original annotation files (official name -> path), each md5-checked."""
    kept: dict[str, Path] = {}
    if mirror.annotation_files:
        for official_name, repo_path in mirror.annotation_files.items():
            path = _annotation_file(mirror, repo_path, cache)
            md5 = sources.file_digest(path, "md5")
            want = sources.celeba_official_md5(official_name)
            if md5 != want:
                raise _refuse(mirror, f"its {official_name} has md5 {md5}, the official {want}")
            kept[official_name] = path
    return kept


def _write_images(
    mirror: HubMirror, loaded: Mapping[str, Any], images: Path, bar: Any
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Check and write every image into ``images``; names, attributes, codes sorted by name."""
    official = official_names()
    names: list[str] = []
    codes: list[int] = []
    attributes = []
    named: bool | None = None
    with bar:
        for code, part in enumerate(PARTITIONS):
            attributes.append(_attribute_array(mirror, loaded[part], part))
            part_names, named = _write_part(
                mirror, loaded[part], official[part], named, images, bar
            )
            if named and sorted(part_names) != official[part]:
                odd = sorted(set(part_names) ^ set(official[part]))
                example = odd[0] if odd else "a duplicated name"
                raise _refuse(
                    mirror, f"its {part} split is not the official partition (e.g. {example})"
                )
            names += part_names
            codes += [code] * len(part_names)
    order = np.argsort(np.array(names))
    names = [names[i] for i in order]
    attr_table = np.concatenate(attributes)[order]
    code_table = np.array(codes, dtype=np.int8)[order]
    return names, attr_table, code_table


def _write_part(
    mirror: HubMirror,
    split_data: Any,
    official: list[str],
    named: bool | None,
    images: Path,
    bar: Any,
) -> tuple[list[str], bool | None]:
    """One partition's images, checked and written; their names and whether they are named.

    ``named``: whether the images seen so far carry official file names (``None``: none seen).
    """
    part_names = []
    for i, (data, stored) in enumerate(_images(mirror, split_data)):
        base = PurePosixPath(stored).name if stored else ""
        has_name = bool(_NAME.fullmatch(base))
        if named is None:
            named = has_name
        elif named != has_name:
            raise _refuse(mirror, "some images carry official file names and others do not")
        name = base if named else official[i]
        _check_image(mirror, data, name)
        (images / name).write_bytes(data)  # type: ignore[arg-type]
        part_names.append(name)
        bar.update(1)
    return part_names, named


def _place(staging: Path, folder: Path, with_tables: bool) -> list[Path]:
    target = folder / "img_align_celeba"
    if target.exists():
        target.rename(staging / ".replaced-img_align_celeba")
    (staging / "img_align_celeba").rename(target)
    placed = [target]
    if with_tables:
        for name in (ATTR_FILE, PARTITION_FILE):
            os.replace(staging / name, folder / name)
            placed.append(folder / name)
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return placed
