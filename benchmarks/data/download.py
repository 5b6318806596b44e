"""Resumable HTTP(S) download of one file, verified before it gets its final name.

The bytes go to ``<name>.part`` next to the destination. A download that stops (killed,
connection reset, timeout) leaves the part file, and the next call asks the server for the
rest with an HTTP ``Range: bytes=N-`` request; a server that ignores it (``200`` instead of
``206``) is read again from the start. Only when the size and the checksum pass does the part
file become the destination, by an atomic rename: a partial or wrong file never carries the
final name. URLs are tried in order (official first, then mirrors).

An HTML page where a data file was expected (Google Drive's "virus scan" confirmation or its
"quota exceeded" answer, a captive portal, a login page) is never taken for data: a
confirmation form is followed once, anything else makes that URL fail.

Only the standard library's :mod:`urllib` is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin

from benchmarks.data.source_types import Checksum
from piad.errors import MissingInputError, PIADError, one_line

USER_AGENT = "piad-suite-fetch/1 (python urllib)"
CHUNK = 1 << 20
HTML_SNIFF = 1 << 20  # read at most this much of an HTML answer


@dataclass(frozen=True)
class Downloaded:
    """A verified file now at ``path``: its size, digest (``algorithm``) and the URL used."""

    path: Path
    url: str
    size: int
    algorithm: str
    hexdigest: str


class SourceFailed(Exception):
    """This URL cannot give the file (refused, HTTP error, HTML page); try the next one."""


class Dropped(Exception):
    """The transfer stopped part-way; the part file holds what arrived."""


class _Follow(Exception):
    """A confirmation page pointing to the real download URL."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class ChecksumMismatch(PIADError):
    """The downloaded bytes are not the expected file (size or checksum)."""


# --------------------------------------------------------------------------- HTML answers


class _FormParser(HTMLParser):
    """The title, the download form's action and its hidden inputs of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.action: str | None = None
        self.inputs: dict[str, str] = {}
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name") and values.get("type", "hidden") == "hidden":
            self.inputs[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a body are an HTML document."""
    text = head[:512].lstrip().lower()
    return text.startswith((b"<!doctype html", b"<html"))


def html_answer(body: bytes, url: str) -> NoReturn:
    """Raise _Follow to Google Drive's confirmation URL if the page has one, else SourceFailed."""
    page = _FormParser()
    try:
        page.feed(body.decode("utf-8", errors="replace"))
    except Exception:  # a broken page is still an HTML page, not data
        page.title = page.title or "unparsable page"
    if page.action is not None and "confirm" in page.inputs:
        target = urljoin(url, page.action)
        sep = "&" if "?" in target else "?"
        raise _Follow(f"{target}{sep}{urlencode(page.inputs)}")
    title = " ".join(page.title.split()) or "untitled"
    text = body.decode("utf-8", errors="replace").lower()
    why = (
        "Google Drive's download quota is exceeded; try again in a day"
        if "quota" in text or "too many users" in text
        else "not the file"
    )
    raise SourceFailed(f"answered with an HTML page ({title!r}: {why})")


# --------------------------------------------------------------------------- one transfer


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``"bytes 100-199/1000"`` -> (100, 1000); ``"bytes */1000"`` -> (None, 1000)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    start = int(m[1]) if m[1] is not None else None
    total = int(m[2]) if m[2] != "*" else None
    return start, total


def _progress_bar(desc: str, total: int | None, initial: int, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not enabled,
        file=sys.stderr,
        leave=True,
    )


def _transfer(
    url: str,
    part: Path,
    size: int | None,
    *,
    desc: str,
    progress: bool,
    timeout: float,
) -> None:
    """Bring ``part`` to the full file from ``url``, resuming from its current length.

    Raises :class:`SourceFailed` (this URL cannot serve it), :class:`Dropped` (stopped
    part-way, ``part`` keeps the bytes) or :class:`_Follow` (a confirmation page).
    """
    offset = _resume_offset(part, size)
    if size is not None and offset == size:
        return
    response = _open(url, part, size, offset, desc=desc, progress=progress, timeout=timeout)
    if response is None:
        return
    with response:
        first = _first_bytes(response, url, offset)
        plan = _body_plan(response, offset)
        if plan is None:  # not the bytes we asked for: start again from zero
            response.close()
            part.unlink()
            return _transfer(url, part, size, desc=desc, progress=progress, timeout=timeout)
        offset, mode, total = plan
        if size is not None and total is not None and total != size:
            if part.exists():
                part.unlink()
            raise SourceFailed(f"the server offers {total} bytes, expected {size}")
        received = _write_body(
            response, first, part, mode, offset, desc=desc, total=total or size, progress=progress
        )
    expected = total if total is not None else size
    if expected is not None and received < expected:
        raise Dropped(f"connection closed after {received} of {expected} bytes")


