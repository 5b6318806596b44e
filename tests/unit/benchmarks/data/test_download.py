"""Resumable download against a real HTTP server on 127.0.0.1 (offline)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from fetch_server import FileServer, closed_port, serve

from benchmarks.data.download import (
    ChecksumMismatch,
    download,
    looks_like_html,
    part_path,
    remote_size,
)
from benchmarks.data.source_types import Checksum
from piad.errors import MissingInputError, PIADError

BLOB = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
MD5 = hashlib.md5(BLOB).hexdigest()
SHA = hashlib.sha256(BLOB).hexdigest()

QUOTA_PAGE = (
    b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>"
    b"<p>Too many users have viewed or downloaded this file recently. Please try accessing "
    b"the file again later.</p></body></html>"
)


def test_download_verifies_places_and_shows_progress(tmp_path: Path, capsys) -> None:
    with serve(FileServer(files={"blob.bin": BLOB})) as srv:
        got = download([srv.url("blob.bin")], tmp_path / "blob.bin", checksum=Checksum("md5", MD5))
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert not part_path(tmp_path / "blob.bin").exists()
    assert (got.size, got.algorithm, got.hexdigest) == (len(BLOB), "md5", MD5)
    err = capsys.readouterr().err
    assert "blob.bin" in err and "100%" in err  # tqdm's bar, on stderr


def test_no_progress_bar_when_disabled(tmp_path: Path, capsys) -> None:
    with serve(FileServer(files={"blob.bin": BLOB})) as srv:
        got = download([srv.url("blob.bin")], tmp_path / "b", progress=False)
    assert got.hexdigest == SHA  # no checksum given: sha256 computed for the caller to record
    assert capsys.readouterr().err == ""


def test_killed_transfer_resumes_with_range_never_from_zero(tmp_path: Path) -> None:
    dest = tmp_path / "blob.bin"
    srv = FileServer(files={"blob.bin": BLOB}, drop_after={"blob.bin": 100_000})
    with serve(srv):
        with pytest.raises(MissingInputError) as info:
            download([srv.url("blob.bin")], dest, checksum=Checksum("md5", MD5), retries=0)
        message = str(info.value)
        assert srv.url("blob.bin") in message and "\n" not in message
        assert not dest.exists()  # a partial file never carries the final name
        assert part_path(dest).stat().st_size == 100_000
        download([srv.url("blob.bin")], dest, checksum=Checksum("md5", MD5), progress=False)
    gets = srv.gets("blob.bin")
    assert [r.range for r in gets] == [None, "bytes=100000-"]
    assert dest.read_bytes() == BLOB and not part_path(dest).exists()


def test_dropped_connection_is_resumed_within_one_call(tmp_path: Path) -> None:
    srv = FileServer(files={"blob.bin": BLOB}, drop_after={"blob.bin": 70_000})
    with serve(srv):
        download(
            [srv.url("blob.bin")],
            tmp_path / "blob.bin",
            checksum=Checksum("sha256", SHA),
            retries=1,
            retry_wait=0,
            progress=False,
        )
    assert [r.range for r in srv.gets()] == [None, "bytes=70000-"]
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path) -> None:
    dest = tmp_path / "blob.bin"
    part_path(dest).write_bytes(b"x" * 1000)  # not even a prefix of the file
    srv = FileServer(files={"blob.bin": BLOB}, ignore_range={"blob.bin"})
    with serve(srv):
        download([srv.url("blob.bin")], dest, checksum=Checksum("md5", MD5), progress=False)
    assert [r.range for r in srv.gets()] == ["bytes=1000-"]  # asked to resume, got a 200
    assert dest.read_bytes() == BLOB


def test_complete_part_file_is_verified_without_download(tmp_path: Path) -> None:
    dest = tmp_path / "blob.bin"
    part_path(dest).write_bytes(BLOB)
    srv = FileServer(files={"blob.bin": BLOB})
    with serve(srv):  # size unknown: the server answers 416 "bytes */300000"
        download([srv.url("blob.bin")], dest, checksum=Checksum("md5", MD5), progress=False)
    assert [r.range for r in srv.gets()] == [f"bytes={len(BLOB)}-"]
    assert dest.read_bytes() == BLOB


def test_checksum_mismatch_refuses_and_deletes_the_part(tmp_path: Path) -> None:
    dest = tmp_path / "blob.bin"
    wrong = "0" * 32
    with (
        serve(FileServer(files={"blob.bin": BLOB})) as srv,
        pytest.raises(ChecksumMismatch) as info,
    ):
        download([srv.url("blob.bin")], dest, checksum=Checksum("md5", wrong), progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "blob.bin" in message and f"expected {wrong}" in message and f"got {MD5}" in message
    assert "run the fetch again" in message
    assert not dest.exists() and not part_path(dest).exists()


def test_wrong_size_is_refused(tmp_path: Path) -> None:
    with (
        serve(FileServer(files={"blob.bin": BLOB})) as srv,
        pytest.raises(PIADError, match="offers 300000 bytes, expected 1234"),
    ):
        download([srv.url("blob.bin")], tmp_path / "b", size=1234, progress=False)
    assert not (tmp_path / "b").exists() and not part_path(tmp_path / "b").exists()


def test_server_gone_names_the_url_and_keeps_the_part(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/blob.bin"
    dest = tmp_path / "blob.bin"
    part_path(dest).write_bytes(BLOB[:5000])
    with pytest.raises(MissingInputError) as info:
        download([url], dest, progress=False)
    message = str(info.value)
    assert url in message and "refused" in message.lower() and "\n" not in message
    assert "5000 bytes received are kept" in message
    assert part_path(dest).read_bytes() == BLOB[:5000] and not dest.exists()


def test_timeout_is_a_missing_input_naming_the_url(tmp_path: Path) -> None:
    srv = FileServer(files={"slow.bin": BLOB}, delay={"slow.bin": 1.5})
    with (
        serve(srv),
        pytest.raises(MissingInputError, match=r"127\.0\.0\.1.*slow\.bin.*timed out"),
    ):
        download([srv.url("slow.bin")], tmp_path / "slow.bin", timeout=0.3, progress=False)


def test_mirrors_are_tried_in_order(tmp_path: Path) -> None:
    with serve(FileServer(files={"mirror/blob.bin": BLOB})) as srv:
        urls = [srv.url("official/blob.bin"), srv.url("mirror/blob.bin")]
        got = download(urls, tmp_path / "blob.bin", checksum=Checksum("md5", MD5), progress=False)
    assert [r.path for r in srv.gets()] == ["official/blob.bin", "mirror/blob.bin"]
    assert got.url == urls[1]


def test_google_drive_quota_page_is_never_taken_for_data(tmp_path: Path) -> None:
    dest = tmp_path / "img_align_celeba.zip"
    with (
        serve(FileServer(html={"uc": QUOTA_PAGE})) as srv,
        pytest.raises(MissingInputError) as info,
    ):
        download([srv.url("uc?export=download&id=abc")], dest, progress=False)
    message = str(info.value)
    assert "HTML page" in message and "Quota exceeded" in message and "quota" in message
    assert not dest.exists() and not part_path(dest).exists()


def test_html_is_sniffed_even_without_its_content_type(tmp_path: Path) -> None:
    srv = FileServer(files={"f.zip": QUOTA_PAGE})  # served as application/octet-stream
    with serve(srv), pytest.raises(MissingInputError, match="HTML page"):
        download([srv.url("f.zip")], tmp_path / "f.zip", progress=False)
    assert looks_like_html(b"  <!doctype HTML>") and not looks_like_html(b"PK\x03\x04")


def test_google_drive_confirmation_form_is_followed(tmp_path: Path) -> None:
    form = (
        b"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
        b'<body><form id="download-form" action="/download" method="get">'
        b'<input type="hidden" name="id" value="abc"><input type="hidden" name="export" '
        b'value="download"><input type="hidden" name="confirm" value="t">'
        b'<input type="hidden" name="uuid" value="u-1"></form></body></html>'
    )
    srv = FileServer(html={"uc": form}, files={"download": BLOB})
    with serve(srv):
        download(
            [srv.url("uc?export=download&id=abc")],
            tmp_path / "big.zip",
            checksum=Checksum("md5", MD5),
            progress=False,
        )
    assert [r.path for r in srv.gets()] == [
        "uc?export=download&id=abc",
        "download?id=abc&export=download&confirm=t&uuid=u-1",
    ]
    assert (tmp_path / "big.zip").read_bytes() == BLOB


def test_accept_hook_refusal_places_nothing(tmp_path: Path) -> None:
    def refuse(path: Path) -> None:
        raise PIADError(f"{path.name} is not a zip")

    with (
        serve(FileServer(files={"blob.bin": BLOB})) as srv,
        pytest.raises(PIADError, match="not a zip"),
    ):
        download([srv.url("blob.bin")], tmp_path / "b.zip", accept=refuse, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_remote_size_from_head(tmp_path: Path) -> None:
    with serve(FileServer(files={"blob.bin": BLOB})) as srv:
        assert remote_size(srv.url("blob.bin")) == len(BLOB)
        assert remote_size(srv.url("nothing")) is None
        assert [r.method for r in srv.requests] == ["HEAD", "HEAD"]
    assert remote_size(f"http://127.0.0.1:{closed_port()}/x", timeout=1) is None
