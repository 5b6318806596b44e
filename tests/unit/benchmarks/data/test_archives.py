"""benchmarks/data/archives.py: an archive is unpacked all or nothing: its expected entries are
placed (replacing, never merging), and a damaged, unsafe or wrong archive raises one line and
leaves the destination as it was."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from benchmarks.data.archives import STAGING_PREFIX, extract, remove_stale_staging
from piad.errors import PIADError


def zip_file(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def tar_file(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes); hidden staging folders included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_zip_outputs_are_placed_and_other_entries_dropped(tmp_path):
    archive = zip_file(
        tmp_path / "a.zip",
        {"coil-100/obj1__0.png": b"one", "coil-100/obj1__5.png": b"two", "readme.txt": b"x"},
    )
    dest = tmp_path / "root"
    assert extract(archive, "zip", dest, ["coil-100"]) == [dest / "coil-100"]
    assert tree(dest) == {"coil-100/obj1__0.png": b"one", "coil-100/obj1__5.png": b"two"}


def test_tar_output_replaces_the_old_folder_instead_of_merging(tmp_path):
    dest = tmp_path / "root"
    (dest / "batches").mkdir(parents=True)
    (dest / "batches" / "stale.bin").write_bytes(b"old")
    (dest / "batches" / "a.bin").write_bytes(b"old a")
    archive = tar_file(tmp_path / "b.tar.gz", {"batches/a.bin": b"new a", "batches/b.bin": b"b"})
    seen: list[dict[str, bytes]] = []
    placed = extract(archive, "tar.gz", dest, ["batches"], verify=lambda s: seen.append(tree(s)))
    assert placed == [dest / "batches"]
    assert tree(dest) == {"batches/a.bin": b"new a", "batches/b.bin": b"b"}
    assert seen == [{"batches/a.bin": b"new a", "batches/b.bin": b"b"}]  # verified staged


def keep_old(dest: Path) -> None:
    (dest / "out").mkdir(parents=True)
    (dest / "out" / "kept.bin").write_bytes(b"kept")


@pytest.mark.parametrize(
    ("kind", "members", "links", "message"),
    [
        (
            "zip",
            {"out/a": b"a", "../evil": b"e"},
            None,
            "a.zip has an unsafe member path '../evil'",
        ),
        ("tar.gz", {"/etc/evil": b"e"}, None, "a.tar.gz has an unsafe member '/etc/evil'"),
        ("tar.gz", {"out/a": b"a"}, {"out/link": "/etc/passwd"}, "has an unsafe member 'out/link'"),
        ("zip", {"other/a": b"a"}, None, "a.zip does not contain out"),
    ],
)
def test_unsafe_or_wrong_archives_place_nothing(tmp_path, kind, members, links, message):
    name = "a.zip" if kind == "zip" else "a.tar.gz"
    if kind == "zip":
        archive = zip_file(tmp_path / name, members)
    else:
        archive = tar_file(tmp_path / name, members, links)
    dest = tmp_path / "root"
    keep_old(dest)
    with pytest.raises(PIADError) as info:
        extract(archive, kind, dest, ["out"])
    assert message in str(info.value) and "\n" not in str(info.value)
    assert tree(dest) == {"out/kept.bin": b"kept"}  # no staging folder left either
    assert not (tmp_path / "evil").exists()


def test_a_truncated_archive_is_named_damaged(tmp_path):
    whole = zip_file(tmp_path / "whole.zip", {"out/a.bin": bytes(range(256)) * 40}).read_bytes()
    archive = tmp_path / "cut.zip"
    archive.write_bytes(whole[: len(whole) // 2])
    dest = tmp_path / "root"
    keep_old(dest)
    with pytest.raises(PIADError) as info:
        extract(archive, "zip", dest, ["out"])
    message = str(info.value)
    assert message.startswith("cannot extract cut.zip: ")
    assert message.endswith("; the archive is damaged or truncated") and "\n" not in message
    assert tree(dest) == {"out/kept.bin": b"kept"}


def test_a_failed_check_names_the_archive_and_places_nothing(tmp_path):
    archive = zip_file(tmp_path / "a.zip", {"out/a.bin": b"a"})
    dest = tmp_path / "root"
    keep_old(dest)

    def refuse(staging: Path) -> None:
        raise PIADError(f"out/ holds {len(list((staging / 'out').iterdir()))} files, expected 2")

    with pytest.raises(
        PIADError, match=r"^a\.zip unpacks wrongly: out/ holds 1 files, expected 2$"
    ):
        extract(archive, "zip", dest, ["out"], verify=refuse)
    assert tree(dest) == {"out/kept.bin": b"kept"}


def test_an_unknown_kind_is_refused(tmp_path):
    archive = zip_file(tmp_path / "a.zip", {"out/a": b"a"})
    with pytest.raises(PIADError, match=r"unknown archive kind 'rar'; use zip or tar\.gz"):
        extract(archive, "rar", tmp_path / "root", ["out"])
    assert list((tmp_path / "root").iterdir()) == []


def test_stale_staging_folders_are_removed_and_nothing_else(tmp_path):
    (tmp_path / f"{STAGING_PREFIX}dead1" / "half").mkdir(parents=True)
    (tmp_path / f"{STAGING_PREFIX}dead2").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "file.txt").write_text("x")
    remove_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "file.txt"]
    remove_stale_staging(tmp_path / "absent")  # no folder: nothing to do, no error