def _resume_offset(part: Path, size: int | None) -> int:
    """Bytes already in ``part``; a part longer than the expected size is deleted (0)."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    return offset


def _open(
    url: str,
    part: Path,
    size: int | None,
    offset: int,
    *,
    desc: str,
    progress: bool,
    timeout: float,
) -> Any:
    """The response to a GET of ``url`` from ``offset`` on; ``None`` once nothing is left to do.

    A ``416`` answer to a resumption means ``part`` is complete (``None``) or not a prefix of
    the file (deleted, and the transfer starts again from zero before ``None`` is returned).
    """
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # our part is at least as long as the file
            _, total = _content_range(err.headers.get("Content-Range"))
            if total == offset:
                return None
            part.unlink()  # longer than the file: not a prefix of it, start again
            _transfer(url, part, size, desc=desc, progress=progress, timeout=timeout)
            return None
        raise SourceFailed(f"HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        text = one_line(reason) if isinstance(reason, BaseException) else str(reason)
        raise SourceFailed(f"cannot connect ({text})") from err


def _first_bytes(response: Any, url: str, offset: int) -> bytes:
    """The body's first bytes; an HTML answer raises (:func:`html_answer`) instead."""
    status = response.status
    content_type = response.headers.get("Content-Type", "").lower()
    try:
        first: bytes = response.read(min(CHUNK, 4096))
    except (OSError, http.client.HTTPException) as err:
        raise Dropped(f"connection lost ({one_line(err)})") from err
    if "text/html" in content_type or ((not offset or status == 200) and looks_like_html(first)):
        html_answer(first + response.read(HTML_SNIFF), url)
    return first


def _body_plan(response: Any, offset: int) -> tuple[int, str, int | None] | None:
    """(offset, file mode, total size) to write the body with; ``None``: a wrong range."""
    if offset and response.status == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start != offset:
            return None
        return offset, "ab", total
    # 200: a fresh download, or a server that ignores Range: start again
    length = response.headers.get("Content-Length")
    return 0, "wb", int(length) if length and length.isdigit() else None


def _write_body(
    response: Any,
    first: bytes,
    part: Path,
    mode: str,
    offset: int,
    *,
    desc: str,
    total: int | None,
    progress: bool,
) -> int:
    """Write ``first`` and the rest of the body to ``part`` (synced); the length reached."""
    received = offset
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, mode) as out, _progress_bar(desc, total, offset, progress) as bar:
        try:
            chunk = first
            while chunk:
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                chunk = response.read(CHUNK)
        except (OSError, http.client.HTTPException) as err:
            raise Dropped(f"connection lost after {received} bytes ({one_line(err)})") from err
        finally:
            out.flush()
            os.fsync(out.fileno())
    return received


# --------------------------------------------------------------------------- public


