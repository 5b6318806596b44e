"""benchmarks/data/mirror.py: CelebA from a (local parquet) Hub mirror when the official files
fail: converted into the official layout and tables, or refused with nothing placed.

The official image zip answers with Google Drive's quota page from a real HTTP server on
127.0.0.1; the mirror is built here with the ``datasets`` library.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fetch_server import FileServer, serve
from toy_sources import LICENCE, md5, register

from benchmarks.data import sources
from benchmarks.data.acquire import availability, fetch
from benchmarks.data.datalock import read_records
from benchmarks.data.loaders.celeba import read_celeba_tables
from benchmarks.data.mirror import (
    MirrorRefused,
    convert_celeba,
    format_tables,
    official_names,
    parse_tables,
)
from benchmarks.data.source_types import (
    Checksum,
    DatasetSource,
    Extract,
    HubMirror,
    RemoteFile,
)
from benchmarks.data.sources import check_celeba_images
from piad.errors import PIADError

ATTRS = sources.CELEBA_ATTRIBUTES


def jpeg(seed: int, size: tuple[int, int] = (178, 218)) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


def build_mirror(
    folder: Path,
    counts: dict[str, int],
    *,
    names: list[str] | None = None,
    drop: str | None = None,
    image_size: tuple[int, int] = (178, 218),
) -> tuple[HubMirror, np.ndarray]:
    """A local parquet "mirror": train/valid/test files with an image and the 40 attributes."""
    import datasets

    rng = np.random.default_rng(7)
    total = sum(counts.values())
    table = rng.integers(0, 2, (total, len(ATTRS))).astype(bool)
    columns = [a for a in ATTRS if a != drop]
    features = datasets.Features(
        {"image": datasets.Image(), "celeb_id": datasets.Value("int64")}
        | {a: datasets.Value("bool") for a in columns}
    )
    files: dict[str, tuple[str, ...]] = {}
    start = 0
    for split in ("train", "valid", "test"):
        rows = range(start, start + counts[split])
        data: dict[str, Any] = {
            "image": [
                {"bytes": jpeg(i, image_size), "path": names[i] if names else None} for i in rows
            ],
            "celeb_id": list(rows),
        }
        for j, a in enumerate(ATTRS):
            if a != drop:
                data[a] = table[list(rows), j].tolist()
        path = folder / f"{split}-00000-of-00001.parquet"
        datasets.Dataset.from_dict(data, features=features).to_parquet(str(path))
        files[split] = (str(path),)
        start += counts[split]
    mirror = HubMirror(
        path="parquet",
        name=None,
        revision=None,
        splits={"train": "train", "valid": "valid", "test": "test"},
        page="local test mirror",
        data_files=files,
    )
    return mirror, np.where(table, 1, -1).astype(np.int8)


QUOTA = b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>"


def celeba_source(srv: FileServer, mirror: HubMirror, tables: dict[str, bytes]) -> DatasetSource:
    """CelebA whose image zip answers with Google Drive's quota page; tables as given."""
    files = [
        RemoteFile(
            "celeba",
            "celeba/img_align_celeba.zip",
            (srv.url("uc?id=zip"),),
            Checksum("md5", "0" * 32),
            extract=Extract("zip", "celeba", ("img_align_celeba",)),
            verify_extracted=check_celeba_images,
        )
    ]
    for name, data in tables.items():
        files.append(
            RemoteFile("celeba", f"celeba/{name}", (srv.url(name),), Checksum("md5", md5(data)))
        )
    return DatasetSource("celeba", tuple(files), LICENCE, "celeba", mirror=mirror)


@pytest.fixture
def small_celeba(monkeypatch):
    counts = {"train": 3, "valid": 1, "test": 1}
    monkeypatch.setattr(sources, "CELEBA_PARTITION_SIZES", counts)
    return counts


def read_with_loader(folder: Path) -> tuple[list[str], Any, np.ndarray]:
    """The suite's own CelebA table reader (what the loader parses)."""
    return read_celeba_tables(folder)


# --------------------------------------------------------------------------- conversion and checks


