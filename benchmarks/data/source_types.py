"""What the data catalogue is made of: a remote file, its checksum, how its archive unpacks,
a dataset's licence, the other places its loader looks, a Hub mirror, and a dataset's source.

The catalogue itself (every dataset's files, URLs and checksums) is
:mod:`benchmarks.data.sources`.

>>> f = RemoteFile("coil100", "coil-100.zip", ("http://example.org/coil-100.zip",), None,
...                extract=Extract("zip", "coil-100", ("coil-100",)))
>>> f.name, f.outputs
('coil-100.zip', ('coil-100/coil-100',))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from piad.errors import PIADError

# The four files of an MNIST-format dataset (plain or gzipped).
IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class Checksum:
    """A published (or recorded) digest of a file."""

    algorithm: str  # "md5" or "sha256"
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in ("md5", "sha256"):
            raise PIADError(f"unsupported checksum algorithm {self.algorithm!r}; use md5 or sha256")

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


@dataclass(frozen=True)
class Extract:
    """How a downloaded archive becomes the loader's layout.

    The archive is unpacked under ``<root>/<into>/`` into a staging folder; each of
    ``outputs`` (top-level entries, relative to ``into``) must be there and is then moved
    into place atomically. ``keep_archive=False`` deletes the archive once placed.
    """

    kind: str  # "zip" or "tar.gz"
    into: str
    outputs: tuple[str, ...]
    keep_archive: bool = False


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: where it lands under the root and where it comes from.

    ``checksum`` is ``None`` where no checksum is published: size and sha256 are then
    recorded on the first download. ``size_hint`` is an approximate size for messages
    (the confirmation of large downloads) where the exact size is not known in advance.
    ``verify_file`` checks the downloaded file before it gets its final name;
    ``verify_extracted`` checks an extracted folder (``<into>`` or its staging copy).
    """

    dataset: str
    path: str
    urls: tuple[str, ...]
    checksum: Checksum | None
    size: int | None = None
    size_hint: int | None = None
    extract: Extract | None = None
    verify_file: Callable[[Path], None] | None = field(default=None, compare=False)
    verify_extracted: Callable[[Path], None] | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """The file name, e.g. ``"coil-100.zip"``."""
        return PurePosixPath(self.path).name

    @property
    def outputs(self) -> tuple[str, ...]:
        """Paths under the root whose presence means this file is in place."""
        if self.extract is None:
            return (self.path,)
        return tuple(str(PurePosixPath(self.extract.into) / out) for out in self.extract.outputs)


@dataclass(frozen=True)
class Licence:
    """Terms of use in a few words, and where they are stated in full."""

    text: str
    url: str


@dataclass(frozen=True)
class Alternate:
    """Another place where the loader also finds the dataset (a hand-made or older copy)."""

    path: str  # relative to the root, or absolute
    kind: str  # "idx": the four MNIST-format files (plain or .gz); "dir": a folder

    def satisfied(self, root: Path) -> bool:
        where = Path(self.path) if Path(self.path).is_absolute() else root / self.path
        if self.kind == "idx":
            return all(
                (where / stem).is_file() or (where / f"{stem}.gz").is_file() for stem in IDX_STEMS
            )
        return where.is_dir() and any(where.iterdir())


@dataclass(frozen=True)
class HubMirror:
    """A Hugging Face Hub copy of a dataset, loaded through ``datasets`` at a pinned revision.

    ``splits`` maps the official partition names to the mirror's split names. For a local
    test mirror, ``path`` is a ``datasets`` builder (``"parquet"``) and ``data_files`` names the
    files. ``annotation_files`` maps official annotation files kept by the mirror (checked
    against their official md5) to their path in the mirror repository.
    """

    path: str
    name: str | None
    revision: str | None
    splits: Mapping[str, str]
    page: str
    data_files: Mapping[str, tuple[str, ...]] | None = None
    image_column: str = "image"
    annotation_files: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``"flwrlabs/celeba@2d738f5"``: the mirror and its pinned revision."""
        return f"{self.path}@{self.revision[:7]}" if self.revision else self.path


@dataclass(frozen=True)
class DatasetSource:
    """Everything needed to fetch one dataset into the loader's layout."""

    name: str
    files: tuple[RemoteFile, ...]
    licence: Licence
    layout: str
    alternates: tuple[Alternate, ...] = ()
    mirror: HubMirror | None = None
    needs: tuple[str, ...] = ()  # Python packages needed to read it
    builtin: Callable[[], str | None] | None = field(default=None, compare=False)

    @property
    def url(self) -> str:
        """The first URL of the first file (for messages)."""
        return self.files[0].urls[0] if self.files else self.licence.url


__all__ = [
    "IDX_STEMS",
    "Alternate",
    "Checksum",
    "DatasetSource",
    "Extract",
    "HubMirror",
    "Licence",
    "RemoteFile",
]