def part_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` collect until it is verified: ``<dest>.part``."""
    return dest.with_name(dest.name + ".part")


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    *,
    checksum: Checksum | None = None,
    size: int | None = None,
    checksum_origin: str = "published",
    accept: Callable[[Path], None] | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 2,
    retry_wait: float = 1.0,
) -> Downloaded:
    """Download ``dest`` from the first of ``urls`` that serves it; verify; place atomically.

    Args:
        urls: where to get the file, tried in order.
        dest: the final path; it appears only once size and checksum pass.
        checksum: the expected digest (``None``: compute sha256 for the caller to record).
        size: the expected size in bytes, where known.
        checksum_origin: where ``checksum`` comes from, for the mismatch message
            (``"published"``, or ``"recorded in <lock file> on <date>"``).
        accept: a last check of the verified part file (e.g. "is a readable zip"); a
            :class:`PIADError` from it deletes the part file and is raised, naming the file.
        progress: show a progress bar per file on stderr.
        timeout: seconds of silence before a connection counts as lost.
        retries: immediate resumptions of a transfer that stopped part-way, per URL.
        retry_wait: seconds between those resumptions.

    Raises:
        MissingInputError: no URL could serve the file (network down, server gone,
            HTTP error, HTML page); a partial download stays in ``<dest>.part``.
        ChecksumMismatch: the bytes are not the expected file; the part file is deleted.
    """
    dest = Path(dest)
    part = part_path(dest)
    algorithm = checksum.algorithm if checksum else "sha256"
    failures: list[str] = []
    mismatch: ChecksumMismatch | None = None
    dest.parent.mkdir(parents=True, exist_ok=True)
    for url in urls:
        target = _transfer_from(
            url, part, size, dest.name, failures, progress, timeout, retries, retry_wait
        )
        if not target:
            continue
        got_size = part.stat().st_size
        got = _digest(part, algorithm)
        problem = _problem(got_size, got, size, checksum, algorithm, checksum_origin)
        if problem is None:
            _accept(part, dest, target, accept)
            os.replace(part, dest)
            _fsync_dir(dest.parent)
            return Downloaded(dest, target, got_size, algorithm, got)
        part.unlink()
        mismatch = _mismatch(dest, target, problem)
        failures.append(f"{target}: wrong {problem.split(' ', 1)[0]}")
    _give_up(dest, part, failures, mismatch)


def _transfer_from(
    url: str,
    part: Path,
    size: int | None,
    desc: str,
    failures: list[str],
    progress: bool,
    timeout: float,
    retries: int,
    retry_wait: float,
) -> str:
    """The URL that brought ``part`` to full length from ``url``, else "" (why in ``failures``).

    Follows at most two confirmation pages and resumes a dropped transfer ``retries`` times.
    """
    target, follows, attempt = url, 0, 0
    while True:
        try:
            _transfer(target, part, size, desc=desc, progress=progress, timeout=timeout)
            return target
        except _Follow as jump:
            follows += 1
            if follows > 2:
                failures.append(f"{url}: confirmation pages without end")
                return ""
            target = jump.url
        except Dropped as err:
            attempt += 1
            if attempt > retries:
                failures.append(f"{target}: {err}")
                return ""
            time.sleep(retry_wait)
        except SourceFailed as err:
            failures.append(f"{target}: {err}")
            return ""


def _problem(
    got_size: int,
    got: str,
    size: int | None,
    checksum: Checksum | None,
    algorithm: str,
    checksum_origin: str,
) -> str | None:
    """What is wrong with the received bytes (size, then checksum); ``None`` if nothing."""
    if size is not None and got_size != size:
        return f"size (expected {size} bytes, got {got_size})"
    if checksum is not None and got != checksum.hexdigest:
        return f"{algorithm} ({checksum_origin}: expected {checksum.hexdigest}, got {got})"
    return None


def _mismatch(dest: Path, target: str, problem: str) -> ChecksumMismatch:
    """The error for bytes from ``target`` that fail their ``problem`` (size or checksum)."""
    return ChecksumMismatch(
        f"{dest.name} from {target} fails its {problem}; the download was deleted and "
        "nothing was placed: run the fetch again, and if it fails again the source has "
        "changed, so check it before trusting it"
    )


def _accept(part: Path, dest: Path, target: str, accept: Callable[[Path], None] | None) -> None:
    """The caller's last check of the verified part file; a refusal deletes it and raises."""
    if accept is None:
        return
    try:
        accept(part)
    except PIADError as err:
        part.unlink()
        raise PIADError(
            f"{dest.name} from {target} is refused: {err}; the download was deleted "
            "and nothing was placed"
        ) from err


def _give_up(
    dest: Path, part: Path, failures: list[str], mismatch: ChecksumMismatch | None
) -> NoReturn:
    """Raise the error of a download no URL could give (a lone mismatch as it is)."""
    if mismatch is not None and len(failures) == 1:
        raise mismatch
    kept = part.stat().st_size if part.exists() else 0
    resume = f"; the {kept} bytes received are kept in {part} and resume" if kept else ""
    error_type = ChecksumMismatch if mismatch is not None else MissingInputError
    raise error_type(
        f"cannot download {dest.name}: "
        + "; ".join(failures)
        + resume
        + "; check the connection (or the URL) and run the same command again"
    )


def remote_size(url: str, timeout: float = 10.0) -> int | None:
    """The size the server states for ``url`` (HEAD request), or ``None`` if unknown."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
        return None
    return int(length) if length and length.isdigit() else None