def test_quota_answer_falls_back_to_the_mirror(monkeypatch, tmp_path, small_celeba, capsys):
    mirror, attributes = build_mirror(tmp_path, small_celeba)
    srv = FileServer(html={"uc": QUOTA})
    with serve(srv):
        register(monkeypatch, celeba_source(srv, mirror, {}))
        root = tmp_path / "root"
        placed = fetch(["celeba"], root, progress=False)
    folder = root / "celeba"
    assert folder / "img_align_celeba" in placed
    names = [f"{k:06d}.jpg" for k in range(1, 6)]
    assert sorted(p.name for p in (folder / "img_align_celeba").iterdir()) == names
    assert (folder / "img_align_celeba" / "000004.jpg").read_bytes() == jpeg(3)
    files, table, partition = read_with_loader(folder)
    assert files == names and list(table.columns) == list(ATTRS)
    assert np.array_equal(table.to_numpy(), (attributes + 1) // 2)
    assert partition.tolist() == ["train", "train", "train", "valid", "test"]
    assert "trying the mirror local test mirror" in capsys.readouterr().err
    assert availability("celeba", root) is None
    assert read_records(root)["celeba/img_align_celeba.zip"]["origin"] == "mirror parquet"
    assert not (root / ".piad-hf-cache").exists()
    assert fetch(["celeba"], root, progress=False) == []


@pytest.mark.parametrize(
    ("counts", "kwargs", "why"),
    [
        ({"train": 3, "valid": 1, "test": 2}, {}, "splits hold 3 / 1 / 2 images (6)"),
        ({"train": 3, "valid": 1, "test": 1}, {"drop": "Smiling"}, "lacks 1 of the 40 attribute"),
        ({"train": 3, "valid": 1, "test": 1}, {"image_size": (64, 64)}, "is 64x64, not the"),
        (
            {"train": 3, "valid": 1, "test": 1},
            {"names": ["000001.jpg", "000002.jpg", "000005.jpg", "000004.jpg", "000003.jpg"]},
            "train split is not the official partition",
        ),
    ],
)
def test_a_mirror_failing_a_check_is_refused_and_nothing_placed(
    monkeypatch, tmp_path, small_celeba, counts, kwargs, why
):
    mirror, _ = build_mirror(tmp_path, counts, **kwargs)
    with serve(FileServer(html={"uc": QUOTA})) as srv:
        register(monkeypatch, celeba_source(srv, mirror, {}))
        root = tmp_path / "root"
        with pytest.raises(PIADError) as info:
            fetch(["celeba"], root, progress=False)
    message = str(info.value)
    assert "\n" not in message and why in message
    assert "Quota exceeded" in message  # the official failure is named too
    assert "refused" in message and "nothing was placed" in message
    assert not (root / "celeba" / "img_align_celeba").exists()
    assert not (root / "celeba" / "list_attr_celeba.txt").exists()
    assert not list((root / "celeba").glob(".piad-*")) and not (root / ".piad-hf-cache").exists()


def test_mirror_must_agree_with_the_official_tables_already_fetched(
    monkeypatch, tmp_path, small_celeba
):
    mirror, attributes = build_mirror(tmp_path, small_celeba)
    names = [f"{k:06d}.jpg" for k in range(1, 6)]
    attr_text, part_text = format_tables(names, attributes, np.array([0, 0, 0, 1, 2]))
    tables = {
        "list_attr_celeba.txt": attr_text.encode(),
        "list_eval_partition.txt": part_text.encode(),
    }
    with serve(FileServer(html={"uc": QUOTA}, files=tables)) as srv:
        register(monkeypatch, celeba_source(srv, mirror, tables))
        root = tmp_path / "good"
        fetch(["celeba"], root, progress=False)
        assert (root / "celeba" / "list_attr_celeba.txt").read_bytes() == tables[
            "list_attr_celeba.txt"
        ]
        flipped = attributes.copy()
        flipped[2, ATTRS.index("Smiling")] *= -1
        bad_text, _ = format_tables(names, flipped, np.array([0, 0, 0, 1, 2]))
        bad = dict(tables, **{"list_attr_celeba.txt": bad_text.encode()})
        srv.files.update(bad)
        register(monkeypatch, celeba_source(srv, mirror, bad))
        with pytest.raises(PIADError, match=r"attributes differ .* \(first: 000003.jpg Smiling\)"):
            fetch(["celeba"], tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad" / "celeba" / "img_align_celeba").exists()


def test_tables_round_trip_in_the_official_format(tmp_path, small_celeba):
    names = ["000001.jpg", "000002.jpg"]
    attributes = np.array([[1, -1] * 20, [-1, 1] * 20], dtype=np.int8)
    attr_text, part_text = format_tables(names, attributes, np.array([0, 2]))
    lines = attr_text.splitlines()
    assert lines[0] == "2" and lines[1].split() == list(ATTRS)
    assert lines[2].startswith("000001.jpg  1 -1  1 -1")
    assert part_text == "000001.jpg 0\n000002.jpg 2\n"
    (tmp_path / "list_attr_celeba.txt").write_text(attr_text)
    (tmp_path / "list_eval_partition.txt").write_text(part_text)
    got_names, got_attrs, codes = parse_tables(tmp_path)
    assert got_names == names and np.array_equal(got_attrs, attributes)
    assert codes.tolist() == [0, 2]


# --------------------------------------------------------------------------- names, tables


def test_official_names_number_the_partitions_contiguously(small_celeba):
    assert official_names() == {
        "train": ["000001.jpg", "000002.jpg", "000003.jpg"],
        "valid": ["000004.jpg"],
        "test": ["000005.jpg"],
    }


def test_parse_tables_refuses_a_wrong_header_and_missing_files(tmp_path):
    with pytest.raises(PIADError, match="cannot read the CelebA tables in"):
        parse_tables(tmp_path)
    attr_text, part_text = format_tables(["000001.jpg"], np.ones((1, 40), np.int8), np.array([0]))
    (tmp_path / "list_attr_celeba.txt").write_text(attr_text.replace("Young", "Old"))
    (tmp_path / "list_eval_partition.txt").write_text(part_text)
    with pytest.raises(PIADError, match=r"list_attr_celeba\.txt does not list the 40 CelebA"):
        parse_tables(tmp_path)


def test_a_mirror_without_an_official_partition_is_refused(tmp_path, small_celeba):
    mirror, _ = build_mirror(tmp_path, small_celeba)
    partial = dataclasses.replace(mirror, splits={"train": "train", "test": "test"})
    with pytest.raises(MirrorRefused) as info:
        convert_celeba(partial, tmp_path / "root", progress=False)
    assert str(info.value) == (
        "CelebA mirror parquet refused: it has no split for the official valid partition; "
        "nothing was placed"
    )
    assert not (tmp_path / "root" / "celeba").exists()


def test_annotation_files_of_the_mirror_must_have_the_official_md5(tmp_path, small_celeba):
    mirror, _ = build_mirror(tmp_path, small_celeba)
    fake = tmp_path / "list_eval_partition.txt"
    fake.write_text("000001.jpg 0\n")
    kept = dataclasses.replace(mirror, annotation_files={"list_eval_partition.txt": str(fake)})
    with pytest.raises(MirrorRefused) as info:
        convert_celeba(kept, tmp_path / "root", progress=False)
    official = sources.celeba_official_md5("list_eval_partition.txt")
    assert f"its list_eval_partition.txt has md5 {md5(fake.read_bytes())}" in str(info.value)
    assert f"the official {official}" in str(info.value)
    assert not (tmp_path / "root" / "celeba" / "img_align_celeba").exists()
    assert not (tmp_path / "root" / ".piad-hf-cache").exists()


def test_a_refused_mirror_leaves_no_parquet_copy(tmp_path, small_celeba):
    mirror, _ = build_mirror(tmp_path, small_celeba)
    partial = dataclasses.replace(mirror, splits={"train": "train", "test": "test"})
    with pytest.raises(MirrorRefused):
        convert_celeba(partial, tmp_path / "root", progress=False)
    assert not (tmp_path / "root" / ".piad-hf-cache").exists()
